"""Who a broadcast goes to: filters a coordinator combines (all of them must hold), over the
people a notice may reach at all (consented, not withdrawn, reachable, not simulator testers)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from storage.models import ConsentRecord, Registration, Respondent, Submission
from storage.respondent_search import has_taken

#: Which of a workshop's people: its seats, its waitlist, or those who came.
WORKSHOP_PARTS = {
    "registered": ("registered",),
    "waitlisted": ("waitlisted",),
    "attended": ("attended",),
}


@dataclass(frozen=True)
class Audience:
    """The filters of a broadcast; an empty one leaves everyone in."""

    groups: tuple[str, ...] = ()
    municipalities: tuple[str, ...] = ()
    channel: str = ""
    workshop_id: int | None = None
    #: registered, waitlisted or attended (with workshop_id).
    workshop_part: str = "registered"
    #: A survey's form id, and whether they completed it (True) or not (False).
    form_id: str = ""
    completed: bool | None = None
    #: A characteristic (c1…) whose latest score is below `below`.
    characteristic: str = ""
    below: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The filters as stored with the broadcast."""
        return {key: list(v) if isinstance(v, tuple) else v for key, v in asdict(self).items()}

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> Audience:
        """The filters as to_json stored them."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})


def reachable_people() -> Select:
    """Everyone a notice may go to: real, reachable, consented and not withdrawn."""
    consented = exists().where(
        ConsentRecord.respondent_id == Respondent.id, ConsentRecord.given.is_(True)
    )
    return select(Respondent).where(
        Respondent.is_test.is_(False),
        Respondent.reachable.is_(True),
        Respondent.consent_withdrawn.is_(False),
        consented,
    )


def audience_query(audience: Audience) -> Select:
    """The respondents the audience names, each once."""
    query = reachable_people()
    if audience.groups:
        query = query.where(Respondent.profile["group"].as_string().in_(audience.groups))
    if audience.municipalities:
        query = query.where(
            Respondent.profile["municipality"].as_string().in_(audience.municipalities)
        )
    if audience.channel:
        query = query.where(Respondent.channel == audience.channel)
    if audience.workshop_id is not None:
        if audience.workshop_part not in WORKSHOP_PARTS:
            raise ValueError(f"workshop part must be one of {', '.join(WORKSHOP_PARTS)}")
        query = query.where(
            exists().where(
                Registration.respondent_id == Respondent.id,
                Registration.workshop_id == audience.workshop_id,
                Registration.status == audience.workshop_part,
            )
        )
    if audience.form_id and audience.completed is not None:
        done = has_taken(audience.form_id, completed=True)
        query = query.where(done if audience.completed else ~done)
    if audience.characteristic and audience.below is not None:
        query = query.where(_latest_score_below(audience.characteristic, audience.below))
    return query


def _latest_score_below(characteristic: str, below: float):
    """Their latest scored submission has this characteristic under `below`."""
    latest = aliased(Submission)
    newest = (
        select(func.max(latest.completed_at))
        .where(latest.respondent_id == Respondent.id, latest.scores.is_not(None))
        .correlate(Respondent)
        .scalar_subquery()
    )
    score = Submission.scores["characteristics"][characteristic].as_float()
    return exists().where(
        and_(
            Submission.respondent_id == Respondent.id,
            Submission.completed_at == newest,
            score < below,
        )
    )


def count_by_channel(session: Session, audience: Audience) -> dict[str, int]:
    """How many the audience holds, per channel."""
    people = audience_query(audience).subquery()
    rows = session.execute(select(people.c.channel, func.count()).group_by(people.c.channel))
    return dict(rows.all())
