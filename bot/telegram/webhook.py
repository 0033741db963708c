"""The Telegram webhook: updates in (authenticated by the secret token Telegram sends), parsed
with python-telegram-bot, handed to the service. Long polling (`flask telegram poll`) feeds the
same `handle_update`.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from flask import Blueprint, abort, request
from telegram import CallbackQuery, Update

from bot.buttons import TappedButton, is_reference
from bot.runtime import Runtime, runtime
from bot.service import Inbound, Refollowed, StartSurvey, Turn, Unfollowed, note_group
from bot.storable import storable
from bot.telegram.links import read_payload
from bot.telegram.render import answered_text
from storage.db import UNAVAILABLE
from survey_flows.session import HelloInput, Input, OtherInput, TapInput, TextInput
from survey_flows.workshop_chat import SHOW

if TYPE_CHECKING:
    from bot.telegram.channel import TelegramConnection

blueprint = Blueprint("telegram", __name__)
log = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: The bot's / menu (setMyCommands): each sends the Thai command word the engine knows.
MENU_COMMANDS = {
    "assessment": "ประเมิน",
    "workshops": "อบรม",
    "results": "ผลของฉัน",
    "mydata": "ข้อมูลของฉัน",
    "language": "ภาษา",
    "help": "ช่วยเหลือ",
}
#: Message kinds that are not text, as the engine names them in its re-prompt.
NOT_TEXT = ("photo", "sticker", "voice", "video", "audio", "document", "location", "contact")


@blueprint.post("/webhooks/telegram")
def webhook() -> tuple[str, int]:
    """Take one update; a missing or wrong secret token is refused and changes nothing.

    503 when Telegram is not set up or the database could not store the update (Telegram sends
    it again), 500 when it failed for another reason.
    """
    rt = runtime()
    connection: TelegramConnection | None = rt.channels.get(CHANNEL)  # type: ignore[assignment]
    if connection is None or not connection.secret:
        abort(503, "Telegram is not configured (TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET)")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), connection.secret.encode()):
        log.warning("telegram webhook with a wrong secret", extra={"ip": request.remote_addr})
        abort(403, "wrong secret token")
    body = request.get_json(silent=True)
    try:
        update = Update.de_json(body, None) if isinstance(body, dict) else None
    except Exception:  # any malformed field: PTB raises many kinds
        update = None
    if update is None:
        # From Telegram itself (the secret matched): a 4xx would only make it send this again.
        log.warning("telegram update not understood")
        return "ignored", 200
    try:
        turn = handle_update(rt, connection, update)
    except UNAVAILABLE:
        log.exception("telegram update not stored")
        return "try again", 503
    if turn is not None:
        rt.deliver_soon(turn.respondent_id, turn.claimed, claim_more=not turn.claimed)
    return "OK", 200


def handle_update(rt: Runtime, connection: TelegramConnection, update: Update) -> Turn | None:
    """Carry out one update; return the turn whose replies are to be sent, if any."""
    event_id = f"{connection.bot_id}:{update.update_id}"
    if update.my_chat_member is not None:
        chat = update.my_chat_member.chat
        if chat.type != "private":
            return None
        blocked = update.my_chat_member.new_chat_member.status in ("kicked", "left")
        given: Input | Unfollowed | Refollowed | TappedButton = (
            Unfollowed() if blocked else Refollowed()
        )
        return rt.handle(Inbound(CHANNEL, str(chat.id), given, event_id=event_id))
    if update.callback_query is not None:
        return _tapped(rt, connection, update.callback_query, event_id)
    message = update.message
    if message is None:  # edited messages, channel posts, reactions: nothing to answer
        return None
    if message.chat.type != "private":
        if note_group(
            rt.db, CHANNEL, str(message.chat.id), event_id, None, "telegram.group_note", rt.clock()
        ):
            rt.deliver_soon(None)
        return None
    return rt.handle(
        Inbound(CHANNEL, str(message.chat.id), _input_of(message), event_id=event_id),
        send_now=True,
    )


def _input_of(message) -> Input:
    """What a private message stands for: /start (with a deep link's payload), a / menu command,
    text, or something that is not text."""
    text = message.text
    if text is None:
        kind = next((k for k in NOT_TEXT if getattr(message, k, None)), "other")
        return OtherInput(kind)
    command, _, rest = text.strip().partition(" ")
    command = command.split("@", 1)[0]  # "/start@our_bot" as typed in some clients
    if command == "/start":
        link = read_payload(rest.strip()) if rest.strip() else None
        if link is None:
            return HelloInput()
        kind, value = link
        return StartSurvey(value) if kind == "keyword" else TapInput(SHOW, value)
    if command.startswith("/") and command[1:] in MENU_COMMANDS:
        return TextInput(MENU_COMMANDS[command[1:]])
    return TextInput(text)


def _tapped(
    rt: Runtime, connection: TelegramConnection, query: CallbackQuery, event_id: str
) -> Turn | None:
    """A tap on an inline button: stop the spinner, hand the tap to the service, and then take
    the buttons away, showing the choice if it was taken (so they cannot answer twice)."""
    connection.answer_tap(query.id)
    shown = query.message
    if shown is None or shown.chat.type != "private":
        return None  # a keyboard forwarded into a group, or an inline message: nobody's chat
    data = storable(query.data or "")
    tap = TappedButton(data) if is_reference(data) else TapInput("", "")
    inbound = Inbound(CHANNEL, str(query.from_user.id), tap, event_id=event_id)
    turn = rt.handle(inbound, send_now=True)
    if turn is not None and getattr(shown, "text", None) is not None:  # not a redelivery
        label = _label_of(shown, query.data or "")
        text = None if turn.stale_tap or not label else answered_text(shown.text, label)
        connection.show_answered(shown.chat.id, shown.message_id, text)
    return turn


def _label_of(message, data: str) -> str:
    """The text of the button with this data on the message, or "" if it is not there."""
    keyboard = getattr(message.reply_markup, "inline_keyboard", None) or ()
    return next((b.text for row in keyboard for b in row if b.callback_data == data), "")
