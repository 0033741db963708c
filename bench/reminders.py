#!/usr/bin/env python3
"""Benchmark: 10,000 workshop reminders falling due in the same minute, sent by worker processes.

    .venv/bin/python bench/reminders.py [--database-url URL] [--workers N] [--spread SECONDS]

What it does, in one run (see bench/README.md for how to read the output):

1. Writes `--count` reminders (default 10,000) for as many LINE users seated at workshops, through
   storage.reminders.schedule_reminders, into a fresh database (SQLite in a temp dir by default; on
   PostgreSQL a database `bench_reminders` created for the run and dropped at the end).
2. Starts the fake LINE API (tests/fake_line.py) in this process and `--workers` processes of
   `flask --app bot worker` (default 2) against it; once they all poll, moves the reminders'
   due times to a few seconds ahead, spread evenly over `--spread` seconds (default 60: the same
   minute; 0: the same instant).
3. Measures how late each reminder reached the fake (arrival minus due time), the messages/s
   achieved, and duplicates (a user with more than one message, a retry key accepted twice).
4. Ceiling, with the workers stopped: the same number of processes push the same number of
   messages straight to a fresh fake, as fast as they can, first over raw keep-alive HTTP (the
   fake's own accept rate), then through the bot's LineSender (adding the LINE SDK's cost).

This is a benchmark, not a test: it asserts nothing and touches no database but its own.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VENV_BIN = ROOT / ".venv" / "bin"
#: The app's own database for a PostgreSQL run; created at the start, dropped at the end.
PG_DATABASE = "bench_reminders"
TZ = ZoneInfo("Asia/Bangkok")
#: Seats per workshop; the reminders are spread over count / SEATS workshops.
SEATS = 500
#: LINE's documented rate limit for push (under "Other API endpoints"), per channel.
LINE_PUSH_LIMIT = 2000
#: The goal: 99 % of reminders reach LINE within this many seconds of their due time.
GOAL_P99 = 5.0


@dataclass
class Database:
    """Where the app's tables live for this run, and how to clean up after it."""

    kind: str
    url: str
    description: str
    cleanup: list[Callable[[], None]] = field(default_factory=list)


def prepare_database(url: str | None, workdir: Path) -> Database:
    """A fresh, migrated database: a temp SQLite file, or `bench_reminders` beside `url`."""
    from sqlalchemy import make_url

    from bench.run_database import create_run_database
    from storage.migrate import upgrade

    if url is None:
        path = workdir / "bench.db"
        db = Database("sqlite", f"sqlite:///{path}", f"SQLite (fresh file {path})")
    else:
        if not make_url(url).drivername.startswith("postgresql"):
            raise SystemExit(f"--database-url must be PostgreSQL (SQLite is the default): {url}")
        run = create_run_database(url, PG_DATABASE)
        db = Database("postgresql", run.url, f"PostgreSQL {run.version}, database {PG_DATABASE}")
        db.cleanup.append(run.drop)
    upgrade(db.url)
    return db


def line_user(n: int) -> str:
    """The n-th LINE user id: U and 32 hex digits."""
    return f"U{n:032x}"


def render(workshop: Any, _due_at: datetime) -> dict[str, Any]:
    """A reminder as the bot words it: course, start and venue, in Thai."""
    from bot.thai_dates import format_thai_datetime

    when = format_thai_datetime(workshop.starts_at.astimezone(TZ))
    text = f"พรุ่งนี้มีอบรมนะคะ: {workshop.course.title_th}\n{when} ที่ {workshop.venue}"
    return {"text": text, "buttons": []}


def write_reminders(db: Database, count: int) -> None:
    """Seat `count` LINE users at workshops a month ahead, each with a 2-hour reminder."""
    from storage.db import make_engine, session_factory
    from storage.models import Course, Registration, Respondent, Workshop
    from storage.reminders import schedule_reminders

    now = datetime.now(UTC)
    starts_at = now + timedelta(days=30)
    engine = make_engine(db.url)
    with session_factory(engine).begin() as session:
        course = Course(
            code="BENCH",
            title_th="ขนมพื้นบ้านลำปาง",
            title_en="Lampang sweets",
            kind="upskill",
            groups=[],
            focus=[],
        )
        workshops = [
            Workshop(
                course=course,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=3),
                venue=f"ศาลาประชาคม หมู่ {k + 1}",
                capacity=SEATS,
                registration_deadline=starts_at,
                status="open",
                reminders=[{"hours_before": 2}],
            )
            for k in range(-(-count // SEATS))
        ]
        respondents = [
            Respondent(channel="line", channel_user_id=line_user(n), profile={}, created_at=now)
            for n in range(count)
        ]
        session.add_all([*workshops, *respondents])
        session.flush()
        seats = [
            Registration(
                workshop_id=workshops[n // SEATS].id,
                respondent_id=respondent.id,
                status="registered",
                created_at=now,
            )
            for n, respondent in enumerate(respondents)
        ]
        session.add_all(seats)
        session.flush()
        for registration, respondent in zip(seats, respondents, strict=True):
            schedule_reminders(session, registration, respondent, now, TZ, render)
    engine.dispose()


def set_due_times(db: Database, first_due: datetime, spread: float) -> dict[str, datetime]:
    """Make the reminders fall due from `first_due`, evenly over `spread` seconds, and the
    workshops start two hours after the last; return each reminder's retry key and due time."""
    from sqlalchemy import select, update

    from storage.db import make_engine, session_factory
    from storage.models import OutboxMessage, Workshop

    engine = make_engine(db.url)
    with session_factory(engine).begin() as session:
        ids = list(session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
        step = spread / len(ids)
        session.execute(
            update(OutboxMessage),
            [
                {"id": i, "due_at": first_due + timedelta(seconds=n * step)}
                for n, i in enumerate(ids)
            ],
        )
        starts_at = first_due + timedelta(seconds=spread, hours=2)
        session.execute(
            update(Workshop).values(starts_at=starts_at, registration_deadline=starts_at)
        )
    with session_factory(engine)() as session:
        rows = session.execute(select(OutboxMessage.retry_key, OutboxMessage.due_at))
        due = {retry_key: due_at for retry_key, due_at in rows}
    engine.dispose()
    return due


def outbox_summary(db: Database) -> tuple[Counter, int]:
    """How many reminders ended in each status, and how many took more than one attempt."""
    from sqlalchemy import func, select

    from storage.db import make_engine, session_factory
    from storage.models import OutboxMessage

    engine = make_engine(db.url)
    with session_factory(engine)() as session:
        rows = session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        statuses = Counter({status: n for status, n in rows})
        retried = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.attempts > 1)
        )
    engine.dispose()
    return statuses, retried or 0


def start_workers(db: Database, fake: Any, count: int, workdir: Path) -> list[subprocess.Popen]:
    """Start `count` worker processes, logging to files in workdir; wait until all poll."""
    env = os.environ | {
        "DATABASE_URL": db.url,
        "LINE_CHANNEL_ACCESS_TOKEN": fake.token,
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "LINE_API_BASE_URL": fake.base_url,
        "LINE_CHANNEL_SECRET": "bench",
        "LOG_LEVEL": "INFO",
    }
    workers = []
    for n in range(count):
        with (workdir / f"worker-{n}.log").open("wb") as log:
            workers.append(
                subprocess.Popen(
                    [str(VENV_BIN / "flask"), "--app", "bot", "worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
    deadline = time.monotonic() + 120
    while not all(
        b'"worker started"' in (workdir / f"worker-{n}.log").read_bytes() for n in range(count)
    ):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise SystemExit(f"workers did not start; see the logs in {workdir}")
        time.sleep(0.1)
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    """SIGTERM: each worker finishes its round (recording outcomes) and exits."""
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def worker_shares(workdir: Path, count: int) -> list[int]:
    """Messages each worker reported sent, from the "delivered" lines of its JSON log."""
    shares = []
    for n in range(count):
        entries = [
            json.loads(line)
            for line in (workdir / f"worker-{n}.log").read_text().splitlines()
            if line.startswith("{")
        ]
        shares.append(sum(e.get("sent", 0) for e in entries if e["message"] == "delivered"))
    return shares


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a live process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of already sorted values."""
    rank = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def machine_cpu() -> tuple[float, float]:
    """CPU seconds all cores have been busy, and have existed, since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    per_second = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / per_second, sum(ticks) / per_second


def machine_busy(seconds: float = 1.0) -> float:
    """How busy all cores are right now, in % (to warn of a noisy neighbour)."""
    busy, total = machine_cpu()
    time.sleep(seconds)
    busy_after, total_after = machine_cpu()
    return (busy_after - busy) / max(total_after - total, 1e-9) * 100


# -- the ceiling: pushes straight to the fake -----------------------------------------------------


def _push_loop(
    base_url: str, token: str, first: int, count: int, sdk: bool, ready: Any, out: Any
) -> None:
    """Push `count` messages to users first.. as fast as possible; report (start, end, errors)."""
    from bot.line.sender import LineSender, Outcome

    text = "พรุ่งนี้มีอบรมนะคะ: ขนมพื้นบ้านลำปาง\nเสาร์ 5 ธ.ค. 2569 เวลา 13:00 น. ที่ ศาลาประชาคม"
    messages = [{"type": "text", "text": text}]
    errors = 0
    ready.wait()  # every process has done its imports: start together
    started = time.time()
    if sdk:
        sender = LineSender(base_url, token)
        for n in range(first, first + count):
            result = sender.push(line_user(n), messages, str(uuid.uuid4()))
            errors += result.outcome is not Outcome.SENT
    else:
        address = urlsplit(base_url)
        connection = http.client.HTTPConnection(address.hostname, address.port)
        for n in range(first, first + count):
            body = json.dumps({"to": line_user(n), "messages": messages}).encode()
            connection.request(
                "POST",
                "/v2/bot/message/push",
                body,
                {
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "X-Line-Retry-Key": str(uuid.uuid4()),
                },
            )
            response = connection.getresponse()
            response.read()
            errors += response.status != 200
        connection.close()
    out.put((started, time.time(), errors))


def ceiling(processes: int, count: int, sdk: bool) -> tuple[float, int]:
    """Messages/s `processes` processes push straight to a fresh fake; and the errors."""
    from tests.fake_line import FakeLine

    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    ready = context.Barrier(processes)
    share = -(-count // processes)
    with FakeLine() as fake:
        children = [
            context.Process(
                target=_push_loop,
                args=(
                    fake.base_url,
                    fake.token,
                    p * share,
                    min(share, count - p * share),
                    sdk,
                    ready,
                    out,
                ),
            )
            for p in range(processes)
        ]
        for child in children:
            child.start()
        results = [out.get(timeout=600) for _ in children]
        for child in children:
            child.join()
    elapsed = max(end for _, end, _ in results) - min(start for start, _, _ in results)
    return count / elapsed, sum(errors for _, _, errors in results)


# -- the run --------------------------------------------------------------------------------------


def main() -> int:
    """Run the benchmark and print its report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server to use (default: SQLite)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--count", type=int, default=10_000, help="reminders (default 10,000)")
    parser.add_argument(
        "--spread",
        type=float,
        default=60,
        help="seconds over which the due times are spread (default 60; 0: all at once)",
    )
    parser.add_argument(
        "--lead", type=float, default=3, help="seconds from setting the due times to the first"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (worker logs)")
    args = parser.parse_args()

    from tests.fake_line import FakeLine

    workdir = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    print(f"machine: {os.cpu_count()} cores, {machine_busy():.0f} % busy before the start")
    db = prepare_database(args.database_url, workdir)
    fake = FakeLine().start()
    workers: list[subprocess.Popen] = []
    try:
        started = time.perf_counter()
        write_reminders(db, args.count)
        print(f"wrote {args.count} reminders in {time.perf_counter() - started:.1f} s")
        workers = start_workers(db, fake, args.workers, workdir)
        workers_cpu = -sum(cpu_seconds(worker.pid) for worker in workers)
        fake_cpu = -time.process_time()
        machine_before = machine_cpu()
        started = time.perf_counter()
        first_due = datetime.now(UTC) + timedelta(seconds=args.lead)
        due = set_due_times(db, first_due, args.spread)
        print(f"set the due times in {time.perf_counter() - started:.2f} s (lead {args.lead} s)")
        fake.wait_for_messages(args.count, timeout=args.lead + args.spread + 600)
        workers_cpu += sum(cpu_seconds(worker.pid) for worker in workers)
        fake_cpu += time.process_time()
        machine_after = machine_cpu()
        stop_workers(workers)
        shares = worker_shares(workdir, args.workers)
        statuses, retried = outbox_summary(db)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        fake.stop()
        for cleanup in db.cleanup:
            cleanup()

    # The fake stamps requests with time.monotonic(); this turns that into wall-clock time.
    wall_offset = time.time() - time.monotonic()
    accepted = [r for r in fake.pushes() if r.status == 200]
    lateness = sorted(
        r.received_at + wall_offset - due[r.headers["x-line-retry-key"]].timestamp()
        for r in accepted
    )
    arrivals = sorted(r.received_at for r in accepted)
    # Each user has one reminder: a second message to anyone is a duplicate.
    duplicates = sum(n - 1 for n in Counter(r.json["to"] for r in accepted).values())
    conflicts = sum(r.status == 409 for r in fake.pushes())
    achieved = len(accepted) / max(arrivals[-1] - arrivals[0], 1e-9)

    raw_rate, raw_errors = ceiling(args.workers, args.count, sdk=False)
    sdk_rate, sdk_errors = ceiling(args.workers, args.count, sdk=True)
    if args.keep:
        print(f"worker logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)

    offered = (
        f"over {args.spread:g} s ({args.count / args.spread:,.0f}/s offered)"
        if args.spread
        else "all at the same instant"
    )
    print()
    print(f"database: {db.description}")
    print(
        f"{args.count} reminders due {offered}, "
        f"{args.workers} workers; messages each worker sent: {shares}"
    )
    print()
    print("                                      p50 s    p99 s    max s    min s  messages/s")
    print(
        f"reminders: arrival - due_at       {percentile(lateness, 50):8.2f} "
        f"{percentile(lateness, 99):8.2f} {lateness[-1]:8.2f} {lateness[0]:8.2f}"
        f"  {achieved:10,.0f}"
    )
    print(f"ceiling: raw HTTP pushes, {args.workers} procs {'':33}{raw_rate:10,.0f}")
    print(f"ceiling: LineSender pushes, {args.workers} procs {'':31}{sdk_rate:10,.0f}")
    print(f"LINE's documented push limit {'':37}{LINE_PUSH_LIMIT:10,}")
    print()
    print(
        f"pipeline / ceiling: {achieved / raw_rate:.0%} of raw HTTP, "
        f"{achieved / sdk_rate:.0%} of LineSender (meaningful when the offered rate exceeds them)"
    )
    print(
        f"CPU per message: workers {workers_cpu / args.count * 1000:.2f} ms, "
        f"this process (mostly the fake LINE API) {fake_cpu / args.count * 1000:.2f} ms"
    )
    print(
        f"outbox: {dict(statuses)}; taken more than once: {retried}; "
        f"409 (retry key already accepted): {conflicts}; ceiling errors: {raw_errors + sdk_errors}"
    )
    busy = machine_after[0] - machine_before[0]
    capacity = machine_after[1] - machine_before[1]
    print(
        f"machine during the run: {busy / capacity:.0%} busy, of which workers and this process "
        f"{(workers_cpu + fake_cpu) / capacity:.0%} (the rest: the database, anything else)"
    )
    print(f"duplicates delivered: {duplicates}")
    p99 = percentile(lateness, 99)
    print(f"goal p99 <= {GOAL_P99:g} s: {'MET' if p99 <= GOAL_P99 else 'NOT MET'} ({p99:.2f} s)")
    print(f"goal no duplicates: {'MET' if duplicates == 0 else 'NOT MET'} ({duplicates})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
