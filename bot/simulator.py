"""The web simulator: a LINE-like chat page that talks to the same service as the real channels."""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from bot import postback
from bot.runtime import runtime
from bot.service import Inbound
from storage.models import Respondent
from storage.outbox import messages_after
from survey_flows.session import HelloInput, Input, OtherInput, TapInput, TextInput

blueprint = Blueprint("simulator", __name__, url_prefix="/simulator")

#: Simulated respondent ids and message ids are made by the page; keep them short and plain
#: (together they must fit the 128 characters of an event id).
USER_ID = re.compile(r"[A-Za-z0-9_-]{1,63}")
CHANNEL = "web"


@blueprint.get("")
def page() -> str:
    """Serve the chat page."""
    return render_template("simulator.html")


@blueprint.post("/api/send")
def send() -> dict:
    """Take one message from a simulated respondent: text, a button's data, a sticker, or hello."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "expected a JSON object")
    user = _user_id(body.get("user"))
    message_id = body.get("id")
    # The page names each message, so a send retried after a lost response is handled once.
    event_id = (
        f"{user}:{message_id}"
        if isinstance(message_id, str) and USER_ID.fullmatch(message_id)
        else None
    )
    runtime().handle(Inbound(CHANNEL, user, _input_of(body), event_id=event_id))
    return {"ok": True}


@blueprint.get("/api/messages")
def messages() -> dict:
    """Return the bot's messages to a simulated respondent after a given id, oldest first."""
    user = _user_id(request.args.get("user"))
    after = request.args.get("after", "0")
    if not (after.isascii() and after.isdigit() and len(after) <= 18):
        abort(400, "after must be a message id")
    with runtime().read_db() as session:
        respondent = session.scalars(
            select(Respondent).where(
                Respondent.channel == CHANNEL, Respondent.channel_user_id == user
            )
        ).first()
        rows = messages_after(session, respondent.id, int(after)) if respondent else []
        return {
            "messages": [
                {"id": row.id, "at": row.created_at.isoformat(), **row.payload} for row in rows
            ]
        }


def _user_id(value: object) -> str:
    if not isinstance(value, str) or not USER_ID.fullmatch(value):
        abort(400, "user must be 1-63 letters, digits, '-' or '_'")
    return value


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
