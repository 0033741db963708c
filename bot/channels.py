"""Channels as plug-ins: a messaging platform is one package that describes itself here.

The rest of the shell asks a channel only what `Channel` names: its settings (read from the
environment), how to connect from the config (a `Connection`: its sender, its parser), its
webhook and its commands, and whether its client reads its own replies. bot/channel_list.py
names the channels the app runs, a line each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import click
from flask import Blueprint
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Claimed, Outcome
from bot.posters import ChatLink


@dataclass(frozen=True)
class Shared:
    """What a channel's connection may use of the app: the database, the clock, the stop sign."""

    db: sessionmaker[Session]
    clock: Callable[[], datetime]
    #: Set when the process is stopping: make no new call, and leave what is left.
    stopping: threading.Event


class Connection(Protocol):
    """A channel set up from the config, holding its own sender.

    It may also say how many of a broadcast's messages it takes at once (`broadcast_part`,
    else bot.delivery.BROADCAST_PART), and hold a client to `close()`.
    """

    def deliver(self, batch: Sequence[Claimed], now: datetime) -> list[Outcome]:
        """Send claimed messages, each chat's in order, and return their outcomes. It calls
        bot.delivery.note_try before each call, and may leave out messages whose claim it
        found lost."""
        ...

    def chat_link(self, keyword: str | None, workshop_id: int | None) -> ChatLink | None:
        """A link (for a poster's QR code) that opens the chat with this survey's keyword typed,
        or at this workshop's sign-up; None when the channel has none."""
        ...


@dataclass(frozen=True)
class Channel:
    """One messaging platform, as the shell needs to know it."""

    name: str
    #: Its connection when the config sets it up, else None (its webhook then answers 503).
    connect: Callable[[Mapping[str, Any], Shared], Connection | None]
    blueprint: Blueprint | None = None
    commands: click.Group | None = None
    #: The client reads its replies itself (the simulator): they are stored as already sent.
    self_delivering: bool = False
    #: Whether the config wants its pages served at all (else they answer 404).
    serves: Callable[[Mapping[str, Any]], bool] = lambda config: True
    #: Its config keys, with their values from the environment (os.environ); tests override them.
    settings: Callable[[Mapping[str, str]], dict[str, Any]] = lambda environ: {}
    #: Whether the config connects it to a platform whose users open links the bot sends (so the
    #: app must know its public address).
    sends_links: Callable[[Mapping[str, Any]], bool] = lambda config: False
