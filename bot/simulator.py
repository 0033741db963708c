"""The web simulator: a LINE-like chat page that talks to the same service as the real channels.

Served only when SIMULATOR_ENABLED is on. A simulated respondent is whoever holds a token this
server issued: the page asks for one, keeps it, and sends it in the X-Simulator-Token header
(a header, not the URL, so it stays out of access logs). The database keeps only its hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, render_template, request
from sqlalchemy.orm import Session

from bot import postback
from bot.channels import Channel, Shared
from bot.delivery import Claimed, Outcome, Status
from bot.posters import ChatLink
from bot.runtime import runtime
from bot.service import Inbound
from storage.models import OutboxMessage, Respondent
from storage.outbox import add_messages, messages_after
from storage.respondents import find_respondent
from survey_flows.session import HelloInput, Input, OtherInput, TapInput, TextInput

blueprint = Blueprint("simulator", __name__, url_prefix="/simulator")

CHANNEL = "web"
#: The values of an on/off environment variable that mean on.
TRUTHY = frozenset({"1", "true", "yes"})
TOKEN_HEADER = "X-Simulator-Token"
#: Tokens are issued by secrets.token_urlsafe(32): 43 characters, 256 random bits.
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
#: The page names each message; with the respondent's identity (68 characters) and a colon it
#: must fit the 128 characters of an event id.
MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{1,59}")


@blueprint.get("")
def page() -> str:
    """Serve the chat page."""
    return render_template("simulator.html")


@blueprint.post("/api/respondents")
def new_respondent() -> tuple[dict, int]:
    """Issue a new simulated respondent: a secret token for this browser, and their row."""
    if not request.is_json:
        # Only a JSON request: a page on another site can post a form here unasked, but not
        # JSON without the browser first asking this server, which never allows it.
        abort(415, "expected a JSON request")
    return {"token": _issue_token()}, 201


def _issue_token() -> str:
    """A new simulated respondent's secret token, with their row."""
    token = secrets.token_urlsafe(32)
    rt = runtime()
    with rt.db.begin() as session:
        session.add(
            Respondent(
                channel=CHANNEL,
                channel_user_id=identity_of(token),
                profile={},
                is_test=True,  # a tester, not a respondent: kept out of exports
                created_at=rt.clock(),
            )
        )
    return token


@blueprint.post("/api/send")
def send() -> dict:
    """Take one message from a simulated respondent: text, a button's data, a sticker, or hello."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "expected a JSON object")
    with runtime().read_db() as session:
        user = _issued_respondent(session).channel_user_id
    message_id = body.get("id")
    # The page names each message, so a send retried after a lost response is handled once.
    event_id = (
        f"{user}:{message_id}"
        if isinstance(message_id, str) and MESSAGE_ID.fullmatch(message_id)
        else None
    )
    turn = runtime().handle(Inbound(CHANNEL, user, _input_of(body), event_id=event_id))
    if turn is not None and turn.farewell:
        # Erased at their request: the goodbye comes in this answer (it is stored nowhere),
        # with a new token, so whatever they type next comes from a stranger.
        return {"ok": True, "farewell": list(turn.farewell), "token": _issue_token()}
    return {"ok": True}


@blueprint.get("/api/messages")
def messages() -> dict:
    """Return the bot's messages to a simulated respondent after a given id, oldest first."""
    after = request.args.get("after", "0")
    if not (after.isascii() and after.isdigit() and len(after) <= 18):
        abort(400, "after must be a message id")
    with runtime().read_db() as session:
        rows = messages_after(session, _issued_respondent(session).id, int(after))
        return {
            "messages": [
                {"id": row.id, "at": row.created_at.isoformat(), **row.payload} for row in rows
            ]
        }


def identity_of(token: str) -> str:
    """The channel user id kept for a token: its SHA-256, so the database never holds the secret.

    A plain hash suffices: the token has 256 random bits, so there is nothing to guess from it.
    """
    return "sim-" + hashlib.sha256(token.encode()).hexdigest()


def _issued_respondent(session: Session) -> Respondent:
    """The respondent whose token the request carries; 403 unless this server issued it.

    403, not 404: the page forgets a respondent only when told so, never because the simulator
    happens to be switched off (which answers 404 for every path).
    """
    token = request.headers.get(TOKEN_HEADER, "")
    if not token:
        abort(400, f"send the respondent's token in {TOKEN_HEADER}")
    respondent = (
        find_respondent(session, CHANNEL, identity_of(token)) if TOKEN.fullmatch(token) else None
    )
    if respondent is None:
        abort(403, "this server issued no such token")
    return respondent


def _input_of(body: dict) -> Input:
    """Read the input a simulated respondent sent, the way a channel adapter would."""
    if body.get("hello"):
        return HelloInput()
    if isinstance(body.get("data"), str):
        # data we did not make is treated like a button from a message that is no longer current
        return postback.decode(body["data"]) or TapInput("", "")
    if isinstance(body.get("text"), str):
        return TextInput(body["text"])
    return OtherInput(str(body.get("kind") or "sticker"))


@dataclass(frozen=True)
class SimulatorConnection:
    """A page that reads sent messages itself, newest id last (the simulator's, and the
    assisted interview's)."""

    shared: Shared

    def deliver(self, batch: Sequence[Claimed], now: datetime) -> list[Outcome]:
        """Show scheduled messages (a reminder, a nudge) to the page.

        Such a message was written long before it falls due, so its id is older than what the
        page has seen: it is shown as a fresh copy, and the original marked sent.
        """
        with self.shared.db.begin() as session:
            for message in batch:
                original = session.get(OutboxMessage, message.id)
                add_messages(
                    session,
                    original.respondent_id,
                    message.channel,
                    message.address,
                    [message.payload],
                    now,
                    delivered=True,
                    kind=original.kind,
                )
        return [Outcome(message.id, Status.SENT) for message in batch]

    def chat_link(self, keyword: str | None, workshop_id: int | None) -> ChatLink | None:
        """No poster leads to the simulator: it is for trying the bot, not for respondents."""
        return None


def settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The simulator's one setting: off unless asked for, since anyone who reaches it can chat
    as a made-up respondent."""
    return {"SIMULATOR_ENABLED": environ.get("SIMULATOR_ENABLED", "").strip().lower() in TRUTHY}


SIMULATOR = Channel(
    CHANNEL,
    lambda config, shared: SimulatorConnection(shared),
    blueprint=blueprint,
    self_delivering=True,
    serves=lambda config: bool(config.get("SIMULATOR_ENABLED")),
    settings=settings,
)
