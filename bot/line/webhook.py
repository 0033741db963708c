"""POST /webhooks/line: verify LINE's signature, handle each event in order, answer at once.

Each event's effects are committed before the next is read; replies go out after commit, from a
background thread (and, should that fail, from the worker), so LINE's API never slows the answer.
The answer is 200 only when every event was stored: LINE redelivers a body answered otherwise,
and the events of it that did commit are recognised by their id and change nothing again.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    GroupSource,
    JoinEvent,
    MessageEvent,
    PostbackEvent,
    RoomSource,
    TextMessageContent,
    UnfollowEvent,
    UserSource,
)
from werkzeug.exceptions import HTTPException

from bot import postback
from bot.buttons import TappedButton, is_reference
from bot.line.render import read_more
from bot.runtime import Runtime, runtime
from bot.service import Inbound, NextPage, Turn, Unfollowed, note_group
from bot.storable import storable_id
from storage.db import UNAVAILABLE
from survey_flows.session import HelloInput, Input, OtherInput, TapInput, TextInput

blueprint = Blueprint("line", __name__)
log = logging.getLogger(__name__)

CHANNEL = "line"


@blueprint.post("/webhooks/line")
def webhook() -> tuple[str, int]:
    """Take a batch of LINE events; a missing or wrong signature changes nothing.

    503 when the database could not store an event (LINE redelivers the body), 500 when an
    event failed for another reason; the other events of the body are handled all the same.
    """
    rt = runtime()
    parser = getattr(rt.channels.get(CHANNEL), "parser", None)
    if parser is None:
        abort(503, "LINE is not configured (LINE_CHANNEL_SECRET)")
    events = _parse(parser)
    turns: dict[int, list[Turn]] = {}
    status = 200
    for event in events:
        try:
            turn = handle_event(rt, event)
        except UNAVAILABLE:
            # The events after it would wait for the same database in vain, past LINE's 2 s.
            log.exception("line event not stored", extra={"type": getattr(event, "type", "?")})
            status = 503
            break
        except Exception:  # one bad event must not cost the others in the same body
            log.exception("line event failed", extra={"type": getattr(event, "type", "?")})
            status = 500
            continue
        if turn is not None:
            turns.setdefault(turn.respondent_id, []).append(turn)
    for respondent_id, theirs in turns.items():
        rt.deliver_soon(
            respondent_id,
            [message for turn in theirs for message in turn.claimed],
            claim_more=any(not turn.claimed for turn in theirs),
        )
    return ("OK", 200) if status == 200 else ("try again", status)


def _parse(parser: WebhookParser) -> list[Event]:
    """The body's events, through the SDK's parser; 400 for a bad signature or body."""
    try:
        return parser.parse(
            request.get_data(as_text=True), request.headers.get("X-Line-Signature", "")
        )
    except HTTPException:  # 413: larger than MAX_CONTENT_LENGTH
        raise
    except InvalidSignatureError:
        log.warning("line webhook with a bad signature", extra={"ip": request.remote_addr})
        abort(400, "invalid signature")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        # not JSON, not LINE's shape, or nested deeper than the parser can follow
        abort(400, "malformed body")


def handle_event(rt: Runtime, event: Event) -> Turn | None:
    """Carry out one event; return the turn whose replies are to be sent, if any."""
    event_id = getattr(event, "webhook_event_id", None)
    event_id = storable_id(event_id) if isinstance(event_id, str) else None
    source = getattr(event, "source", None)
    if isinstance(source, GroupSource | RoomSource):
        return _note_group(rt, source, event, event_id)
    if not isinstance(source, UserSource) or not source.user_id:
        return None  # an event type we do not use: acknowledged, ignored
    given = _input_of(event)
    if given is None:
        return None
    token = getattr(event, "reply_token", None)
    return rt.handle(
        Inbound(CHANNEL, source.user_id, given, event_id=event_id, reply_token=token),
        send_now=True,
    )


def _input_of(event: Event) -> Input | TappedButton | NextPage | Unfollowed | None:
    """The input an event stands for; None for events we only acknowledge."""
    if isinstance(event, FollowEvent):
        return HelloInput()
    if isinstance(event, UnfollowEvent):
        return Unfollowed()
    if isinstance(event, PostbackEvent):
        data = event.postback.data
        if page := read_more(data):
            return NextPage(*page)
        if is_reference(data):
            return TappedButton(data)
        # a button sent before buttons went by reference carries its own data; data we did not
        # make counts as a button from a message that is no longer current
        return postback.decode(data) or TapInput("", "")
    if isinstance(event, MessageEvent):
        if isinstance(event.message, TextMessageContent):
            return TextInput(event.message.text)
        return OtherInput(str(getattr(event.message, "type", "other")))
    return None


def _note_group(rt: Runtime, source, event: Event, event_id: str | None) -> int | None:
    """In a group or room: say once that the survey works 1:1, and store nobody's messages."""
    group_id = getattr(source, "group_id", None) or getattr(source, "room_id", None)
    token = getattr(event, "reply_token", None)
    if not (group_id and token and isinstance(event, MessageEvent | JoinEvent)):
        return None
    if note_group(rt.db, CHANNEL, group_id, event_id, token, "line.group_note", rt.clock()):
        rt.deliver_soon(None)
    return None
