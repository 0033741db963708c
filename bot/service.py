"""The one place an inbound message becomes stored answers and outgoing messages, atomically."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.buttons import TappedButton, look_up
from bot.delivery import LEASE, Claimed
from bot.hand_over import hand_over_code
from bot.i18n import translate
from bot.library import PROFILE_FORM_ID, SurveyLibrary
from bot.quiet_hours import next_allowed
from bot.rendering import render
from bot.storable import storable, storable_id
from bot.workshops import DEFAULT_BASE_URL, WorkshopDesk
from storage.erasure import erase_respondent, wipe_deleted_pages
from storage.hand_over import redeem
from storage.models import (
    Answer,
    ConsentRecord,
    Conversation,
    OutboxMessage,
    Respondent,
    Submission,
    SurveyVersion,
)
from storage.outbox import (
    enqueue,
    enqueue_farewell,
    enqueue_to_group,
    has_unfinished_replies,
    replace_nudge,
)
from storage.respondents import (
    claim_event,
    claim_group_told,
    find_respondent,
    get_or_create_respondent,
    lock_conversation,
)
from storage.surveys import next_round
from survey_flows.engine import nudge, resume
from survey_flows.session import (
    ActionRequested,
    AnswerRecorded,
    AnswerRejected,
    ConsentDeclined,
    ConsentGiven,
    ConsentWithdrawn,
    Event,
    HelloInput,
    Input,
    LanguageChanged,
    Msg,
    OtherInput,
    ScoresComputed,
    State,
    Step,
    SurveyCompleted,
    SurveyStarted,
    TapInput,
    TextInput,
)

log = logging.getLogger(__name__)

#: The engine's answer to a tap on a button that is no longer current.
STALE = "error.stale_button"

#: How long a respondent may be silent mid-survey before one gentle nudge.
NUDGE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class NextPage:
    """ "More choices" on a message whose buttons come in pages: the same buttons from `offset`."""

    row_id: int
    offset: int


@dataclass(frozen=True)
class Unfollowed:
    """They blocked or left the bot: send them nothing more (what they gave is kept)."""


@dataclass(frozen=True)
class Refollowed:
    """They unblocked the bot, without a word yet: they may be written to again."""


@dataclass(frozen=True)
class StartSurvey:
    """A deep link to a survey's keyword: it starts that survey, and can say nothing else (a
    link made with "ยินยอม" in it does not consent for whoever opens it)."""

    keyword: str


@dataclass(frozen=True)
class Inbound:
    """A channel-neutral inbound event: who sent it, through which channel, and what it was."""

    channel: str
    user_id: str
    #: What they sent; a tap on a button sent by reference is looked up first (bot/buttons.py),
    #: and the shell's own inputs are handled without the engine.
    input: Input | TappedButton | NextPage | Unfollowed | Refollowed | StartSurvey
    #: The platform's own event id; a repeat of an id already handled changes nothing.
    event_id: str | None = None
    entered_by: str = "respondent"
    #: LINE's reply token, so the replies to this event can go out free of charge.
    reply_token: str | None = None


@dataclass(frozen=True)
class Turn:
    """What handling one inbound event touched: whose replies to send."""

    respondent_id: int
    #: Replies written already claimed, for the caller to send right after commit. Empty when
    #: they were left for delivery to claim: the caller did not ask to send them, or earlier
    #: replies to the same chat are still unsent and these must wait their turn.
    claimed: tuple[Claimed, ...] = ()
    #: The goodbye to someone just erased on a channel that fetches its own replies: stored
    #: nowhere (there is no one left to store it for), so the caller answers with it.
    farewell: tuple[dict, ...] = ()
    #: The tap was on a button no longer current: nothing was taken from it.
    stale_tap: bool = False


def handle_inbound(
    db: sessionmaker[Session],
    library: SurveyLibrary,
    inbound: Inbound,
    now: datetime,
    tz: ZoneInfo,
    base_url: str = DEFAULT_BASE_URL,
    *,
    send_now: bool = False,
    self_delivering: frozenset[str] = frozenset(),
) -> Turn | None:
    """Run one inbound event through the engine and commit its effects; None for a redelivery.

    With `send_now` the replies are written claimed, so the caller sends them after commit
    without a second transaction to claim them; if it dies first, the claim lapses and the
    delivery worker sends them. Replies on `self_delivering` channels are stored as sent: their
    clients read them.
    """
    started = time.perf_counter()
    inbound = _storable(inbound)
    with db.begin() as session:
        if inbound.event_id and not claim_event(session, inbound.channel, inbound.event_id, now):
            log.info(
                "duplicate event", extra={"channel": inbound.channel, "event": inbound.event_id}
            )
            return None
        if isinstance(inbound.input, Unfollowed | Refollowed):
            # someone unknown (or erased) who blocks the bot is not recorded for it
            known = find_respondent(session, inbound.channel, inbound.user_id)
            if known is not None:
                known.reachable = isinstance(inbound.input, Refollowed)
            return None
        joined = None
        if (code := hand_over_code(inbound.input)) is not None:
            # an interview a coordinator began, taken over on this phone: it carries on where it
            # stopped (or they hear why not), greeted as on opening the chat
            joined = redeem(session, code, inbound.channel, inbound.user_id, now)
            inbound = replace(inbound, input=HelloInput())
        respondent = get_or_create_respondent(session, inbound.channel, inbound.user_id, now)
        if isinstance(inbound.input, StartSurvey):
            keyword = inbound.input.keyword
            start = TextInput(keyword) if library.is_keyword(session, keyword) else HelloInput()
            inbound = replace(inbound, input=start)
        if isinstance(inbound.input, HelloInput):  # they followed (again), or opened the chat
            respondent.reachable = True
        if isinstance(inbound.input, NextPage):
            return _turn(respondent, _next_page(session, respondent, inbound, now), None)
        if isinstance(inbound.input, TappedButton):
            tap = look_up(session, inbound.input, respondent.channel_user_id)
            inbound = replace(inbound, input=tap)
        conversation = lock_conversation(session, respondent, now)
        delivered = inbound.channel in self_delivering
        claimed_until = (
            now + LEASE
            if send_now
            and not delivered
            and not has_unfinished_replies(session, respondent.channel_user_id)
            else None
        )
        desk = WorkshopDesk(session, now, tz, base_url, self_delivering)
        checked_in = desk.check_in(respondent, inbound.input)
        if checked_in is not None:  # the code word shown at the venue: nothing else to do
            rows = enqueue(
                session,
                respondent,
                checked_in,
                now,
                delivered=delivered,
                claimed_until=claimed_until,
            )
            return _turn(respondent, rows, claimed_until)
        state = State.from_json(conversation.state)
        context = library.context(session, respondent, state, inbound.input, now, tz, base_url)
        step = resume(state, inbound.input, context)
        farewell: tuple[dict, ...] = ()
        if any(isinstance(e, ActionRequested) and e.action == "erase" for e in step.events):
            rows = _erase(session, respondent, desk, step, inbound, now, claimed_until, delivered)
            erased = True
            if delivered:
                farewell = tuple(render(m, step.state.language) for m in step.messages)
        else:
            opening = (
                [{"text": translate(f"handover.{joined}", respondent.language), "buttons": []}]
                if joined
                else []
            )
            rows = _carry_on(
                session,
                respondent,
                conversation,
                step,
                inbound,
                now,
                desk,
                context,
                claimed_until,
                delivered,
                tz,
                opening,
            )
            erased = False
    if erased and not wipe_deleted_pages(db.kw["bind"]):
        log.warning("erased rows may linger in the write-ahead log until it is reused")
    log.info(
        "turn",
        extra={
            "channel": inbound.channel,
            "respondent": None if erased else respondent.id,
            "input": type(inbound.input).__name__,
            "events": [type(event).__name__ for event in step.events],
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    stale = isinstance(inbound.input, TapInput) and any(
        isinstance(part, Msg) and part.key == STALE
        for message in step.messages
        for part in message.parts
    )
    return replace(_turn(respondent, rows, claimed_until), farewell=farewell, stale_tap=stale)


def _erase(
    session: Session,
    respondent: Respondent,
    desk: WorkshopDesk,
    step: Step,
    inbound: Inbound,
    now: datetime,
    claimed_until: datetime | None,
    delivered: bool,
) -> list:
    """Erase the respondent at their request: seats given up (the waitlist moves up), every row
    about them deleted, the erasure recorded without them; the goodbye goes by reply token, or
    to their address kept only until it is sent (`delivered`: their client reads it, from the
    turn)."""
    desk.give_up_seats(respondent)
    session.flush()
    erasure = erase_respondent(session, respondent, now)
    log.info("erasure", extra={"channel": erasure.channel, "rows": erasure.rows})
    if delivered:
        return []
    goodbye = [render(message, step.state.language) for message in step.messages]
    # without a reply token (Telegram) the goodbye needs their address until it is sent
    address = None if inbound.reply_token else inbound.user_id
    return enqueue_farewell(
        session, inbound.channel, goodbye, now, inbound.reply_token, claimed_until, address
    )


def note_group(
    db: sessionmaker[Session],
    channel: str,
    group_id: str,
    event_id: str | None,
    reply_token: str | None,
    note_key: str,
    now: datetime,
) -> bool:
    """A group chat wrote: say once (the catalog's `note_key`, in Thai) that the survey works
    one to one, and store nobody's messages; False when the group was told before."""
    with db.begin() as session:
        if event_id and not claim_event(session, channel, event_id, now):
            return False
        # one note per group, ever: the group id is remembered like an event id
        if not claim_group_told(session, channel, storable(group_id), now):
            return False
        note = {"text": translate(note_key, "th"), "buttons": []}
        token = storable(reply_token) if reply_token else None
        enqueue_to_group(session, channel, storable(group_id), note, now, token)
    return True


def _next_page(session: Session, respondent: Respondent, inbound: Inbound, now: datetime) -> list:
    """The buttons of a message sent to them, again, from the page asked for."""
    page = inbound.input
    assert isinstance(page, NextPage)
    original = session.get(OutboxMessage, page.row_id)
    if original is None or original.address != respondent.channel_user_id:
        return []
    payload = {
        "text": translate("line.more_choices", respondent.language),
        "buttons": original.payload.get("buttons", []),
        "more": original.payload.get("more"),
        "offset": page.offset,
    }
    return enqueue(session, respondent, [payload], now, reply_token=inbound.reply_token)


def _carry_on(
    session: Session,
    respondent: Respondent,
    conversation: Conversation,
    step: Step,
    inbound: Inbound,
    now: datetime,
    desk: WorkshopDesk,
    context,
    claimed_until: datetime | None,
    delivered: bool,
    tz: ZoneInfo,
    opening: list[dict],
) -> list:
    """Store what the turn did and queue its replies (after `opening`) and the next nudge;
    return the replies."""
    results = _record(session, respondent, conversation, step, inbound, now, desk)
    conversation.state = step.state.to_json()
    conversation.updated_at = now
    language = step.state.language
    rows = enqueue(
        session,
        respondent,
        [*opening, *(render(message, language) for message in step.messages), *results],
        now,
        delivered=delivered,
        reply_token=inbound.reply_token,
        claimed_until=claimed_until,
    )
    # Every message from the respondent restarts the silence, so a nudge goes at most once.
    replace_nudge(
        session,
        respondent,
        [render(message, language) for message in nudge(step.state, context)],
        next_allowed(now + NUDGE_AFTER, tz),
        now,
    )
    return rows


def _storable(inbound: Inbound) -> Inbound:
    """The inbound with every text it carries made storable, so odd text is answered, not lost."""
    given = inbound.input
    if isinstance(given, TextInput):
        given = TextInput(storable(given.text))
    elif isinstance(given, TapInput):
        given = TapInput(storable(given.question), storable(given.value))
    elif isinstance(given, OtherInput):
        given = OtherInput(storable(given.kind))
    return replace(
        inbound,
        user_id=storable(inbound.user_id),
        input=given,
        event_id=storable_id(inbound.event_id) if inbound.event_id else None,
        reply_token=storable(inbound.reply_token) if inbound.reply_token else None,
    )


def _turn(respondent: Respondent, rows: list, claimed_until: datetime | None) -> Turn:
    return Turn(respondent.id, tuple(Claimed.of(row) for row in rows) if claimed_until else ())


def _record(
    session: Session,
    respondent: Respondent,
    conversation: Conversation,
    step: Step,
    inbound: Inbound,
    now: datetime,
    desk: WorkshopDesk,
) -> list[dict]:
    """Store what the engine says happened, in the caller's transaction; carry out what it asked
    for, and return the messages that say how that went."""
    results: list[dict] = []
    for event in step.events:
        if isinstance(event, ActionRequested):
            results += desk.carry_out(respondent, event)
        else:
            _record_one(session, respondent, conversation, event, inbound, now)
    return results


def _record_one(
    session: Session,
    respondent: Respondent,
    conversation: Conversation,
    event: Event,
    inbound: Inbound,
    now: datetime,
) -> None:
    channel = inbound.channel
    match event:
        case ConsentGiven(version) | ConsentDeclined(version) | ConsentWithdrawn(version):
            given = isinstance(event, ConsentGiven)
            session.add(
                ConsentRecord(
                    respondent_id=respondent.id,
                    wording_version=version,
                    given=given,
                    recorded_at=now,
                    channel=channel,
                    entered_by=inbound.entered_by,
                )
            )
            # withdrawn: nothing unasked (reminders, nudges, notices) goes to them any more
            respondent.consent_withdrawn = not given and (
                isinstance(event, ConsentWithdrawn) or respondent.consent_withdrawn
            )
        case SurveyStarted(flow):
            version = session.get(SurveyVersion, int(flow))
            submission = Submission(
                respondent_id=respondent.id,
                survey_version_id=int(flow),
                channel=channel,
                round=next_round(session, respondent.id, version.form_id if version else ""),
                started_at=now,
            )
            session.add(submission)
            session.flush()
            conversation.submission_id = submission.id
        case AnswerRecorded(flow, question, raw, value):
            session.add(
                Answer(
                    submission_id=conversation.submission_id,
                    respondent_id=respondent.id,
                    survey_version_id=int(flow),
                    question=question,
                    raw=raw,
                    value=value,
                    answered_at=now,
                    channel=channel,
                    entered_by=inbound.entered_by,
                )
            )
        case SurveyCompleted(flow, answers):
            submission = session.get(Submission, conversation.submission_id)
            if submission is not None:
                submission.completed_at = now
                if submission.survey_version.form_id == PROFILE_FORM_ID:
                    respondent.profile = {**respondent.profile, **answers}
            conversation.submission_id = None
        case ScoresComputed(_flow, scores):
            submission = session.get(Submission, conversation.submission_id)
            if submission is not None:
                submission.scores = dict(scores)
        case LanguageChanged(language):
            respondent.language = language
        case AnswerRejected(flow, question, raw, reason):
            log.info("answer rejected", extra={"question": question, "reason": reason})
