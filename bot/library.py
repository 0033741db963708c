"""The surveys respondents can take: flows loaded from stored versions, and the engine context."""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import datetime
from threading import Lock
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.workshops import mine as my_workshops
from bot.workshops import offers as workshop_offers
from storage.courses import all_courses
from storage.models import ConsentRecord, Respondent, Submission, SurveyVersion
from storage.surveys import latest_scores, latest_versions
from survey_flows.answer_checks import normalize_text
from survey_flows.engine import MY_DATA, RESULTS, WORKSHOPS, needs
from survey_flows.form import Flow, FormError
from survey_flows.session import Context, Course, Input, MyData, State, SurveyTaken
from survey_flows.xlsform import load_flow

log = logging.getLogger(__name__)

#: The form asked once after consent; its answers become the respondent's profile.
PROFILE_FORM_ID = "profile"


class SurveyLibrary:
    """Loads each stored survey version once per process; versions never change once stored."""

    def __init__(self, consent_version: str):
        self.consent_version = consent_version
        self._flows: dict[int, Flow] = {}
        self._lock = Lock()

    def flow(self, version: SurveyVersion) -> Flow:
        """Return the flow of a stored version (checked against the profile when imported)."""
        with self._lock:
            if version.id not in self._flows:
                self._flows[version.id] = load_flow(version.source, version.filename)
            return self._flows[version.id]

    def is_keyword(self, session: Session, text: str) -> bool:
        """Whether `text` is a word that starts one of the latest surveys."""
        wanted = normalize_text(text)
        for version in latest_versions(session):
            with suppress(FormError):
                if wanted in {normalize_text(k) for k in self.flow(version).keywords.values()}:
                    return True
        return False

    def profile_fields(self, latest: list[SurveyVersion]) -> frozenset[str]:
        """Names of the profile questions, which every other form may read with profile('name')."""
        profile = next((v for v in latest if v.form_id == PROFILE_FORM_ID), None)
        if profile is None:
            return frozenset()
        return frozenset(item.name for item in self.flow(profile).items)

    def context(
        self,
        session: Session,
        respondent: Respondent,
        state: State,
        given: Input,
        now: datetime,
        tz: ZoneInfo,
        base_url: str,
    ) -> Context:
        """Build the engine context: the latest flows, the versions this state refers to, the
        respondent's profile, and only when this turn may use them, the previous scores and the
        courses, workshops and registrations."""
        latest = latest_versions(session)
        versions = {str(version.id): version for version in latest}
        for handle in (state.flow, state.pending):
            if handle and handle not in versions:
                older = session.get(SurveyVersion, int(handle))
                if older is not None:
                    versions[handle] = older
        flows = {}
        for handle, version in versions.items():
            try:
                flows[handle] = self.flow(version)
            except FormError:  # checked at import; a newer pyxform may still refuse it later
                log.exception("stored survey no longer loads", extra={"version": version.id})
        latest = [v for v in latest if str(v.id) in flows]
        group = str(respondent.profile.get("group") or "")
        wanted = needs(state, given, flows)
        return Context(
            today=now.astimezone(tz).date(),
            consent_version=self.consent_version,
            flows=flows,
            keywords={
                word: str(v.id) for v in latest for word in flows[str(v.id)].keywords.values()
            },
            profile_flow=next((str(v.id) for v in latest if v.form_id == PROFILE_FORM_ID), None),
            profile=dict(respondent.profile),
            previous_scores=latest_scores(session, respondent.id) if RESULTS in wanted else {},
            **(
                self._workshop_context(session, respondent, group, now, tz, base_url)
                if WORKSHOPS in wanted
                else {}
            ),
            my_data=self._my_data(session, respondent, tz) if MY_DATA in wanted else None,
        )

    def _my_data(self, session: Session, respondent: Respondent, tz: ZoneInfo) -> MyData:
        """The surveys they took and the consent they gave, for "see my data"."""
        submissions = session.execute(
            select(Submission, SurveyVersion)
            .join(SurveyVersion, Submission.survey_version_id == SurveyVersion.id)
            .where(Submission.respondent_id == respondent.id)
            .order_by(Submission.started_at)
        ).all()
        surveys = []
        for submission, version in submissions:
            if version.form_id == PROFILE_FORM_ID:
                continue  # shown as the profile itself
            try:
                title = dict(self.flow(version).title)
            except FormError:
                title = {"th": version.form_id}
            completed = submission.completed_at
            surveys.append(
                SurveyTaken(
                    title,
                    submission.started_at.astimezone(tz).date(),
                    completed.astimezone(tz).date() if completed else None,
                )
            )
        consent = session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.respondent_id == respondent.id, ConsentRecord.given.is_(True))
            .order_by(ConsentRecord.recorded_at.desc())
            .limit(1)
        ).first()
        return MyData(
            tuple(surveys),
            consent.recorded_at.astimezone(tz).date() if consent else None,
            consent.wording_version if consent else "",
        )

    @staticmethod
    def _workshop_context(
        session: Session,
        respondent: Respondent,
        group: str,
        now: datetime,
        tz: ZoneInfo,
        base_url: str,
    ) -> dict:
        """Courses, upcoming workshops and the respondent's registrations, for the context."""
        return {
            "courses": tuple(
                Course(
                    code=course.code,
                    title={"th": course.title_th, "en": course.title_en},
                    kind=course.kind,
                    groups=tuple(course.groups),
                    focus=tuple(course.focus),
                )
                for course in all_courses(session)
            ),
            "workshops": workshop_offers(session, group, now, tz, base_url),
            "my_workshops": my_workshops(session, respondent.id, now, tz),
        }
