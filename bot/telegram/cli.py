"""Commands for the Telegram channel: set-webhook, delete-webhook, poll (no public URL), link."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from telegram import BotCommand, Update
from telegram.error import TelegramError

from bot.runtime import runtime
from bot.telegram.webhook import CHANNEL, MENU_COMMANDS, handle_update

#: How long one long poll waits for an update before asking again.
POLL_SECONDS = 25
#: The updates the bot reads: messages, taps, and being blocked or unblocked.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
#: The / menu's descriptions, in each language Telegram shows them in.
MENU = {
    "th": {
        "assessment": "เริ่มแบบประเมิน",
        "workshops": "ดูหลักสูตรและรอบอบรม",
        "results": "ดูผลประเมินล่าสุด",
        "mydata": "ดูข้อมูลที่เราเก็บไว้",
        "language": "เปลี่ยนภาษา",
        "help": "วิธีใช้",
    },
    "en": {
        "assessment": "Start the self-assessment",
        "workshops": "See courses and workshops",
        "results": "See your latest results",
        "mydata": "See what we keep about you",
        "language": "Switch language",
        "help": "How to use the bot",
    },
}


def _connection():
    connection = runtime().channels.get(CHANNEL)
    if connection is None:
        raise click.ClickException(
            "TELEGRAM_BOT_TOKEN is not set: get one from @BotFather and run this again"
        )
    return connection


@click.group("telegram")
def telegram_group() -> None:
    """Set up the Telegram bot."""


@telegram_group.command("set-webhook")
@click.argument("url")
@with_appcontext
def set_webhook_command(url: str) -> None:
    """Point Telegram at URL (…/webhooks/telegram) with the secret, and set the / menu."""
    connection = _connection()
    if not connection.secret:
        raise click.ClickException("TELEGRAM_WEBHOOK_SECRET is not set: choose a long random one")
    try:
        connection.sender.call(
            lambda bot: bot.set_webhook(
                url, secret_token=connection.secret, allowed_updates=ALLOWED_UPDATES
            )
        )
        _set_menu(connection)
    except TelegramError as error:
        raise click.ClickException(f"Telegram refused: {error}") from None
    click.echo(f"Telegram now sends updates to {url}")


@telegram_group.command("delete-webhook")
@with_appcontext
def delete_webhook_command() -> None:
    """Stop Telegram sending updates to the webhook (to poll instead)."""
    try:
        _connection().sender.call(lambda bot: bot.delete_webhook())
    except TelegramError as error:
        raise click.ClickException(f"Telegram refused: {error}") from None
    click.echo("webhook deleted")


@telegram_group.command("poll")
@click.option("--once", is_flag=True, help="Take what is waiting and stop (for a quick check).")
@with_appcontext
def poll_command(once: bool) -> None:
    """Read updates by long polling, for trying the bot without a public URL."""
    rt, connection = runtime(), _connection()
    _set_menu(connection)
    offset = None
    while True:
        updates: tuple[Update, ...] = connection.sender.call(
            lambda bot, offset=offset: bot.get_updates(
                offset=offset, timeout=0 if once else POLL_SECONDS, allowed_updates=ALLOWED_UPDATES
            ),
            wait=POLL_SECONDS + 30,
        )
        for update in updates:
            turn = handle_update(rt, connection, update)
            if turn is not None:
                rt.deliver_soon(turn.respondent_id, turn.claimed, claim_more=not turn.claimed)
            offset = update.update_id + 1
        if once:
            click.echo(f"took {len(updates)} update(s)")
            return


def _set_menu(connection) -> None:
    """The / menu, in Thai and in English."""
    for language, descriptions in MENU.items():
        commands = [BotCommand(name, descriptions[name]) for name in MENU_COMMANDS]
        connection.sender.call(
            lambda bot, c=commands, lang=language: bot.set_my_commands(c, language_code=lang)
        )


@telegram_group.command("link")
@click.option("--keyword", help="A survey's keyword, e.g. ประเมิน.")
@click.option("--workshop", type=int, help="A workshop's id, for its sign-up.")
@with_appcontext
def link_command(keyword: str | None, workshop: int | None) -> None:
    """Print a t.me link (for a poster's QR code) that opens the chat at a survey or a workshop."""
    if (keyword is None) == (workshop is None):
        raise click.UsageError("give --keyword or --workshop")
    try:
        link = _connection().chat_link(keyword, workshop)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    except TelegramError as error:
        raise click.ClickException(f"Telegram refused: {error}") from None
    click.echo(link.url)
