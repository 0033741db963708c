"""The respondents' pages: a coordinator finds people by group, municipality, channel and how far
they got, and opens one to see their profile, consent, answers with who entered them, scores,
workshops and messages; contact details only on request, audited; researchers never."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from storage.models import (
    Answer,
    AuditEntry,
    ConsentRecord,
    Respondent,
    Submission,
    SurveyVersion,
    Workshop,
)
from storage.workshops import register
from tests.console_user import ConsoleUser, add_account
from tests.test_console_access import COORDINATOR, RESEARCHER


def people(app, clock) -> dict[str, int]:
    """Three real respondents and a simulator tester: a carriage driver of the city who
    completed the assessment (answered by a coordinator), a Kad Kong Ta vendor who began it, a
    Telegram user with no profile yet."""
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        assessment = session.scalars(
            select(SurveyVersion).where(SurveyVersion.form_id == "active_citizen")
        ).first()

        def person(channel, user, profile, is_test=False):
            made = Respondent(
                channel=channel,
                channel_user_id=user,
                profile=profile,
                is_test=is_test,
                created_at=clock.now,
            )
            session.add(made)
            session.flush()
            return made

        driver = person("line", "U" + "1" * 32, {"group": "carriage", "municipality": "nakhon"})
        vendor = person("line", "U" + "2" * 32, {"group": "kadkongta", "municipality": "khelang"})
        newcomer = person("telegram", "4242", {})
        person("web", "sim-x", {"group": "carriage"}, is_test=True)
        done = Submission(
            respondent_id=driver.id,
            survey_version_id=assessment.id,
            channel="line",
            started_at=clock.now - timedelta(hours=1),
            completed_at=clock.now,
            scores={"characteristics": {"c1": 4.25, "c2": 3.5}, "subfeatures": {}},
        )
        begun = Submission(
            respondent_id=vendor.id,
            survey_version_id=assessment.id,
            channel="line",
            started_at=clock.now,
        )
        session.add_all([done, begun])
        session.flush()
        session.add(
            Answer(
                submission_id=done.id,
                respondent_id=driver.id,
                survey_version_id=assessment.id,
                question="c1_1_a",
                raw="ทำบ่อย",
                value="4",
                answered_at=clock.now,
                channel="assisted",
                entered_by=COORDINATOR,
            )
        )
        session.add(
            ConsentRecord(
                respondent_id=driver.id,
                wording_version="v1",
                given=True,
                recorded_at=clock.now,
                channel="assisted",
                entered_by=COORDINATOR,
            )
        )
        workshop = session.scalars(select(Workshop).order_by(Workshop.id)).first()
        register(session, workshop.id, driver.id, clock.now)
        return {"driver": driver.id, "vendor": vendor.id, "newcomer": newcomer.id}


def found_ids(user: ConsoleUser, query: str) -> list[int]:
    """The respondents a search lists, by the numbers its links carry."""
    assert user.get(f"/console/respondents?{query}").status_code == 200
    return [int(n) for n in re.findall(r'href="/console/respondents/(\d+)"', user.page)]


def test_the_search_filters_by_group_municipality_channel_and_progress(app, clock) -> None:
    """Each filter narrows the list; the simulator's testers are never listed."""
    ids = people(app, clock)
    add_account(app, COORDINATOR, "coordinator")
    user = ConsoleUser(app)
    user.sign_in(COORDINATOR)
    assert sorted(found_ids(user, "")) == sorted(ids.values())
    assert found_ids(user, "group=carriage") == [ids["driver"]]
    assert found_ids(user, "municipality=khelang") == [ids["vendor"]]
    assert found_ids(user, "channel=telegram") == [ids["newcomer"]]
    assert found_ids(user, "form_id=active_citizen&completion=completed") == [ids["driver"]]
    assert found_ids(user, "form_id=active_citizen&completion=started") == [ids["vendor"]]
    assert found_ids(user, "form_id=active_citizen&completion=not_started") == [ids["newcomer"]]
    assert found_ids(user, "group=carriage&channel=telegram") == []
    assert "พบ 0 คน" in user.text()


def test_one_respondents_page_shows_what_they_gave_and_who_entered_it(app, clock) -> None:
    """Profile in words, consent and answers marked as entered by the coordinator, the score,
    the workshop; the platform id appears only after asking, and the look is audited."""
    ids = people(app, clock)
    add_account(app, COORDINATOR, "coordinator")
    user = ConsoleUser(app)
    user.sign_in(COORDINATOR)
    user.get(f"/console/respondents/{ids['driver']}")
    page = user.text()
    words = ("คนขับรถม้า", "เทศบาลนครลำปาง", "ฉันไปร่วมประชุมหรือกิจกรรมของชุมชน", "ทำบ่อย", "4.25")
    for shown in (*words, COORDINATOR, "ลงทะเบียนแล้ว"):
        assert shown in page, shown
    assert "U" + "1" * 32 not in page
    user.post(f"/console/respondents/{ids['driver']}/contact")
    assert "U" + "1" * 32 in user.text()
    with app.extensions["runtime"].db() as session:
        looked = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "contact.viewed")
        ).one()
    assert looked.actor == COORDINATOR and looked.target == f"respondent:{ids['driver']}"


def test_researchers_see_no_respondent_pages(app, clock) -> None:
    """Researchers work with counts and pseudonyms: the respondents' pages are 403 to them."""
    ids = people(app, clock)
    add_account(app, RESEARCHER, "researcher")
    user = ConsoleUser(app)
    user.sign_in(RESEARCHER)
    assert user.get("/console/respondents").status_code == 403
    assert user.get(f"/console/respondents/{ids['driver']}").status_code == 403
    user.get("/console/password")
    assert user.post(f"/console/respondents/{ids['driver']}/contact").status_code == 403
