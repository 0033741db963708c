"""The dashboard's figures: what its charts draw is what the database holds (simulator testers
left out), for every role."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import select

from storage.models import Respondent, Submission, SurveyVersion
from tests.console_user import ConsoleUser, add_account
from tests.test_console_access import RESEARCHER
from tests.test_console_respondents import people


def charts_of(user: ConsoleUser) -> dict[str, dict]:
    """The dashboard's charts by id, as its page hands them to the drawing script."""
    assert user.get("/console/dashboard").status_code == 200
    found = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', user.page, re.S
    )
    return {chart["id"]: chart for chart in json.loads(found.group(1))}


def series(chart: dict) -> dict[str, dict[str, int]]:
    """A chart's figures: dataset label → category label → value."""
    return {
        dataset["label"]: dict(zip(map(_words, chart["labels"]), dataset["data"], strict=True))
        for dataset in chart["datasets"]
    }


def _words(label: str | list[str]) -> str:
    """A label as one text (a label of two lines comes as a list)."""
    return " ".join(label) if isinstance(label, list) else label


def test_the_charts_count_what_the_database_holds(app, clock) -> None:
    """Group, municipality and channel counts, the assessment's funnel, the workshop's seats and
    the day's newcomers, surveys started and completed, in Thai; the simulator's tester counted nowhere."""
    people(app, clock)
    clock.advance(hours=1)
    add_account(app, RESEARCHER, "researcher")
    user = ConsoleUser(app)
    user.sign_in(RESEARCHER)
    charts = charts_of(user)
    assert series(charts["by-group"])["คน"] == {"คนขับรถม้า": 1, "กาดกองต้า": 1, "ยังไม่ได้ตอบ": 1}
    assert series(charts["by-municipality"])["คน"]["เทศบาลเมืองเขลางค์นคร"] == 1
    assert series(charts["by-channel"])["คน"] == {"LINE": 2, "Telegram": 1}
    funnel = series(charts["funnel"])
    title = next(label for label in charts["funnel"]["labels"] if "พลเมือง" in label)
    assert (funnel["ยินยอม"][title], funnel["เริ่มตอบ"][title], funnel["ตอบครบ"][title]) == (1, 2, 1)
    seats = series(charts["workshops"])
    assert sum(seats["ลงทะเบียนแล้ว"].values()) == 1
    activity = series(charts["activity"])
    today = charts["activity"]["labels"][-1]
    assert (activity["ผู้ตอบใหม่"][today], activity["เริ่มตอบ"][today]) == (3, 2)
    assert activity["ตอบครบ"][today] == 1
    assert len(charts["activity"]["labels"]) == 30
    clock.advance(days=1)
    later = series(charts_of(user)["activity"])  # a day on: yesterday keeps its figure
    assert list(later["ผู้ตอบใหม่"].values())[-2:] == [3, 0]


def test_score_charts_show_each_groups_latest_band_and_the_change_between_rounds(
    app, clock
) -> None:
    """Three drivers and a vendor: each one's latest c1 score in its band, by group; the two
    drivers who took a second round give the means of both rounds."""
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        version = session.scalars(
            select(SurveyVersion).where(SurveyVersion.form_id == "active_citizen")
        ).one()
        for n, group, rounds in (
            (1, "carriage", (2.0, 3.0)),  # low, then middle
            (2, "carriage", (3.0, 4.0)),  # middle, then high
            (3, "carriage", (4.5,)),
            (4, "kadkongta", (1.5,)),
        ):
            person = Respondent(
                channel="line",
                channel_user_id=f"U{n:032d}",
                profile={"group": group},
                created_at=clock.now,
            )
            session.add(person)
            session.flush()
            for number, score in enumerate(rounds, start=1):
                session.add(
                    Submission(
                        respondent_id=person.id,
                        survey_version_id=version.id,
                        channel="line",
                        round=number,
                        started_at=clock.now + timedelta(days=number),
                        completed_at=clock.now + timedelta(days=number),
                        scores={"characteristics": {"c1": score}, "subfeatures": {}},
                    )
                )
    add_account(app, RESEARCHER, "researcher")
    user = ConsoleUser(app)
    user.sign_in(RESEARCHER)
    charts = charts_of(user)
    bands = series(charts["bands-c1"])
    assert bands["ต่ำกว่า 2.5"] == {"คนขับรถม้า": 0, "กาดกองต้า": 1}
    assert bands["2.5 ถึง 3.5"] == {"คนขับรถม้า": 1, "กาดกองต้า": 0}
    assert bands["3.5 ขึ้นไป"] == {"คนขับรถม้า": 2, "กาดกองต้า": 0}
    rounds = charts["rounds"]
    assert "2 คน" in rounds["title"]
    first, second = (dataset["data"][0] for dataset in rounds["datasets"])
    assert (first, second) == (2.5, 3.5)
