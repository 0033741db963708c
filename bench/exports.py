#!/usr/bin/env python3
"""Benchmark: exports of 20,000 assessments (1,000,000 answers) as CSV, XLSX and SPSS.

    .venv/bin/python bench/exports.py [--database-url URL] [--respondents N]

It fills a fresh database in bulk (SQLite in a temp dir by default; on PostgreSQL a database
`bench_exports` made for the run and dropped after) with `--respondents` completed assessments,
each answering the assessment's 48 scored items and two more answers changed later (50 answers
each). Then, in the same run:

- the floor: the time only to read those answers from the database, streamed;
- each format through `flask --app bot export` in its own process, the better of two runs: the
  wall time (its start, about 3 s of imports, included) and the process's peak resident memory
  (VmHWM).

Goals (issue 14): CSV ≤ 2× the floor, XLSX and SAV ≤ 5×, peak RSS ≤ 300 MB for every format.
This is a benchmark, not a test: it asserts nothing and touches no database but its own.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_DATABASE = "bench_exports"
GROUPS = ("carriage", "entrepreneur", "government", "culture", "kadkongta", "other")
MUNICIPALITIES = ("nakhon", "khelang", "other")
BATCH = 2_000
FLASK = ROOT / ".venv" / "bin" / "flask"


def fill(url: str, respondents: int) -> int:
    """The respondents, their assessments and answers, in bulk; how many answers."""
    from sqlalchemy import insert, select

    from bot import create_app
    from storage.models import Answer, Respondent, Submission, SurveyVersion

    app = create_app({"DATABASE_URL": url})
    assert app.test_cli_runner().invoke(args=["load-demo"]).exit_code == 0
    rt = app.extensions["runtime"]
    with rt.db() as session:
        version = session.scalars(
            select(SurveyVersion).where(SurveyVersion.form_id == "active_citizen")
        ).first()
        items = rt.library.flow(version).scoring.items
    chance = random.Random(2569)
    now, written = datetime.now(UTC), 0
    for first in range(1, respondents + 1, BATCH):
        ids = range(first, min(first + BATCH, respondents + 1))
        people, submissions, answers = [], [], []
        for n in ids:
            joined = now - timedelta(days=chance.uniform(0, 60))
            people.append(
                {
                    "id": n,
                    "channel": "line",
                    "channel_user_id": f"U{n:032d}",
                    "profile": {
                        "group": chance.choice(GROUPS),
                        "municipality": chance.choice(MUNICIPALITIES),
                    },
                    "created_at": joined,
                }
            )
            submissions.append(
                {
                    "id": n,
                    "uuid": f"00000000-0000-0000-0000-{n:012d}",
                    "respondent_id": n,
                    "survey_version_id": version.id,
                    "channel": "line",
                    "round": 1,
                    "started_at": joined,
                    "completed_at": joined + timedelta(minutes=12),
                    "scores": {"characteristics": {"c1": 3.5}, "subfeatures": {"c1_1": 3.25}},
                }
            )
            lean = chance.randint(0, 4)
            picked = [(item, (lean + chance.randint(-1, 1)) % 5) for item in items]
            picked += picked[:2]  # two answers changed later: the export takes the newest
            for k, (item, choice) in enumerate(picked):
                value = sorted(item.scale, key=item.scale.get)[choice % len(item.scale)]
                answers.append(
                    {
                        "submission_id": n,
                        "respondent_id": n,
                        "survey_version_id": version.id,
                        "question": item.name,
                        "raw": value,
                        "value": value,
                        "answered_at": joined + timedelta(seconds=10 * k),
                        "channel": "line",
                        "entered_by": "respondent",
                    }
                )
        with rt.db.begin() as session:
            session.execute(insert(Respondent), people)
            session.execute(insert(Submission), submissions)
            session.execute(insert(Answer), answers)
        written += len(answers)
    rt.close()
    return written


def floor(url: str) -> float:
    """Seconds to read every answer from the database, streamed, and nothing else."""
    from sqlalchemy import select

    from storage.db import make_engine
    from storage.models import Answer

    engine = make_engine(url)
    started = time.perf_counter()
    with engine.connect() as connection:
        rows = connection.execution_options(yield_per=5000).execute(
            select(Answer.submission_id, Answer.question, Answer.value).order_by(Answer.id)
        )
        for _ in rows:
            pass
    took = time.perf_counter() - started
    engine.dispose()
    return took


def export(url: str, fmt: str, out: Path) -> tuple[float, float]:
    """One `flask export` in its own process: its wall time (s) and peak memory (MB)."""
    command = ["export", "--survey", "active_citizen", "--format", fmt, "--out", str(out)]
    return flask(url, command)


def flask(url: str, command: list[str]) -> tuple[float, float]:
    """One `flask --app bot` command in its own process: wall time (s), peak memory (MB)."""
    env = os.environ | {"DATABASE_URL": url, "PSEUDONYM_KEY": "bench"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(FLASK), "--app", "bot", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # The process's own high-water mark (VmHWM), read while it runs: its ru_maxrss would count
    # the memory of this process, which it was forked from before it ran flask.
    peak = 0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            marks = [line for line in status.read_text().splitlines() if line.startswith("VmHWM")]
        except OSError:
            marks = []
        if marks:
            peak = max(peak, int(marks[0].split()[1]))
        time.sleep(0.02)
    took = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{command} failed: {process.stderr.read().decode()[-2000:]}")
    return took, peak / 1024


def main() -> None:
    """Fill, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--respondents", type=int, default=20_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-exports-"))
    drop = None
    from storage.migrate import upgrade

    if args.database_url:
        from bench.run_database import create_run_database

        made = create_run_database(args.database_url, PG_DATABASE)
        url, drop, label = made.url, made.drop, f"PostgreSQL {made.version}"
    else:
        url, label = f"sqlite:///{workdir / 'bot.db'}", "SQLite"
    try:
        upgrade(url)
        started = time.perf_counter()
        answers = fill(url, args.respondents)
        print(
            f"{label}: {args.respondents:,} assessments, {answers:,} answers"
            f" (filled in {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        floor(url)  # once to warm the caches, as the exports after it find them
        base = min(floor(url) for _ in range(3))  # the best of three, as for the exports
        print(f"  floor: read every answer     {base:7.2f} s", flush=True)
        start, start_peak = min(flask(url, ["--help"]) for _ in range(2))
        print(
            f"  process start (imports, app; no export): {start:5.2f} s, {start_peak:4.0f} MB",
            flush=True,
        )
        for fmt, goal in (("csv", 2), ("xlsx", 5), ("sav", 5)):
            out = workdir / f"export.{fmt}"
            # the better of two runs: this machine's runs vary by a second or two
            took, peak = min(export(url, fmt, out) for _ in range(2))
            size = out.stat().st_size / 1e6
            alone = took - start
            print(
                f"  {fmt:4}  {took:6.2f} s, {alone:6.2f} s past the start = {alone / base:4.1f}x"
                f" the floor (goal ≤ {goal}x); peak RSS {peak:4.0f} MB (goal ≤ 300);"
                f" file {size:5.1f} MB",
                flush=True,
            )
    finally:
        if drop:
            drop()


if __name__ == "__main__":
    main()
