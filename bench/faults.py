#!/usr/bin/env python3
"""Fault injection: a database outage, then `kill -9` of every process mid-send, then a restart.

    .venv/bin/python bench/faults.py [--database-url URL] [--users 20] [--api-delay 2]

What it does, in one run, with the app under gunicorn (2 workers) and one delivery worker, as
the Procfile runs them, against a fresh database (SQLite by default; on PostgreSQL a database
`bench_faults` made for the run and dropped at the end), and the fake LINE and Telegram APIs on
loopback, with --users people on each:

1. Outage. Every user follows the bot. Then the database is made unavailable: on PostgreSQL it
   refuses connections (ALLOW_CONNECTIONS false, its backends terminated); on SQLite another
   program holds the write lock. Each user sends a message meanwhile. This script plays LINE:
   a body answered other than 2xx is redelivered, unchanged, every second, until it gets a 200.
   After a few seconds the database comes back (Telegram redelivers the same way).
   Telegram's crash window is measured before the outage, in calm: from the try noted to the
   outcome recorded, for every message sent to Telegram (a crash inside it repeats that one).
2. Crash. The fake APIs now hold every answer for --api-delay seconds (they still take the
   request, as LINE and Telegram may). Each user sends 3 messages; once replies are under way,
   gunicorn's master and workers and the delivery worker are all killed with SIGKILL. Then
   gunicorn and a worker start again, and the outbox is left to drain.
3. Report: for every message the outbox holds, what reached the user: lost (never arrived, or
   not sent in the end), delivered twice, and how many replies were taken as delivered
   unconfirmed (a reply tried before the crash whose token was too old to ask LINE again).
   Also the events answered 5xx and redelivered, whether each was handled exactly once, and
   how long the processes took to exit on SIGTERM at the end.

The goal (issue 9): 0 lost and 0 delivered twice. Telegram has no retry key, so a message
whose call was under way at the kill is sent again: its goal is 0 lost, and twice no more than
the calls in flight at the kill (issue 11). This is a benchmark script, not a test.
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
    percentile,
    prepare_database,
    run_cli,
    sign,
    start_fake_line,
    start_gunicorn,
)
from bot.telegram.webhook import SECRET_HEADER  # noqa: E402
from tests.fake_telegram import FakeTelegram  # noqa: E402

PG_APP_DATABASE = "bench_faults"
#: How long the database stays unavailable in the outage phase.
OUTAGE_SECONDS = 4.0
#: LINE redelivers a failed webhook; this script does so every second.
REDELIVER_EVERY = 1.0
#: What each user writes in the crash phase.
TEXTS = ["ช่วยเหลือ", "สวัสดีค่ะ", "ขอบคุณค่ะ"]
LINE_PATH, TELEGRAM_PATH = "/webhooks/line", "/webhooks/telegram"
TELEGRAM_SECRET = "bench-telegram-secret"
#: The first Telegram chat id; the run's chats follow it.
FIRST_CHAT = 880_000_001


class Webhooks:
    """Posts bodies as LINE and Telegram do, redelivering each until it is answered 2xx;
    counts answers."""

    def __init__(self, port_box: list[int]):
        self.port_box = port_box
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.redelivered = 0  # bodies that got a non-2xx first and a 200 later
        self.event_ids: list[str] = []

    def deliver(self, body: bytes, give_up_after: float = 120) -> None:
        """Post a LINE body until it gets a 200 (a refused connection counts as a failure too)."""
        event_ids = [e["webhookEventId"] for e in json.loads(body)["events"]]
        headers = {"X-Line-Signature": sign(body)}
        self._until_taken(LINE_PATH, body, headers, event_ids, give_up_after)

    def deliver_update(self, update: dict, give_up_after: float = 120) -> None:
        """Post a Telegram update until it gets a 200."""
        body = json.dumps(update, ensure_ascii=False).encode()
        headers = {SECRET_HEADER: TELEGRAM_SECRET, "Content-Type": "application/json"}
        self._until_taken(
            TELEGRAM_PATH, body, headers, [f"tg:{update['update_id']}"], give_up_after
        )

    def _until_taken(
        self, path: str, body: bytes, headers: dict, event_ids: list[str], give_up_after: float
    ) -> None:
        failed_once = False
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            status = self._post(path, body, headers)
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

    def _post(self, path: str, body: bytes, headers: dict) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port_box[0], timeout=5)
        try:
            connection.request("POST", path, body, headers)
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


def telegram_tally(db: Database, fake, chats: list[int]) -> tuple[int, int]:
    """Telegram messages the outbox holds for these chats that never arrived (or were never
    sent), and those that arrived more than once: compared part by part, text and buttons."""
    from bot.telegram.render import telegram_messages
    from tests.outbox_tally import lost_and_doubled

    return lost_and_doubled(
        db.app_url,
        [str(chat) for chat in chats],
        lambda payload, row_id: (
            _seen(part["text"], part.get("reply_markup"))
            for part in telegram_messages(payload, row_id)
        ),
        lambda chat: (_seen(m["text"], m.get("reply_markup")) for m in fake.sent_to(int(chat))),
    )


def _seen(text: str, markup: dict | None) -> tuple:
    """A Telegram message as its reader sees it: the text (Telegram trims its ends), and the
    buttons' data."""
    keyboard = (markup or {}).get("inline_keyboard", [])
    return text.strip(), tuple(button["callback_data"] for row in keyboard for button in row)


def crash_window(db: Database) -> list[float]:
    """For each message sent to Telegram so far, the seconds from its try noted to its
    outcome recorded, smallest first: a crash inside that window sends it again."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db.app_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT tried_at, sent_at FROM outbox_message WHERE channel = 'telegram' "
                "AND status = 'sent' AND tried_at IS NOT NULL"
            )
        ).all()
    engine.dispose()
    return sorted((_as_time(sent) - _as_time(tried)).total_seconds() for tried, sent in rows)


def _as_time(value):
    """A timestamp as SQLAlchemy's text() hands it back: a datetime, or SQLite's string."""
    from datetime import datetime

    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--users", type=int, default=20, help="users on LINE, and on Telegram")
    parser.add_argument("--api-delay", type=float, default=2.0, help="seconds APIs hold answers")
    parser.add_argument("--kill-after", type=int, default=10, help="kill once each API got N calls")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    ports: set[int] = set()
    fake = telegram = gunicorn = worker = None
    db: Database | None = None
    try:
        fake = start_fake_line(free_port(ports))
        telegram = FakeTelegram(port=free_port(ports)).start()
        db = prepare_database(args.database_url, workdir, PG_APP_DATABASE)
        env = {
            **app_env(db, fake),
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_BASE_URL": telegram.url,
        }
        print(f"database: {db.label}", flush=True)
        run_cli("migrate", env)
        run_cli("load-demo", env)
        port = [free_port(ports)]
        gunicorn = start_gunicorn(port[0], 2, 4, env, workdir / "gunicorn.log")
        worker = start_worker(env, workdir / "worker.log")
        users = [f"U{uuid.uuid4().hex}" for _ in range(args.users)]
        chats = [FIRST_CHAT + n for n in range(args.users)]
        hooks = Webhooks(port)

        print("1. outage: every user follows, then writes while the database is away ...")
        in_parallel(
            [lambda u=u: hooks.deliver(event_body(fake, u, "follow", "")) for u in users]
            + [lambda c=c: hooks.deliver_update(telegram.start_update(c)) for c in chats]
        )
        wait_drained(db, 60)
        window = crash_window(db)  # in calm: the outage's held lock would stretch it
        outage = Outage(db)
        outage.begin()
        during = [(hooks.deliver, event_body(fake, u, "text", "ช่วยเหลือ")) for u in users] + [
            (hooks.deliver_update, telegram.text_update(c, "ช่วยเหลือ")) for c in chats
        ]
        senders = [threading.Thread(target=post, args=(body,)) for post, body in during]
        for thread in senders:
            thread.start()
        time.sleep(OUTAGE_SECONDS)
        outage.end()
        for thread in senders:
            thread.join()
        answered_5xx = sum(n for status, n in hooks.statuses.items() if status >= 500)
        print(f"   answers during the outage phase: {dict(hooks.statuses)}")
        wait_drained(db, 60)

        print(f"2. crash: the APIs hold each answer {args.api_delay:g} s; 3 messages per user ...")
        fake.delay_next(args.api_delay, count=10**6)
        telegram.delay_next("sendMessage", args.api_delay, count=10**6)

        def calls() -> tuple[int, int]:
            return len(fake.requests), len(telegram.calls("sendMessage"))

        line_before, telegram_before = calls()

        def three(user: str) -> None:
            for text in TEXTS:
                hooks.deliver(event_body(fake, user, "text", text))

        def three_updates(chat: int) -> None:
            for text in TEXTS:
                hooks.deliver_update(telegram.text_update(chat, text))

        in_parallel(
            [lambda u=u: three(u) for u in users] + [lambda c=c: three_updates(c) for c in chats]
        )
        # once both APIs are taking this phase's messages
        while min(calls()[0] - line_before, calls()[1] - telegram_before) < args.kill_after:
            time.sleep(0.05)
        kill_9(gunicorn)
        kill_9(worker)
        killed_at = time.monotonic()
        # Telegram took these and was still holding their answers: nobody recorded them sent
        in_flight = sum(
            killed_at - call.received_at < args.api_delay for call in telegram.calls("sendMessage")
        )
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
        telegram_lost, telegram_twice = telegram_tally(db, telegram, chats)
        sent_events = len(set(hooks.event_ids))
        line = "-" * 78
        print(line)
        print(f"database             : {db.label}")
        print(f"users                : {args.users} on LINE and {args.users} on Telegram")
        print(f"API answers held     : {args.api_delay:g} s in the crash phase")
        print(f"messages in outbox   : {result['outbox messages']} (to the LINE users)")
        print(f"lost                 : {result['lost']} LINE messages")
        print(f"delivered twice      : {result['twice']} LINE messages")
        print(f"replies unconfirmed  : {result['unconfirmed']} (taken as delivered)")
        print(f"Telegram lost        : {telegram_lost} messages")
        print(
            f"Telegram twice       : {telegram_twice} messages; {in_flight} calls were in flight"
            " at the kill (the most that can come twice)"
        )
        print(
            f"Telegram crash window: p50 {percentile(window, 50) * 1000:.1f} ms, p99 "
            f"{percentile(window, 99) * 1000:.1f} ms, max {window[-1] * 1000:.1f} ms "
            f"({len(window)} messages, note to record, answers not held)"
        )
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
        print(f"goal 0 lost, 0 twice : {'MET' if goal else 'NOT MET'} (LINE)")
        telegram_goal = telegram_lost == 0 and telegram_twice <= in_flight
        print(
            f"goal 0 lost, twice <= in flight: {'MET' if telegram_goal else 'NOT MET'} (Telegram)"
        )
        print(line)
        return 0
    finally:
        for process in (gunicorn, worker):
            if process is not None and process.poll() is None:
                kill_9(process)
        for api in (fake, telegram):
            if api is not None:
                api.stop()
        if db is not None:
            for step in db.cleanup:
                step()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
