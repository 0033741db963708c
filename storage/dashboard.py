"""The figures behind the console's dashboard, counted in the database: respondents by profile
and channel, each survey's funnel, each workshop's seats and attendance, activity by day.
Simulator test data is never counted."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, cast, func, literal_column, select
from sqlalchemy.orm import Session

from storage.models import (
    ConsentRecord,
    Registration,
    Respondent,
    Submission,
    SurveyVersion,
)

REAL = Respondent.is_test.is_(False)


def respondents_by(session: Session, profile_field: str) -> Counter[str]:
    """Real respondents by one profile answer (group, municipality); "" for not yet given."""
    value = Respondent.profile[profile_field].as_string()
    rows = session.execute(select(value, func.count()).where(REAL).group_by(value))
    return Counter({code or "": count for code, count in rows})


def respondents_by_channel(session: Session) -> Counter[str]:
    """Real respondents by the channel they came through."""
    rows = session.execute(
        select(Respondent.channel, func.count()).where(REAL).group_by(Respondent.channel)
    )
    return Counter(dict(rows.all()))


def consented(session: Session) -> int:
    """Real respondents who have consented (and not withdrawn)."""
    return (
        session.scalar(
            select(func.count(func.distinct(ConsentRecord.respondent_id)))
            .join(Respondent, Respondent.id == ConsentRecord.respondent_id)
            .where(REAL, ConsentRecord.given, Respondent.consent_withdrawn.is_(False))
        )
        or 0
    )


def survey_funnel(session: Session) -> dict[str, tuple[int, int]]:
    """Per form: how many real respondents started it, and how many completed it at least once."""
    done = func.count(func.distinct(Submission.respondent_id)).filter(
        Submission.completed_at.is_not(None)
    )
    rows = session.execute(
        select(SurveyVersion.form_id, func.count(func.distinct(Submission.respondent_id)), done)
        .join(Submission, Submission.survey_version_id == SurveyVersion.id)
        .join(Respondent, Respondent.id == Submission.respondent_id)
        .where(REAL)
        .group_by(SurveyVersion.form_id)
    )
    return {form_id: (started, completed) for form_id, started, completed in rows}


def registrations_by_workshop(session: Session) -> dict[int, Counter[str]]:
    """Per workshop: its registrations by status."""
    rows = session.execute(
        select(Registration.workshop_id, Registration.status, func.count()).group_by(
            Registration.workshop_id, Registration.status
        )
    )
    by_workshop: dict[int, Counter[str]] = {}
    for workshop_id, status, count in rows:
        by_workshop.setdefault(workshop_id, Counter())[status] = count
    return by_workshop


def activity_by_day(
    session: Session, today: date, days: int, tz: ZoneInfo
) -> dict[str, dict[date, int]]:
    """People joining, surveys started and surveys completed on each of the last `days` local
    days (to `today`). Counted from submissions, not answers: fifty times fewer rows to read."""
    since = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tzinfo=tz)
    dialect = session.get_bind().dialect.name
    figures = {}
    for name, moment, source in (
        ("joined", Respondent.created_at, Respondent),
        ("started", Submission.started_at, Submission),
        ("completed", Submission.completed_at, Submission),
    ):
        day = _local_day(moment, dialect, since)
        query = select(day, func.count()).select_from(source).where(moment >= since)
        if source is Submission:
            query = query.join(Respondent, Respondent.id == Submission.respondent_id)
        rows = session.execute(query.where(REAL).group_by(day))
        figures[name] = {_as_date(d): count for d, count in rows}
    return figures


def _local_day(moment, dialect: str, near: datetime) -> ColumnElement:
    """The local calendar day (in `near`'s zone) of a stored UTC moment, computed by the
    database."""
    if dialect == "postgresql":
        return cast(func.timezone(str(near.tzinfo), moment), Date)
    # SQLite keeps UTC text: shift by the zone's offset (Thailand keeps one all year)
    hours = int((near.utcoffset() or timedelta()).total_seconds() // 3600)
    return func.date(moment, literal_column(f"'{hours:+d} hours'"))


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def scored_rounds(session: Session) -> list[tuple[int, str, int, dict[str, float]]]:
    """Every completed, scored submission of a real respondent: (respondent, group, round,
    score per characteristic), oldest first."""
    group = func.coalesce(Respondent.profile["group"].as_string(), "")
    rows = session.execute(
        select(Submission.respondent_id, group, Submission.round, Submission.scores)
        .join(Respondent, Respondent.id == Submission.respondent_id)
        .where(REAL, Submission.completed_at.is_not(None), Submission.scores.is_not(None))
        .order_by(Submission.completed_at)
    )
    return [
        (who, group_code, round_, (scores or {}).get("characteristics") or {})
        for who, group_code, round_, scores in rows
    ]
