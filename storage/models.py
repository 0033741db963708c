"""The tables, as SQLAlchemy 2 typed models. Alembic migrations in migrations/ create them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

# Stable constraint names, so migrations behave the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Timestamp(TypeDecorator[datetime]):
    """A moment, stored in UTC and always read back with its zone (SQLite keeps none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        """Store every moment in UTC."""
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        """Read every moment back as an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: An auto-incrementing key that is BIGINT on PostgreSQL and INTEGER (the rowid) on SQLite.
Serial = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """The declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)


class Respondent(Base):
    """One person as seen through one channel identity (a LINE user, a Telegram chat…)."""

    __tablename__ = "respondent"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_id: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8), default="th")
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reachable: Mapped[bool] = mapped_column(default=True)
    #: They took back their consent: only replies to what they send go to them.
    consent_withdrawn: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Made up to try the bot (the web simulator), not a real person: kept out of what
    #: researchers see unless they ask for it.
    is_test: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class Conversation(Base):
    """The engine state of a respondent; `version` guards against lost updates."""

    __tablename__ = "conversation"

    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondent.id"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(Timestamp())

    __mapper_args__: ClassVar = {"version_id_col": version}


class SurveyVersion(Base):
    """One imported version of an XLSForm; the source is kept so it can be loaded again."""

    __tablename__ = "survey_version"
    __table_args__ = (UniqueConstraint("form_id", "revision"),)

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    form_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(Integer)
    form_version: Mapped[str] = mapped_column(String(64))
    keyword: Mapped[str] = mapped_column(String(128))
    filename: Mapped[str] = mapped_column(String(256))
    # Deferred: every turn lists the latest versions, but a process parses each source only once.
    source: Mapped[bytes] = mapped_column(deferred=True)
    checksum: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(Timestamp())


class Submission(Base):
    """One run through a survey by a respondent; completed_at is set at the end."""

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondent.id"), index=True)
    survey_version_id: Mapped[int] = mapped_column(ForeignKey("survey_version.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: 1 for a respondent's first run through this form, 2 for the next, and so on.
    round: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(Timestamp())
    completed_at: Mapped[datetime | None] = mapped_column(Timestamp())
    #: Mean scores of a scored form: {"characteristics": {...}, "subfeatures": {...}}.
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    survey_version: Mapped[SurveyVersion] = relationship()
    respondent: Mapped[Respondent] = relationship()


class Answer(Base):
    """One answer as given; answering again adds a row, and exports take the latest."""

    __tablename__ = "answer"
    __table_args__ = (Index("ix_answer_submission_question", "submission_id", "question"),)

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondent.id"), index=True)
    survey_version_id: Mapped[int] = mapped_column(ForeignKey("survey_version.id"))
    question: Mapped[str] = mapped_column(String(128))
    raw: Mapped[str] = mapped_column(Text)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    answered_at: Mapped[datetime] = mapped_column(Timestamp())
    channel: Mapped[str] = mapped_column(String(16))
    #: "respondent", or the coordinator who typed it in on the respondent's behalf.
    entered_by: Mapped[str] = mapped_column(String(128), default="respondent")


class ConsentRecord(Base):
    """A yes or no to the PDPA notice, with the wording version and the time."""

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondent.id"), index=True)
    wording_version: Mapped[str] = mapped_column(String(32))
    given: Mapped[bool]
    recorded_at: Mapped[datetime] = mapped_column(Timestamp())
    channel: Mapped[str] = mapped_column(String(16))
    #: "respondent", or the coordinator through whom they gave it (an assisted interview).
    entered_by: Mapped[str] = mapped_column(
        String(128), default="respondent", server_default="respondent"
    )


class HandOver(Base):
    """A one-time code that moves an assisted interview onto the respondent's own phone."""

    __tablename__ = "hand_over"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondent.id"), index=True)
    #: SHA-256 of the code: the table does not show the code itself.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The coordinator who made it.
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    expires_at: Mapped[datetime] = mapped_column(Timestamp())
    used_at: Mapped[datetime | None] = mapped_column(Timestamp())


class ProcessedEvent(Base):
    """An inbound platform event already handled; the unique key makes redelivery a no-op."""

    __tablename__ = "processed_event"
    __table_args__ = (UniqueConstraint("channel", "event_id"),)

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    # indexed for the worker, which forgets old events (bot/worker.py)
    processed_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)


#: The outbox's messages that are not a broadcast's, and a broadcast's still to send: the
#: conditions of two partial indexes, which a query uses when it names them word for word.
CHAT_MESSAGES = "kind != 'broadcast'"
BROADCAST_WAITING = "kind = 'broadcast' AND status IN ('pending', 'sending')"


class OutboxMessage(Base):
    """A message to send, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_due", "status", "due_at"),
        Index("ix_outbox_respondent", "respondent_id", "id"),
        Index("ix_outbox_broadcast_respondent", "broadcast_id", "respondent_id", unique=True),
        # Each claim reads only its own messages in order, however many a broadcast has left:
        # the chats' (replies, reminders) by due time, and a channel's broadcasts by due time.
        Index(
            "ix_outbox_chat_due",
            "status",
            "due_at",
            sqlite_where=text(CHAT_MESSAGES),
            postgresql_where=text(CHAT_MESSAGES),
        ),
        Index(
            "ix_outbox_broadcast_due",
            "channel",
            "due_at",
            "id",
            sqlite_where=text(BROADCAST_WAITING),
            postgresql_where=text(BROADCAST_WAITING),
        ),
    )

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    #: Sent as LINE's X-Line-Retry-Key, so a retried push is never delivered twice.
    retry_key: Mapped[str] = mapped_column(String(36), default=lambda: str(uuid.uuid4()))
    #: None for messages to a group chat rather than to a respondent.
    respondent_id: Mapped[int | None] = mapped_column(ForeignKey("respondent.id"))
    channel: Mapped[str] = mapped_column(String(16))
    #: Where the channel delivers it: a LINE user or group id, a Telegram chat id.
    address: Mapped[str] = mapped_column(String(128), default="")
    #: LINE's reply token of the event that caused it: free to use once, for about a minute.
    reply_token: Mapped[str | None] = mapped_column(String(256))
    #: The rendered, channel-neutral message: {"text", "buttons": [{"label", "data"}], "card"?}.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: "reply" to something the respondent sent, "nudge" after a long silence mid-survey,
    #: "reminder" of a workshop, "notice" (waitlist promotion, a workshop moved or cancelled),
    #: "broadcast" (a coordinator's notice to an audience).
    kind: Mapped[str] = mapped_column(String(16), default="reply")
    #: For a broadcast's message: the broadcast (one message per respondent, at most).
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcast.id"))
    #: For reminders: the registration it is about, so it can be checked again before sending.
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"), index=True)
    #: pending → sending → sent | failed | dropped; the simulator's replies are "sent" when written.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: When to (re)try; while "sending", when the sender's claim lapses so another may take it.
    due_at: Mapped[datetime] = mapped_column(Timestamp())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: The claim that holds it while "sending": a sender checks the claim is still its own
    #: before each call, so a sender whose claim lapsed never sends beside the one that took over.
    claim: Mapped[str | None] = mapped_column(String(32))
    #: How the last try went out, written just before the call: "reply", or "push:<retry key>"
    #: of the push that carried it. A sender that takes over after a crash repeats that call
    #: (LINE then tells whether it went out) rather than guess and send it twice.
    tried: Mapped[str | None] = mapped_column(String(48))
    tried_at: Mapped[datetime | None] = mapped_column(Timestamp())
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class Course(Base):
    """A course (หลักสูตร); `focus` maps it to the characteristics it builds, for recommendations."""

    __tablename__ = "course"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title_th: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # upskill | reskill
    groups: Mapped[list[str]] = mapped_column(JSON)
    focus: Mapped[list[str]] = mapped_column(JSON)
    description_th: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")


class CourseInterest(Base):
    """A respondent tapped a recommended course: coordinators follow up."""

    __tablename__ = "course_interest"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondent.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    recorded_at: Mapped[datetime] = mapped_column(Timestamp())


class Workshop(Base):
    """One dated session of a course, with a venue and a capacity. Times are stored in UTC."""

    __tablename__ = "workshop"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(Timestamp())
    ends_at: Mapped[datetime] = mapped_column(Timestamp())
    venue: Mapped[str] = mapped_column(Text)
    map_url: Mapped[str] = mapped_column(Text, default="")
    capacity: Mapped[int] = mapped_column(Integer)
    registration_deadline: Mapped[datetime] = mapped_column(Timestamp())
    #: open | full | cancelled | done ("full" is kept in step with the seats taken)
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: The word shown at the venue that attendees type to check in.
    checkin_code: Mapped[str] = mapped_column(String(32), default="")
    #: When reminders go: [{"days_before": 1, "at": "09:00"}, {"hours_before": 2}] by default.
    reminders: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: Set once the after-workshop questions have gone out, so they go only once.
    feedback_sent_at: Mapped[datetime | None] = mapped_column(Timestamp())

    course: Mapped[Course] = relationship()


class Registration(Base):
    """A respondent's place at a workshop, or their place in its waitlist."""

    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("workshop_id", "respondent_id"),)

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id"), index=True)
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondent.id"), index=True)
    #: registered | waitlisted | cancelled | attended | no_show
    status: Mapped[str] = mapped_column(String(16))
    #: Orders the waitlist: the earliest waitlisted is promoted first.
    waitlisted_at: Mapped[datetime | None] = mapped_column(Timestamp())
    #: Secret part of the registration's calendar (.ics) link.
    calendar_token: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp())

    workshop: Mapped[Workshop] = relationship()


class RegistrationChange(Base):
    """Every status a registration has had, with when, and who changed it."""

    __tablename__ = "registration_change"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(Timestamp())
    changed_by: Mapped[str] = mapped_column(String(128), default="respondent")


class Feedback(Base):
    """An attendee's rating (1–5) and comment on a workshop."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("workshop_id", "respondent_id"),)

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id"))
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondent.id"))
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    given_at: Mapped[datetime] = mapped_column(Timestamp())


class Erasure(Base):
    """That someone's data was erased at their request (PDPA), with nothing that tells who."""

    __tablename__ = "erasure"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(Timestamp())
    channel: Mapped[str] = mapped_column(String(16))
    #: How many rows went, table by table.
    rows: Mapped[dict[str, int]] = mapped_column(JSON)


class StaffUser(Base):
    """Someone who runs the project: signs in to the console, or acts through the CLI."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: admin, coordinator or researcher (bot/console/roles.py).
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    #: Part of every session's id: raising it (disabling, a new password) ends their sessions.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp())
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class AuditEntry(Base):
    """A sensitive action: who did it, when, to what, from where."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp(), index=True)
    #: The staff user's email, or what acted without one (the CLI's "cli").
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(48), index=True)
    target: Mapped[str] = mapped_column(String(254), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The client's address, for logins (the per-address limit counts these).
    address: Mapped[str] = mapped_column(String(64), default="")


class Broadcast(Base):
    """A coordinator's notice to an audience: its words, who it is for, when it goes."""

    __tablename__ = "broadcast"

    id: Mapped[int] = mapped_column(Serial, primary_key=True)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    text_th: Mapped[str] = mapped_column(Text)
    #: For those who chose English; "" sends them the Thai.
    text_en: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(Text, default="")
    #: The audience as chosen (storage/audience.py), kept for the report.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: When its messages fall due: as asked, or moved out of quiet hours unless urgent.
    send_at: Mapped[datetime] = mapped_column(Timestamp())
    urgent: Mapped[bool] = mapped_column(default=False)
    #: Its buttons: the survey (form id) one starts, the workshop one opens.
    survey: Mapped[str] = mapped_column(String(64), default="")
    workshop_id: Mapped[int | None] = mapped_column(Integer)
    #: How many it was written for.
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    #: When the last of its messages was written (they are written a part at a time); None
    #: while being written, or if the writer died, until a worker finishes it.
    written_at: Mapped[datetime | None] = mapped_column(Timestamp())
    cancelled_at: Mapped[datetime | None] = mapped_column(Timestamp())
