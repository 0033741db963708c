"""Broadcasts, as use cases the console and the CLI both call: how many an audience reaches (per
channel), and sending a notice to it. The broadcast is written with its audit entry and the first
part of its outbox messages, one per recipient; the worker writes the rest, a part per
transaction (a unique index on broadcast and respondent keeps anyone from having two). The
delivery worker sends them with every guarantee a message has (retry keys, the platforms' pace,
consent and reachability checked again just before sending), and nobody gets one twice."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import postback
from bot.coordination import Actor
from bot.delivery import BROADCAST
from bot.i18n import translate
from bot.quiet_hours import next_allowed
from bot.runtime import Runtime
from storage.audience import Audience, audience_query, count_by_channel
from storage.models import Broadcast, OutboxMessage, Respondent, Workshop
from storage.surveys import latest_versions
from survey_flows.engine import START
from survey_flows.workshop_chat import SHOW

#: The longest notice: a chat message that still reads as one message.
LONGEST_TEXT = 2000
#: Why a broadcast's message that never went was left.
CANCELLED = "broadcast cancelled"
#: The channel whose pushes count against a monthly quota.
LINE = "line"
#: Messages written per transaction: each holds SQLite's one write lock for a few tens of
#: milliseconds, so the chats' turns go on while a broadcast to 100,000 is written.
WRITE_PART = 1000


@dataclass(frozen=True)
class Notice:
    """What a broadcast says: the Thai, the English for those who chose it, an optional link,
    and optional buttons that start a survey or open a workshop's sign-up."""

    text_th: str
    text_en: str = ""
    link: str = ""
    #: The survey (form id) its button starts; "" for none.
    survey: str = ""
    #: The workshop its button opens, with its sign-up; None for none.
    workshop_id: int | None = None

    def checked(self) -> Notice:
        """The notice trimmed; ValueError when it is empty or too long."""
        notice = replace(
            self,
            text_th=self.text_th.strip(),
            text_en=self.text_en.strip(),
            link=self.link.strip(),
            survey=self.survey.strip(),
        )
        if not notice.text_th:
            raise ValueError("a broadcast needs its Thai text")
        if max(len(notice.text_th), len(notice.text_en)) > LONGEST_TEXT:
            raise ValueError(f"a broadcast's text is {LONGEST_TEXT} characters at most")
        if notice.link and not notice.link.startswith(("https://", "http://")):
            raise ValueError("a link starts with https://")
        return notice

    def payload(self, language: str, survey_handle: str = "") -> dict:
        """The message as a respondent of this language reads it; `survey_handle` is what the
        chat knows the survey by (its newest version's id)."""
        text = self.text_en if language == "en" and self.text_en else self.text_th
        buttons = []
        if self.survey:
            buttons.append(
                {
                    "label": translate("broadcast.button.survey", language),
                    "data": postback.encode(START, survey_handle or self.survey),
                }
            )
        if self.workshop_id is not None:
            buttons.append(
                {
                    "label": translate("broadcast.button.workshop", language),
                    "data": postback.encode(SHOW, str(self.workshop_id)),
                }
            )
        return {"text": f"{text}\n{self.link}" if self.link else text, "buttons": buttons}


@dataclass(frozen=True)
class Plan:
    """What a broadcast would do: how many it reaches per channel, and when it would go."""

    reach: dict[str, int]
    send_at: datetime
    #: It was asked for in quiet hours (21:00–08:00) and moved to the morning.
    moved: bool

    @property
    def total(self) -> int:
        """Everyone it reaches."""
        return sum(self.reach.values())


def plan_broadcast(
    rt: Runtime, audience: Audience, wanted_at: datetime | None = None, urgent: bool = False
) -> Plan:
    """How many the audience reaches per channel, and when a broadcast to it would go."""
    wanted = wanted_at or rt.clock()
    send_at = wanted if urgent else next_allowed(wanted, rt.tz)
    with rt.db() as session:
        reach = count_by_channel(session, audience)
    return Plan(reach, send_at, send_at != wanted)


@dataclass(frozen=True)
class Quota:
    """LINE's monthly count of pushed and multicast messages (replies are free)."""

    #: The month's target limit; None when the account has none.
    limit: int | None
    used: int

    def left(self) -> int | None:
        """Messages left this month (None: no limit)."""
        return None if self.limit is None else max(0, self.limit - self.used)

    def exceeded_by(self, messages: int) -> bool:
        """Whether sending so many more would go past the limit."""
        left = self.left()
        return left is not None and messages > left


def line_quota(rt: Runtime) -> Quota | None:
    """The LINE Official Account's quota now; None without LINE or when LINE cannot say."""
    read = getattr(rt.channels.get(LINE), "quota", None)
    counted = read() if read else None
    return Quota(*counted) if counted else None


def send_broadcast(
    rt: Runtime,
    actor: Actor,
    notice: Notice,
    audience: Audience,
    wanted_at: datetime | None = None,
    urgent: bool = False,
) -> tuple[int, Plan]:
    """Write the broadcast and one message per recipient, due at its time (out of quiet hours
    unless urgent); return its id and what it reaches."""
    notice = notice.checked()
    now = rt.clock()
    wanted = wanted_at or now
    if wanted < now - timedelta(minutes=1):  # a minute's grace for a form filled in slowly
        raise ValueError("a broadcast cannot be scheduled in the past")
    send_at = wanted if urgent else next_allowed(wanted, rt.tz)
    with rt.db.begin() as session:
        _survey_handle(session, notice)  # a button that opens nothing is refused now
        broadcast = Broadcast(
            created_by=actor.email,
            created_at=now,
            text_th=notice.text_th,
            text_en=notice.text_en,
            link=notice.link,
            survey=notice.survey,
            workshop_id=notice.workshop_id,
            audience=audience.to_json(),
            send_at=send_at,
            urgent=urgent,
        )
        session.add(broadcast)
        session.flush()
        broadcast_id = broadcast.id
        reach = count_by_channel(session, audience)
        actor.audit(
            session,
            "broadcast.sent",
            now,
            f"broadcast:{broadcast_id}",
            audience=audience.to_json(),
            reach=reach,
            send_at=send_at.isoformat(),
            urgent=urgent,
            buttons={"survey": notice.survey, "workshop": notice.workshop_id},
        )
        # the first part now, with the broadcast; the rest, if any, by the worker (finish_writing)
        first = _write_part(session, broadcast, now)
        broadcast.recipients = first
        if first < WRITE_PART:
            broadcast.written_at = now
    return broadcast_id, Plan(reach, send_at, send_at != wanted)


def finish_writing(rt: Runtime, now: datetime) -> int:
    """Write the next part of each broadcast not yet written whole (the worker's, a part a
    round, between the parts it sends); return how many messages that wrote.

    Parts keep each transaction short: SQLite has one write lock, and a chat's turn waits for
    it (written whole, 100,000 held it for 3 s). Each part goes on from the last respondent
    written, so two workers at once collide on the unique index rather than write anyone twice.
    """
    with rt.db() as session:
        unfinished = session.scalars(
            select(Broadcast.id).where(Broadcast.written_at.is_(None)).order_by(Broadcast.id)
        ).all()
    written = 0
    for broadcast_id in unfinished:
        try:
            with rt.db.begin() as session:
                broadcast = session.get(Broadcast, broadcast_id)
                if broadcast is None or broadcast.written_at is not None:
                    continue
                count = 0 if broadcast.cancelled_at else _write_part(session, broadcast, now)
                broadcast.recipients += count
                if count < WRITE_PART:
                    broadcast.written_at = now
                written += count
        except IntegrityError:  # another worker wrote this part first: the next round goes on
            continue
    return written


def cancel_broadcast(rt: Runtime, actor: Actor, broadcast_id: int) -> int:
    """Stop a broadcast: its messages not yet sent are withdrawn (those sent stay recorded);
    return how many were withdrawn (LookupError for no such broadcast)."""
    now = rt.clock()
    with rt.db.begin() as session:
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        withdrawn = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.status == "pending")
            .values(status="dropped", last_error=CANCELLED)
        ).rowcount
        broadcast.cancelled_at = broadcast.cancelled_at or now
        actor.audit(
            session,
            "broadcast.cancelled",
            now,
            f"broadcast:{broadcast_id}",
            withdrawn=withdrawn,
        )
    return withdrawn


def progress(session: Session, broadcast_id: int) -> Counter[str]:
    """A broadcast's messages by status: pending, sending, sent, failed, dropped."""
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.broadcast_id == broadcast_id)
        .group_by(OutboxMessage.status)
    )
    return Counter(dict(rows.all()))


def _survey_handle(session: Session, notice: Notice) -> str:
    """What the chat knows the notice's survey by (its newest version's id); ValueError for a
    survey or a workshop its buttons cannot open."""
    if notice.workshop_id is not None and session.get(Workshop, notice.workshop_id) is None:
        raise ValueError(f"no workshop {notice.workshop_id}")
    if not notice.survey:
        return ""
    for version in latest_versions(session):
        if version.form_id == notice.survey:
            return str(version.id)
    raise ValueError(f"no survey {notice.survey!r}")


def _write_part(session: Session, broadcast: Broadcast, now: datetime) -> int:
    """The next WRITE_PART of the broadcast's messages, one per recipient in their language,
    after the last respondent written; how many."""
    after = session.scalar(
        select(func.max(OutboxMessage.respondent_id)).where(
            OutboxMessage.broadcast_id == broadcast.id
        )
    )
    people = session.execute(
        audience_query(Audience.from_json(broadcast.audience))
        .with_only_columns(
            Respondent.id, Respondent.channel, Respondent.channel_user_id, Respondent.language
        )
        .where(Respondent.id > (after or 0))
        .order_by(Respondent.id)
        .limit(WRITE_PART)
    ).all()
    if not people:
        return 0
    notice = Notice(
        broadcast.text_th,
        broadcast.text_en,
        broadcast.link,
        broadcast.survey,
        broadcast.workshop_id,
    )
    handle = _survey_handle(session, notice)
    languages = {person.language for person in people}
    payloads = {language: notice.payload(language, handle) for language in languages}
    session.execute(
        insert(OutboxMessage),
        [
            {
                "retry_key": str(uuid.uuid4()),
                "respondent_id": person.id,
                "channel": person.channel,
                "address": person.channel_user_id,
                "payload": payloads[person.language],
                "kind": BROADCAST,
                "broadcast_id": broadcast.id,
                "status": "pending",
                "due_at": broadcast.send_at,
                "attempts": 0,
                "created_at": now,
            }
            for person in people
        ],
    )
    return len(people)
