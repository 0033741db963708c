#!/usr/bin/env python3
"""Fault injection: a database outage, then `kill -9` of every process mid-send, then a restart.

    .venv/bin/python bench/faults.py [--database-url URL] [--users 20] [--api-delay 2]

What it does, in one run, with the app under gunicorn (2 workers) and one delivery worker, as
the Procfile runs them, against a fresh database (SQLite by default; on PostgreSQL a database
`bench_faults` made for the run and dropped at the end), and the fake LINE API on loopback:

1. Outage. Every user follows the bot. Then the database is made unavailable: on PostgreSQL it
   refuses connections (ALLOW_CONNECTIONS false, its backends terminated); on SQLite another
   program holds the write lock. Each user sends a message meanwhile. This script plays LINE:
   a body answered other than 2xx is redelivered, unchanged, every second, until it gets a 200.
   After a few seconds the database comes back.
2. Crash. The fake LINE API now holds every answer for --api-delay seconds (it still takes the
   request, as LINE may). Each user sends 3 messages; once replies are under way, gunicorn's
   master and workers and the delivery worker are all killed with SIGKILL. Then gunicorn and a
   worker start again, and the outbox is left to drain.
3. Report: for every message the outbox holds, what reached the user: lost (never arrived, or
   not sent in the end), delivered twice, and how many replies were taken as delivered
   unconfirmed (a reply tried before the crash whose token was too old to ask LINE again).
   Also the events answered 5xx and redelivered, whether each was handled exactly once, and
   how long the processes took to exit on SIGTERM at the end.

The goal (issue 9): 0 lost and 0 delivered twice. This is a benchmark script, not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.line_webhook import (  # noqa: E402 - after the path is set
    VENV_BIN,
    Database,
    app_env,
    event_body,
    free_port,
    prepare_database,
    run_cli,
    sign,
    start_fake_line,
    start_gunicorn,
)

PG_APP_DATABASE = "bench_faults"
#: How long the database stays unavailable in the outage phase.
OUTAGE_SECONDS = 4.0
#: LINE redelivers a failed webhook; this script does so every second.
REDELIVER_EVERY = 1.0
#: What each user writes in the crash phase.
TEXTS = ["ช่วยเหลือ", "สวัสดีค่ะ", "ขอบคุณค่ะ"]


class Webhooks:
    """Posts bodies as LINE does, redelivering each until it is answered 2xx; counts answers."""

    def __init__(self, port_box: list[int]):
        self.port_box = port_box
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.redelivered = 0  # bodies that got a non-2xx first and a 200 later
        self.event_ids: list[str] = []

    def deliver(self, body: bytes, give_up_after: float = 120) -> None:
        """Post the body until it gets a 200 (a refused connection counts as a failure too)."""
        event_ids = [e["webhookEventId"] for e in json.loads(body)["events"]]
        failed_once = False
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            status = self._post(body)
            with self.lock:
                self.statuses[status] += 1
            if status == 200:
                with self.lock:
                    self.event_ids += event_ids
                    self.redelivered += failed_once
                return
            failed_once = True
            time.sleep(REDELIVER_EVERY)
        raise RuntimeError("a webhook body was never answered 200")

    def _post(self, body: bytes) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port_box[0], timeout=5)
        try:
            connection.request("POST", "/webhooks/line", body, {"X-Line-Signature": sign(body)})
            answer = connection.getresponse()
            answer.read()
            return answer.status
        except OSError:
            return 0  # refused or reset: the app is down (LINE would count it failed)
        finally:
            connection.close()


def in_parallel(jobs) -> None:
    """Run the callables in threads and wait for all."""
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`flask --app bot worker`, logging to log_path."""
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [str(VENV_BIN / "flask"), "--app", "bot", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return process


def kill_9(process: subprocess.Popen) -> None:
    """SIGKILL the process and its whole group (gunicorn's workers are its children)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def stop_timed(process: subprocess.Popen) -> float:
    """SIGTERM; return the seconds until it exited (SIGKILL after 30 s)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        kill_9(process)
    return time.monotonic() - started


class Outage:
    """The database made unavailable for real, and brought back."""

    def __init__(self, db: Database):
        self.db = db
        self.holder: sqlite3.Connection | None = None

    def begin(self) -> None:
        """PostgreSQL refuses connections; SQLite's write lock is held by another program."""
        if self.db.kind == "sqlite":
            from sqlalchemy import make_url

            self.holder = sqlite3.connect(make_url(self.db.app_url).database, isolation_level=None)
            self.holder.execute("BEGIN IMMEDIATE")
            return
        self._admin(
            f"ALTER DATABASE {PG_APP_DATABASE} ALLOW_CONNECTIONS false",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{PG_APP_DATABASE}'",
        )

    def end(self) -> None:
        """The database is back."""
        if self.holder is not None:
            self.holder.rollback()
            self.holder.close()
            return
        self._admin(f"ALTER DATABASE {PG_APP_DATABASE} ALLOW_CONNECTIONS true")

    def _admin(self, *statements: str) -> None:
        from sqlalchemy import create_engine, text

        admin = create_engine(self.db.scratch_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
        admin.dispose()


def outbox_rows(db: Database) -> tuple[list[tuple], int]:
    """(id, address, payload, status, last_error) of every message to a user, oldest first;
    and how many events were stored."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db.app_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, address, payload, status, last_error FROM outbox_message "
                "WHERE respondent_id IS NOT NULL ORDER BY id"
            )
        ).all()
        events = connection.execute(text("SELECT count(*) FROM processed_event")).scalar()
    engine.dispose()
    decoded = [(i, a, p if isinstance(p, dict) else json.loads(p), s, e) for i, a, p, s, e in rows]
    return decoded, events


def wait_drained(db: Database, limit: float = 180) -> float:
    """Wait until no message is pending or being sent; return how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        rows, _ = outbox_rows(db)
        if not any(status in ("pending", "sending") for *_, status, _ in rows):
            return time.monotonic() - started
        time.sleep(0.5)
    return time.monotonic() - started


def tally(db: Database, fake, users: list[str]) -> dict[str, int]:
    """What the outbox says was to be delivered against what reached each user."""
    from tests.line_user import lost_and_doubled

    rows, events = outbox_rows(db)
    lost, twice = lost_and_doubled(db.app_url, fake, users)
    mine = [row for row in rows if row[1] in set(users)]
    return {
        "outbox messages": len(mine),
        "lost": lost,
        "twice": twice,
        "unconfirmed": sum((error or "").startswith("unconfirmed") for *_, error in mine),
        "events stored": events,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--users", type=int, default=20, help="LINE users")
    parser.add_argument("--api-delay", type=float, default=2.0, help="seconds LINE holds answers")
    parser.add_argument("--kill-after", type=int, default=15, help="kill once LINE got N calls")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    ports: set[int] = set()
    fake = gunicorn = worker = None
    db: Database | None = None
    try:
        fake = start_fake_line(free_port(ports))
        db = prepare_database(args.database_url, workdir, PG_APP_DATABASE)
        env = app_env(db, fake)
        print(f"database: {db.label}", flush=True)
        run_cli("migrate", env)
        run_cli("load-demo", env)
        port = [free_port(ports)]
        gunicorn = start_gunicorn(port[0], 2, 4, env, workdir / "gunicorn.log")
        worker = start_worker(env, workdir / "worker.log")
        users = [f"U{uuid.uuid4().hex}" for _ in range(args.users)]
        hooks = Webhooks(port)

        print("1. outage: every user follows, then writes while the database is away ...")
        in_parallel([lambda u=u: hooks.deliver(event_body(fake, u, "follow", "")) for u in users])
        outage = Outage(db)
        outage.begin()
        during = [event_body(fake, u, "text", "ช่วยเหลือ") for u in users]
        senders = [threading.Thread(target=hooks.deliver, args=(body,)) for body in during]
        for thread in senders:
            thread.start()
        time.sleep(OUTAGE_SECONDS)
        outage.end()
        for thread in senders:
            thread.join()
        answered_5xx = sum(n for status, n in hooks.statuses.items() if status >= 500)
        print(f"   answers during the outage phase: {dict(hooks.statuses)}")
        wait_drained(db, 60)

        print(f"2. crash: LINE holds each answer {args.api_delay:g} s; 3 messages per user ...")
        fake.delay_next(args.api_delay, count=10**6)
        calls_before = len(fake.requests)

        def three(user: str) -> None:
            for text in TEXTS:
                hooks.deliver(event_body(fake, user, "text", text))

        in_parallel([lambda u=u: three(u) for u in users])
        while len(fake.requests) - calls_before < args.kill_after:
            time.sleep(0.05)
        kill_9(gunicorn)
        kill_9(worker)
        rows, _ = outbox_rows(db)
        held = Counter(status for *_, status, _ in rows)
        print(f"   killed gunicorn and the worker (SIGKILL); outbox then: {dict(held)}")
        gunicorn = start_gunicorn(port[0], 2, 4, env, workdir / "gunicorn.log")
        worker = start_worker(env, workdir / "worker.log")
        drained = wait_drained(db)
        print(f"   restarted; the outbox drained in {drained:.1f} s")

        fake.delay_next(0, count=1)  # nothing more is sent; stop timing with a quiet API
        exit_web, exit_worker = stop_timed(gunicorn), stop_timed(worker)
        gunicorn = worker = None
        result = tally(db, fake, users)
        sent_events = len(set(hooks.event_ids))
        line = "-" * 78
        print(line)
        print(f"database             : {db.label}")
        print(f"users                : {args.users}; LINE API answers held {args.api_delay:g} s")
        print(f"messages in outbox   : {result['outbox messages']} (to the users)")
        print(f"lost                 : {result['lost']} LINE messages")
        print(f"delivered twice      : {result['twice']} LINE messages")
        print(f"replies unconfirmed  : {result['unconfirmed']} (taken as delivered)")
        print(
            f"webhooks answered 5xx: {answered_5xx}, bodies then redelivered and taken: "
            f"{hooks.redelivered}"
        )
        print(
            f"events handled once  : {result['events stored']} stored for {sent_events} sent"
            f" ({'yes' if result['events stored'] == sent_events else 'NO'})"
        )
        print(f"exit on SIGTERM      : gunicorn {exit_web:.1f} s, worker {exit_worker:.1f} s")
        goal = result["lost"] == 0 and result["twice"] == 0
        print(f"goal 0 lost, 0 twice : {'MET' if goal else 'NOT MET'}")
        print(line)
        return 0
    finally:
        for process in (gunicorn, worker):
            if process is not None and process.poll() is None:
                kill_9(process)
        if fake is not None:
            fake.stop()
        if db is not None:
            for step in db.cleanup:
                step()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
