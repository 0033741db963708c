"""Real `flask --app bot worker` processes: sharing reminders, on time, and surviving a SIGKILL.

Two workers share the work on PostgreSQL (SKIP LOCKED); on SQLite the same scenarios run with
one. The workers use the real clock, so times here are real; nothing sleeps: the test waits on
the fake LINE API for deliveries and on the processes for their exit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import make_engine, session_factory
from storage.models import OutboxMessage
from tests.fake_line import FakeLine
from tests.test_reminders import add_workshop, take_seat

ROOT = Path(__file__).resolve().parent.parent
#: The worker's own JSON log line after each round that claimed something (bot/delivery.py).
DELIVERED = "delivered"


class Worker:
    """A worker process, with its JSON log lines (stderr) read as they come."""

    def __init__(self, process: subprocess.Popen[str]):
        self.process = process
        self.lines: list[str] = []
        self.started = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if '"worker started"' in line:
                self.started.set()

    def wait_started(self) -> None:
        """Block until the worker has started polling (imports take seconds)."""
        assert self.started.wait(60), "".join(self.lines)

    def stop(self) -> None:
        """Ask the worker to finish its round and exit (SIGTERM), and wait until it has."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self._reader.join(timeout=5)

    def sent(self) -> int:
        """How many messages this worker reported sent in its log."""
        entries = [json.loads(line) for line in self.lines if line.startswith("{")]
        return sum(entry["sent"] for entry in entries if entry["message"] == DELIVERED)


@pytest.fixture
def start_worker(database_url, fake_line) -> Iterator[Callable[..., Worker]]:
    """Start `flask --app bot worker` processes on the test database and the fake LINE API."""
    workers: list[Worker] = []

    def start(lease_seconds: float = 60) -> Worker:
        env = os.environ | {
            "DATABASE_URL": database_url,
            "LINE_CHANNEL_ACCESS_TOKEN": fake_line.token,
            "PUBLIC_BASE_URL": "https://bot.example.org",
            "LINE_API_BASE_URL": fake_line.base_url,
            "LINE_CHANNEL_SECRET": "x",
            "DELIVERY_LEASE_SECONDS": str(lease_seconds),
            "LOG_LEVEL": "INFO",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "bot", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        workers.append(Worker(process))
        return workers[-1]

    yield start
    for worker in workers:  # never leave a worker polling the shared test database
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


def worker_count(database_url: str) -> int:
    """Two workers on PostgreSQL; one on SQLite, whose writers take turns anyway."""
    return 2 if database_url.startswith("postgresql") else 1


def line_user(n: int) -> str:
    """The n-th LINE user id: U and 32 hex digits."""
    return f"U{n:032x}"


def prepare(database_url: str, count: int, due_at: datetime) -> None:
    """Seat `count` LINE users at a workshop whose 2-hour reminder falls due at `due_at`."""
    engine = make_engine(database_url)
    try:
        with session_factory(engine).begin() as session:
            workshop = add_workshop(session, due_at + timedelta(hours=2), [{"hours_before": 2}])
            for n in range(count):
                take_seat(session, workshop, line_user(n), due_at - timedelta(minutes=1), "line")
    finally:
        engine.dispose()


def outbox(database_url: str) -> list[tuple[str, int]]:
    """(status, attempts) of every message in the outbox."""
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(select(OutboxMessage.status, OutboxMessage.attempts))
            return [(status, attempts) for status, attempts in rows]
    finally:
        engine.dispose()


def assert_each_delivered_once(fake: FakeLine, count: int) -> None:
    """Every user got exactly one message, and no retry key was accepted twice."""
    assert [len(fake.messages_to(line_user(n))) for n in range(count)] == [1] * count
    accepted = Counter(r.headers["x-line-retry-key"] for r in fake.pushes() if r.status == 200)
    assert len(accepted) == count and set(accepted.values()) == {1}


def test_workers_share_300_due_reminders_and_deliver_each_once(
    database_url, fake_line, start_worker
) -> None:
    """300 reminders due now, two workers (one on SQLite): all arrive, once each; each sent some."""
    prepare(database_url, 300, datetime.now(UTC))
    count = worker_count(database_url)
    if count > 1:
        # Slow answers make a claimed batch of 100 take seconds, so the later starter gets a share.
        fake_line.delay_next(0.02, count=300)
    workers = [start_worker() for _ in range(count)]
    fake_line.wait_for_messages(300, timeout=60)
    for worker in workers:
        worker.stop()
    assert_each_delivered_once(fake_line, 300)
    assert [r.status for r in fake_line.pushes()] == [200] * 300
    assert outbox(database_url) == [("sent", 1)] * 300
    shares = [worker.sent() for worker in workers]
    assert sum(shares) == 300 and all(shares), shares


def test_reminders_arrive_within_five_seconds_of_their_due_time(
    database_url, fake_line, start_worker
) -> None:
    """Running workers, reminders due two seconds from now: none early, none over 5 s late."""
    workers = [start_worker() for _ in range(worker_count(database_url))]
    for worker in workers:
        worker.wait_started()
    due_at = datetime.now(UTC) + timedelta(seconds=2)
    prepare(database_url, 100, due_at)
    fake_line.wait_for_messages(100, timeout=30)
    for worker in workers:
        worker.stop()
    # The fake stamps requests with time.monotonic(); this turns that into wall-clock time.
    wall_offset = time.time() - time.monotonic()
    lateness = [r.received_at + wall_offset - due_at.timestamp() for r in fake_line.pushes()]
    assert len(lateness) == 100
    assert min(lateness) >= -0.05, "a reminder went before its time"
    assert max(lateness) <= 5, f"the latest arrived {max(lateness):.1f} s after its due time"


def test_a_worker_killed_mid_send_is_replaced_and_nothing_arrives_twice(
    database_url, fake_line, start_worker
) -> None:
    """SIGKILL while LINE holds the answer to an accepted push: the next worker takes the lapsed
    claims; the repeat of that push gets LINE's 409, and every user has exactly one message."""
    prepare(database_url, 20, datetime.now(UTC))
    fake_line.delay_next(30)  # accepted, but the answer never reaches the first worker
    first = start_worker(lease_seconds=2)
    fake_line.wait_for_messages(1, timeout=30)
    first.process.kill()
    first.process.wait()
    assert outbox(database_url).count(("sending", 1)) == 20
    second = start_worker()
    fake_line.wait_for_messages(20, timeout=30)
    second.stop()
    assert_each_delivered_once(fake_line, 20)
    assert [r.status for r in fake_line.pushes()].count(409) == 1
    assert outbox(database_url) == [("sent", 2)] * 20
