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
from bot.i18n import translate
from bot.line.render import read_more
from bot.runtime import Runtime, runtime
from bot.service import Inbound, Turn
from bot.storable import storable, storable_id
from storage.db import UNAVAILABLE
from storage.models import OutboxMessage, Respondent
from storage.outbox import enqueue, enqueue_to_group
from storage.respondents import claim_event, claim_group_told, get_or_create_respondent
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
    user_id = storable(source.user_id)
    if isinstance(event, UnfollowEvent):
        _set_reachable(rt, user_id, event_id, reachable=False)
        return None
    if isinstance(event, PostbackEvent) and (page := read_more(event.postback.data)):
        return _more_choices(rt, user_id, event_id, event.reply_token, *page)
    given = _input_of(event)
    if given is None:
        return None
    if isinstance(event, FollowEvent):
        _set_reachable(rt, user_id, None, reachable=True)
    return rt.handle(
        Inbound(CHANNEL, user_id, given, event_id=event_id, reply_token=event.reply_token),
        send_now=True,
    )


def _input_of(event: Event) -> Input | TappedButton | None:
    """The engine input an event stands for; None for events we only acknowledge."""
    if isinstance(event, FollowEvent):
        return HelloInput()
    if isinstance(event, PostbackEvent):
        data = event.postback.data
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


def _set_reachable(rt: Runtime, user_id: str, event_id: str | None, *, reachable: bool) -> None:
    """Unfollow: push nothing more (the data stays). Follow again: reachable once more."""
    now = rt.clock()
    with rt.db.begin() as session:
        if event_id and not claim_event(session, CHANNEL, event_id, now):
            return
        get_or_create_respondent(session, CHANNEL, user_id, now).reachable = reachable


def _note_group(rt: Runtime, source, event: Event, event_id: str | None) -> int | None:
    """In a group or room: say once that the survey works 1:1, and store nobody's messages."""
    group_id = getattr(source, "group_id", None) or getattr(source, "room_id", None)
    token = getattr(event, "reply_token", None)
    if not (group_id and token and isinstance(event, MessageEvent | JoinEvent)):
        return None
    now = rt.clock()
    with rt.db.begin() as session:
        if event_id and not claim_event(session, CHANNEL, event_id, now):
            return None
        # one note per group, ever: the group id is remembered like an event id
        if not claim_group_told(session, CHANNEL, storable(group_id), now):
            return None
        note = {"text": translate("line.group_note", "th"), "buttons": []}
        enqueue_to_group(session, CHANNEL, storable(group_id), note, now, storable(token))
    rt.deliver_soon(None)
    return None


def _more_choices(
    rt: Runtime, user_id: str, event_id: str | None, token: str | None, row_id: int, offset: int
) -> Turn | None:
    """ "ถัดไป" on a long list of choices: the same buttons again, from `offset`."""
    now = rt.clock()
    with rt.db.begin() as session:
        if event_id and not claim_event(session, CHANNEL, event_id, now):
            return None
        original = session.get(OutboxMessage, row_id)
        if original is None or original.address != user_id:
            return None
        respondent = session.get(Respondent, original.respondent_id)
        if respondent is None:
            return None
        payload = {
            "text": translate("line.more_choices", respondent.language),
            "buttons": original.payload.get("buttons", []),
            "offset": offset,
        }
        enqueue(session, respondent, [payload], now, reply_token=storable(token) if token else None)
        return Turn(respondent.id)
