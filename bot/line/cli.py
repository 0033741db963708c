"""Commands for the LINE channel: flask --app bot line setup-richmenu."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from bot.line.richmenu import menu_image, setup_rich_menu
from bot.line.sender import LineApiError
from bot.line.webhook import CHANNEL
from bot.runtime import runtime


@click.group("line")
def line_group() -> None:
    """Set up the LINE Official Account."""


@line_group.command("setup-richmenu")
@click.option(
    "--save",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Only write the menu's PNG to this path, to look at; LINE is not called.",
)
@with_appcontext
def setup_richmenu_command(save: Path | None) -> None:
    """Create the rich menu and make it the default for every user."""
    if save is not None:
        save.write_bytes(menu_image())
        click.echo(f"wrote the rich menu image to {save}")
        return
    sender = getattr(runtime().channels.get(CHANNEL), "sender", None)
    if sender is None:
        raise click.ClickException(
            "LINE_CHANNEL_ACCESS_TOKEN is not set: set it to the channel's long-lived access "
            "token (LINE Developers console > Messaging API) and run this again"
        )
    try:
        menu_id = setup_rich_menu(sender)
    except LineApiError as error:
        raise click.ClickException(f"LINE refused the rich menu: {error}") from None
    click.echo(f"rich menu {menu_id} is now every user's default")
