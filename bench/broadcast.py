#!/usr/bin/env python3
"""Benchmark: a broadcast to 100,000 respondents on LINE, at a configured rate, with a crash.

    .venv/bin/python bench/broadcast.py [--database-url URL] [--count N] [--rate PER_SECOND]

What it does, in one run (bench/README.md says how to read it):

1. A fresh database (SQLite in a temp dir by default; on PostgreSQL a database `bench_broadcast`
   made for the run and dropped after) with `--count` consented LINE respondents (100,000).
2. The fake LINE API (tests/fake_line.py) in this process, holding the account to `--rate`
   recipients a second (2,000) as LINE holds a throttled Official Account: past it, 429. The
   worker (`flask --app bot worker`) is told the same rate (LINE_MESSAGES_PER_SECOND).
3. A stream of turns alongside: `--turns` a second (5) from people writing to the bot, through
   gunicorn; each turn's latency is from the webhook posted to its reply reaching the fake. Its
   p50/p99 are measured first with nothing else going on (the usual latency), then during each
   broadcast.
4. Run 1: a broadcast to everyone, sent by one worker: recipients a second against the rate,
   LINE calls, 429s, duplicates.
5. Run 2, the crash: another broadcast; once the fake has half of it, the worker is killed
   with SIGKILL and a new one started; then each person is checked to have it exactly once.

This is a benchmark, not a test: it asserts nothing and touches no database but its own.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.faults import kill_9, start_worker  # noqa: E402 - after the path is set
from bench.line_webhook import (  # noqa: E402
    Database,
    app_env,
    event_body,
    free_port,
    percentile,
    prepare_database,
    run_cli,
    sign,
    start_fake_line,
    start_gunicorn,
    stop_gunicorn,
)

PG_APP_DATABASE = "bench_broadcast"
MULTICAST = "/v2/bot/message/multicast"
#: The two notices: one per run, so each run's deliveries are told apart.
NOTICES = ("ประกาศทดสอบรอบที่หนึ่งค่ะ", "ประกาศทดสอบรอบที่สองค่ะ")
#: People who write to the bot during the run (not in the broadcasts' audience).
WRITERS = 50
#: How long the usual latency of turns is measured, before any broadcast.
BASELINE_SECONDS = 10.0


def recipient(n: int) -> str:
    """The n-th respondent's LINE user id: U and 32 hex digits."""
    return f"U{n:032x}"


def add_respondents(db: Database, count: int) -> None:
    """`count` consented LINE respondents, written in bulk."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, select, text

    from storage.db import make_engine
    from storage.models import ConsentRecord, Respondent

    now = datetime.now(UTC)
    engine = make_engine(db.app_url)
    step = 10_000
    with engine.begin() as connection:
        for first in range(0, count, step):
            connection.execute(
                insert(Respondent),
                [
                    {
                        "channel": "line",
                        "channel_user_id": recipient(n),
                        "profile": {"group": "carriage", "municipality": "nakhon"},
                        "created_at": now,
                    }
                    for n in range(first, min(count, first + step))
                ],
            )
        ids = connection.scalars(select(Respondent.id).where(Respondent.channel == "line")).all()
        for first in range(0, len(ids), step):
            connection.execute(
                insert(ConsentRecord),
                [
                    {
                        "respondent_id": respondent_id,
                        "wording_version": "bench",
                        "given": True,
                        "recorded_at": now,
                        "channel": "line",
                    }
                    for respondent_id in ids[first : first + step]
                ],
            )
    if db.kind == "postgresql":
        # as autovacuum would within the minute: without statistics for the 100,000 new rows,
        # PostgreSQL reads every candidate for each part of the broadcast it writes
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()


def write_broadcast(db: Database, fake, text: str) -> int:
    """The coordinator's broadcast to everyone on LINE, urgent (so quiet hours do not wait)."""
    from bot import create_app
    from bot.broadcasts import Notice, send_broadcast
    from bot.coordination import Actor
    from storage.audience import Audience

    app = create_app(
        {
            "DATABASE_URL": db.app_url,
            "LINE_CHANNEL_ACCESS_TOKEN": fake.token,
            "LINE_API_BASE_URL": fake.base_url,
            "PUBLIC_BASE_URL": "http://127.0.0.1",
        }
    )
    runtime = app.extensions["runtime"]
    actor = Actor("bench@example.org", "coordinator", "127.0.0.1")
    broadcast_id, _ = send_broadcast(
        runtime, actor, Notice(text), Audience(channel="line"), urgent=True
    )
    runtime.close()
    return broadcast_id


def left_to_send(db: Database, broadcast_id: int) -> Counter:
    """The broadcast's messages by status, and under "_written" how many it is written for
    (the worker writes it in parts): a large number until the last part is written."""
    from sqlalchemy import func, select

    from storage.db import make_engine
    from storage.models import Broadcast, OutboxMessage

    engine = make_engine(db.app_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.broadcast_id == broadcast_id)
            .group_by(OutboxMessage.status)
        ).all()
        broadcast = connection.execute(
            select(Broadcast.recipients, Broadcast.written_at).where(Broadcast.id == broadcast_id)
        ).one()
    engine.dispose()
    left = Counter(dict(rows))
    left["_written"] = broadcast.recipients if broadcast.written_at else 10**12
    return left


@dataclass
class Turns:
    """People writing to the bot through gunicorn, a few a second, each turn's latency kept."""

    fake: object
    port: int
    per_second: float
    posted: dict[str, float] = field(default_factory=dict)  # reply token → when posted
    answers: Counter = field(default_factory=Counter)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Post a text every 1/per_second s, in turn from each writer, until stopped."""
        writers = [f"U{uuid.uuid4().hex}" for _ in range(WRITERS)]
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        n, start = 0, time.monotonic()
        while not self.stopping.is_set():
            body = event_body(self.fake, writers[n % WRITERS], "text", "สวัสดีค่ะ")
            token = _reply_token(body)
            self.posted[token] = time.monotonic()
            connection.request("POST", "/webhooks/line", body, {"X-Line-Signature": sign(body)})
            answer = connection.getresponse()
            answer.read()
            self.answers[answer.status] += 1
            n += 1
            pause = start + n / self.per_second - time.monotonic()
            if pause > 0:
                self.stopping.wait(pause)
        connection.close()

    def latencies(self, since: float, until: float) -> list[float]:
        """Seconds from posting to the reply reaching the fake, for turns posted in the span."""
        with self.fake._lock:
            replies = [
                r for r in self.fake.requests if r.path.endswith("/reply") and r.status == 200
            ]
        arrived = {r.json["replyToken"]: r.received_at for r in replies}
        return sorted(
            arrived[token] - posted
            for token, posted in list(self.posted.items())
            if since <= posted < until and token in arrived
        )


def _reply_token(body: bytes) -> str:
    """The reply token of a webhook body's one event."""
    return json.loads(body)["events"][0]["replyToken"]


def spread(latencies: list[float]) -> str:
    """p50 and p99 in ms, and how many turns."""
    if not latencies:
        return "no turns"
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    return f"p50 {p50:.0f} ms, p99 {p99:.0f} ms ({len(latencies)} turns)"


def calls_for(fake, text: str) -> list:
    """The multicast calls that carried this text, answered or refused."""
    with fake._lock:
        calls = [r for r in fake.requests if r.path == MULTICAST]
    return [c for c in calls if c.json and c.json["messages"][0].get("text") == text]


def reached_so_far(fake, text: str) -> int:
    """How many people LINE has accepted this text for (cheap enough to poll)."""
    return sum(len(c.json["to"]) for c in calls_for(fake, text) if c.status == 200)


def delivered(fake, text: str) -> Counter:
    """How many times each user got this text."""
    with fake._lock:
        return Counter(user for user, message in fake._deliveries if message.get("text") == text)


def wait_sent(db: Database, broadcast_id: int, limit: float) -> None:
    """Until all of the broadcast's messages are written and none is waiting (or `limit` s)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        left = left_to_send(db, broadcast_id)
        if left["pending"] + left["sending"] == 0 and sum(left.values()) >= left["_written"]:
            return
        time.sleep(0.5)
    raise SystemExit(f"the broadcast did not finish in {limit:.0f} s: {dict(left)}")


def report_run(fake, text: str, count: int, rate: float) -> tuple[float, float]:
    """Print a run's figures; return its first and last call's arrival."""
    calls = calls_for(fake, text)
    accepted = [c for c in calls if c.status == 200]
    first, last = accepted[0].received_at, accepted[-1].received_at
    # the calls leave count/rate apart: from the first to the last, all but the last's people
    achieved = (count - len(accepted[-1].json["to"])) / max(last - first, 1e-9)
    got = delivered(fake, text)
    statuses = Counter(c.status for c in calls)
    print(
        f"   {achieved:,.0f} recipients/s against the configured {rate:,.0f}/s"
        f" ({achieved / rate:.1%}); {len(calls)} LINE calls {dict(statuses)},"
        f" at most {max(len(c.json['to']) for c in calls)} ids a call"
    )
    twice = sum(n - 1 for n in got.values() if n > 1)
    print(f"   reached {len(got):,} of {count:,}; duplicates {twice}; lost {count - len(got)}")
    return first, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--count", type=int, default=100_000, help="respondents reached")
    parser.add_argument("--rate", type=float, default=2000, help="LINE recipients a second")
    parser.add_argument("--turns", type=float, default=5, help="turns a second alongside")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-broadcast-"))
    ports: set[int] = set()
    fake = gunicorn = worker = None
    db: Database | None = None
    turns: Turns | None = None
    try:
        fake = start_fake_line(free_port(ports))
        db = prepare_database(args.database_url, workdir, PG_APP_DATABASE)
        env = app_env(db, fake) | {"LINE_MESSAGES_PER_SECOND": f"{args.rate:g}"}
        print(f"database: {db.label}", flush=True)
        run_cli("migrate", env)
        run_cli("load-demo", env)
        add_respondents(db, args.count)
        fake.limit_rate(args.rate)
        port = free_port(ports)
        gunicorn = start_gunicorn(port, 1, 4, env, workdir / "gunicorn.log")
        turns = Turns(fake, port, args.turns)
        threading.Thread(target=turns.run, daemon=True).start()
        print(
            f"{args.count:,} respondents; LINE holds the account to {args.rate:,.0f}/s", flush=True
        )

        started = time.monotonic()
        time.sleep(BASELINE_SECONDS)
        print(f"0. turns alone: {spread(turns.latencies(started, time.monotonic()))}", flush=True)

        print("1. a broadcast to everyone, one worker ...", flush=True)
        first_id = write_broadcast(db, fake, NOTICES[0])
        worker = start_worker(env, workdir / "worker-1.log")
        wait_sent(db, first_id, args.count / args.rate * 3 + 60)
        first, last = report_run(fake, NOTICES[0], args.count, args.rate)
        print(f"   turns alongside: {spread(turns.latencies(first, last))}", flush=True)

        print("2. another, and the worker killed (SIGKILL) halfway ...", flush=True)
        second_id = write_broadcast(db, fake, NOTICES[1])
        while reached_so_far(fake, NOTICES[1]) < args.count / 2:
            time.sleep(0.05)
        kill_9(worker)
        held = left_to_send(db, second_id)
        held.pop("_written")
        print(f"   killed; its messages then: {dict(held)}", flush=True)
        worker = start_worker(env, workdir / "worker-2.log")
        wait_sent(db, second_id, args.count / args.rate * 3 + 60)
        first, last = report_run(fake, NOTICES[1], args.count, args.rate)
        got = delivered(fake, NOTICES[1])
        once = sum(1 for n in range(args.count) if got[recipient(n)] == 1)
        outbox = dict(left_to_send(db, second_id))
        outbox.pop("_written")
        print(f"   exactly once: {once:,} of {args.count:,}; outbox: {outbox}")
        print(f"   turns alongside: {spread(turns.latencies(first, last))}")
        print(f"   webhook answers: {dict(turns.answers)}")
    finally:
        if turns is not None:
            turns.stopping.set()
        if worker is not None and worker.poll() is None:
            kill_9(worker)
        if gunicorn is not None:
            stop_gunicorn(gunicorn)
        if fake is not None:
            fake.stop()
        for cleanup in db.cleanup if db else []:
            cleanup()
        if args.keep:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
