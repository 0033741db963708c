#!/usr/bin/env python3
"""Benchmark: the console's dashboard over a city's worth of answers.

    .venv/bin/python bench/dashboard.py [--database-url URL] [--respondents N] [--answers-each K]

What it does, in one run:

1. Fills a fresh database (SQLite in a temp dir by default; on PostgreSQL a database
   `bench_dashboard` made for the run and dropped at the end) with `--respondents` real
   respondents (default 20,000) across the pilot groups and municipalities, each with a completed
   assessment of `--answers-each` answers (default 50: 1,000,000 answers), spread over 60 days,
   and a registration at one of the demo workshops for one in ten.
2. Times the dashboard page as a signed-in researcher sees it (every figure counted by the
   database), five times, and prints the median and the worst.
3. The floor, in the same run: one `SELECT count(*)` over the answers, the least a page that
   counted answers would pay (the dashboard counts respondents and submissions instead).

This is a benchmark, not a test: it asserts nothing and touches no database but its own.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_DATABASE = "bench_dashboard"
GROUPS = ("carriage", "entrepreneur", "government", "culture", "kadkongta", "other")
MUNICIPALITIES = ("nakhon", "khelang", "other")
CHANNELS = ("line", "line", "line", "telegram", "assisted")
LOADS = 5
BATCH = 20_000


def main() -> None:
    """Fill, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--respondents", type=int, default=20_000)
    parser.add_argument("--answers-each", type=int, default=50)
    args = parser.parse_args()
    drop = None
    if args.database_url:
        from bench.run_database import create_run_database

        made = create_run_database(args.database_url, PG_DATABASE)
        url, drop = made.url, made.drop
        label = f"PostgreSQL {made.version}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-dashboard-')}/bot.db"
        label = "SQLite"
    try:
        run(url, label, args.respondents, args.answers_each)
    finally:
        if drop:
            drop()


def run(url: str, label: str, respondents: int, answers_each: int) -> None:
    """One run on one database."""
    from sqlalchemy import func, select

    from bot import create_app
    from bot.console.accounts import hash_password
    from storage.migrate import upgrade
    from storage.models import Answer
    from storage.staff import add_user

    now = datetime.now(UTC)
    upgrade(url)
    # the benchmark signs in with a plain post: the CSRF check is not what it measures
    app = create_app({"DATABASE_URL": url, "TESTING": True, "WTF_CSRF_ENABLED": False})
    assert app.test_cli_runner().invoke(args=["load-demo"]).exit_code == 0
    rt = app.extensions["runtime"]
    started = time.perf_counter()
    fill(rt.db, respondents, answers_each, now)
    filled = time.perf_counter() - started
    with rt.db.begin() as session:
        add_user(session, "bench@example.org", "researcher", hash_password("bench-password-1"), now)
    client = app.test_client()
    client.post(
        "/console/login",
        data={"email": "bench@example.org", "password": "bench-password-1"},
    )
    loads = []
    for _ in range(LOADS):
        began = time.perf_counter()
        page = client.get("/console/dashboard")
        loads.append(time.perf_counter() - began)
        assert page.status_code == 200, page.status_code
    floors = []
    for _ in range(LOADS):
        with rt.db() as session:
            began = time.perf_counter()
            counted = session.scalar(select(func.count()).select_from(Answer))
            floors.append(time.perf_counter() - began)
    rt.close()
    floor = statistics.median(floors)
    median = statistics.median(loads)
    print(f"{label}: {respondents:,} respondents, {counted:,} answers (filled in {filled:.0f} s)")
    print(f"  dashboard page   median {median * 1000:8.1f} ms   worst {max(loads) * 1000:8.1f} ms")
    print(
        f"  floor: count(*)  median {floor * 1000:8.1f} ms   (page = {median / floor:.1f}x floor)"
    )


def fill(db, respondents: int, answers_each: int, now: datetime) -> None:
    """The respondents, their submissions, answers, consents and some registrations, in bulk."""
    from sqlalchemy import insert, select

    from storage.models import (
        Answer,
        ConsentRecord,
        Conversation,
        Registration,
        Respondent,
        Submission,
        SurveyVersion,
        Workshop,
    )

    chance = random.Random(2569)
    with db.begin() as session:
        version = session.scalars(
            select(SurveyVersion.id).where(SurveyVersion.form_id == "active_citizen")
        ).first()
        workshops = session.scalars(select(Workshop.id)).all()
    for first in range(0, respondents, BATCH):
        ids = range(first + 1, min(first + BATCH, respondents) + 1)
        people, consents, conversations, submissions, answers, seats = [], [], [], [], [], []
        for n in ids:
            joined = now - timedelta(days=chance.uniform(0, 60))
            people.append(
                {
                    "id": n,
                    "channel": chance.choice(CHANNELS),
                    "channel_user_id": f"U{n:032d}",
                    "language": "th",
                    "profile": {
                        "group": chance.choice(GROUPS),
                        "municipality": chance.choice(MUNICIPALITIES),
                    },
                    "reachable": True,
                    "consent_withdrawn": False,
                    "is_test": False,
                    "created_at": joined,
                }
            )
            consents.append(
                {
                    "respondent_id": n,
                    "wording_version": "v1",
                    "given": True,
                    "recorded_at": joined,
                    "channel": "line",
                    "entered_by": "respondent",
                }
            )
            conversations.append(
                {"respondent_id": n, "state": {}, "version": 1, "updated_at": joined}
            )
            submissions.append(
                {
                    "id": n,
                    "uuid": f"00000000-0000-0000-0000-{n:012d}",
                    "respondent_id": n,
                    "survey_version_id": version,
                    "channel": "line",
                    "round": 1,
                    "started_at": joined,
                    "completed_at": joined + timedelta(minutes=12),
                }
            )
            answers += [
                {
                    "submission_id": n,
                    "respondent_id": n,
                    "survey_version_id": version,
                    "question": f"q{k}",
                    "raw": "ทำบ่อย",
                    "value": "4",
                    "answered_at": joined + timedelta(seconds=10 * k),
                    "channel": "line",
                    "entered_by": "respondent",
                }
                for k in range(answers_each)
            ]
            if workshops and n % 10 == 0:
                seats.append(
                    {
                        "workshop_id": chance.choice(workshops),
                        "respondent_id": n,
                        "status": chance.choice(("registered", "attended", "no_show")),
                        "calendar_token": f"bench-{n}",
                        "created_at": joined,
                    }
                )
        with db.begin() as session:
            for model, rows in (
                (Respondent, people),
                (ConsentRecord, consents),
                (Conversation, conversations),
                (Submission, submissions),
                (Answer, answers),
                (Registration, seats),
            ):
                if rows:
                    session.execute(insert(model), rows)


if __name__ == "__main__":
    main()
