"""The channels the app runs: adding one is its package and a line here."""

from __future__ import annotations

from bot import assisted, simulator
from bot.channels import Channel
from bot.line import channel as line
from bot.telegram import channel as telegram

CHANNELS: tuple[Channel, ...] = (
    simulator.SIMULATOR,
    assisted.ASSISTED,
    line.LINE,
    telegram.TELEGRAM,
)
