"""Assisted interviews: a coordinator answers for a respondent without a smartphone, through the
console, over the same engine. They are a channel of their own, whose page reads its messages
itself; a one-time code (bot/hand_over.py) later moves such a respondent onto their own phone."""

from __future__ import annotations

import uuid

from bot.channels import Channel
from bot.simulator import SimulatorConnection

CHANNEL = "assisted"


def new_identity() -> str:
    """The channel id of a new proxy respondent: theirs alone, and telling nothing."""
    return f"assisted-{uuid.uuid4().hex}"


ASSISTED = Channel(
    CHANNEL,
    # scheduled messages (a reminder, a nudge) are shown on the interview's page, for the
    # coordinator to pass on
    lambda config, shared: SimulatorConnection(shared),
    self_delivering=True,
)
