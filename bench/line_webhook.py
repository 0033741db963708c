#!/usr/bin/env python3
"""Benchmark: signed LINE webhooks over HTTP into the app under gunicorn, against the DB's ceiling.

    .venv/bin/python bench/line_webhook.py [--database-url URL] [--seconds N]

What it does, in one run (see bench/README.md for how to read the output):

1. Starts the fake LINE API (tests/fake_line.py) in this process and the app under gunicorn as a
   subprocess, both on 127.0.0.1, against a fresh database (SQLite in a temp dir by default; on
   PostgreSQL a database `bench_line` created for the run and dropped at the end). One probe
   user walks the conversation first, to learn the postback data of the bot's buttons.
2. Open loop: events are sent on a fixed schedule (default 100 events/s) by many simulated users,
   never waiting for earlier responses except a user's own previous one (LINE keeps a user's
   events in order). Latency is measured from each event's *scheduled* send time, so a slow
   server cannot hide its queueing delay (no coordinated omission).
3. Saturation: closed loop, N concurrent senders each with its own keep-alive connection.
4. Floor: the same closed loop with LINE's "verify" body (signed, no events), which the app
   checks and parses but stores nothing for: the most the shell alone can answer.
5. Ceiling: with the app stopped, 1 process and then N processes commit one small row per
   transaction into a scratch table in the same database, as fast as they can.
6. Prints a table: events/s, p50/p99 latency, commits/s of the ceiling, the ratios and the goals.

This is a benchmark, not a test: it asserts nothing and changes no application code or data
outside what it creates (and drops) itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VENV_BIN = ROOT / ".venv" / "bin"
SECRET = "bench-channel-secret"
DESTINATION = "U" + "0" * 32
PORT_RANGE = range(18000, 19000)
#: The app's own database for a PostgreSQL run; created at the start, dropped at the end.
PG_APP_DATABASE = "bench_line"

# One user's conversation: follow, consent, the 2-question profile, then the livelihood survey
# ("สำรวจ", flows/livelihood.md) over and over; typed text, as a respondent may, and taps on the
# bot's quick replies (postbacks). A tap names the button's label: the postback data it carries
# (["<version>/<question>", "<value>"] today) is learnt from the bot's own replies at the start.
ONBOARDING: list[tuple[str, str]] = [
    ("follow", ""),
    ("tap", "ยินยอม"),  # consent
    ("tap", "คนขับรถม้า"),  # profile: group
    ("text", "1"),  # profile: municipality, เทศบาลนครลำปาง
]
SURVEY: list[tuple[str, str]] = [
    ("text", "สำรวจ"),  # the survey's keyword
    ("text", "12"),  # years
    ("text", "ข้าม"),  # started: skip
    ("tap", "เท่าเดิม"),  # busy_days
    ("text", "1, 3"),  # customers
    ("text", "100"),  # income
    ("tap", "เคย"),  # online
    ("text", "ข้าม"),  # wish: skip
    ("tap", "รับทราบ"),  # done
]
CYCLE = ONBOARDING + SURVEY


# -- small helpers -------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def free_port(taken: set[int]) -> int:
    """A port in 18000–18999 that nothing listens on."""
    candidates = [p for p in PORT_RANGE if p not in taken]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError("no free port in 18000-18999")


def sign(body: bytes) -> str:
    """X-Line-Signature: base64 of HMAC-SHA256 of the body with the channel secret."""
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


# -- CPU accounting (from /proc, Linux) ----------------------------------------------------------

CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[str, int, float] | None:
    """(comm, ppid, cpu seconds) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def _ours_in_postgres(pid: int) -> bool:
    """A backend serving the app's database, or a server process of no client (WAL writer,
    checkpointer, ...), which works for whoever writes: the title tells them apart."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    client = b"(" in title or b"[local]" in title
    return not client or f" {PG_APP_DATABASE} ".encode() in title


def cpu_snapshot(gunicorn_pid: int | None) -> dict[str, Any]:
    """CPU seconds used so far: gunicorn tree, this process, the app's PostgreSQL backends (per
    pid, since backends come and go), the whole machine."""
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))):
            procs[int(entry)] = stat
    tree = {gunicorn_pid} if gunicorn_pid else set()
    for pid, (_, ppid, _) in procs.items():
        if ppid in tree:
            tree.add(pid)
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    return {
        "gunicorn": sum(procs[p][2] for p in tree if p in procs),
        "workers": {p: procs[p][2] for p in tree if p in procs and p != gunicorn_pid},
        "bench": sum(os.times()[:2]),
        "postgres": {
            pid: cpu
            for pid, (comm, _, cpu) in procs.items()
            if comm.startswith("postgres") and _ours_in_postgres(pid)
        },
        "busy": (sum(parts) - idle) / CLOCK_TICK,
        "steal": (parts[7] if len(parts) > 7 else 0) / CLOCK_TICK,
        # interrupts: mostly loopback networking, i.e. our own requests and database round trips
        "irq": (parts[5] + parts[6]) / CLOCK_TICK,
        "total": sum(parts) / CLOCK_TICK,
    }


def cpu_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    delta = {key: after[key] - before[key] for key in before if key not in ("postgres", "workers")}
    delta["workers"] = [
        cpu - before["workers"].get(pid, 0) for pid, cpu in sorted(after["workers"].items())
    ]
    # a backend that exited in between is lost; the app's pooled connections stay open
    delta["postgres"] = sum(
        cpu - before["postgres"].get(pid, 0) for pid, cpu in after["postgres"].items()
    )
    return delta


# -- the fake LINE API, on a port of our choosing ------------------------------------------------


def start_fake_line(port: int):
    """FakeLine from tests/fake_line.py, listening on 127.0.0.1:`port` instead of a random port."""
    from tests.fake_line import FakeLine

    return FakeLine(port=port).start()


def reply_counts(fake) -> Counter:
    """How many requests the fake got per (endpoint, status)."""
    with fake._lock:
        requests = list(fake.requests)
    return Counter((r.path.rsplit("/", 1)[-1], r.status) for r in requests)


# -- simulated LINE users ------------------------------------------------------------------------


@dataclass
class User:
    """One LINE user walking through the conversation, one event at a time."""

    user_id: str
    step: int = 0

    def next_step(self) -> int:
        """The index in CYCLE of the user's next event: onboarding once, then the survey."""
        index = self.step
        if index >= len(ONBOARDING):
            index = len(ONBOARDING) + (index - len(ONBOARDING)) % len(SURVEY)
        self.step += 1
        return index


def event_body(fake, user_id: str, kind: str, value: str) -> bytes:
    """A webhook body with one event, a fresh reply token and a unique webhookEventId."""
    event: dict[str, Any] = {
        "type": {"text": "message", "tap": "postback"}.get(kind, kind),
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "replyToken": fake.issue_reply_token(user_id),
    }
    if kind == "follow":
        event["follow"] = {"isUnblocked": False}
    elif kind == "tap":
        event["postback"] = {"data": value}
    else:
        event["message"] = {
            "type": "text",
            "id": str(random.randrange(10**17, 10**18)),
            "text": value,
            "quoteToken": base64.urlsafe_b64encode(os.urandom(24)).decode(),
        }
    return json.dumps(
        {"destination": DESTINATION, "events": [event]}, ensure_ascii=False, separators=(",", ":")
    ).encode()


#: What LINE's "Verify" button sends: a signed body with no events. The app checks the signature
#: and parses it like any other, and has nothing to store.
VERIFY_BODY = json.dumps({"destination": DESTINATION, "events": []}).encode()


def build_body(fake, buttons: dict[int, str], user: User) -> tuple[bytes, str]:
    """The user's next event, signed later; a tap carries the data learnt for that step."""
    index = user.next_step()
    kind, value = CYCLE[index]
    return event_body(fake, user.user_id, kind, buttons.get(index, value)), kind


def learn_buttons(fake, port: int) -> dict[int, str]:
    """Walk one probe user through the whole conversation, one event at a time, waiting for
    the bot's replies; return, for each tap in CYCLE, the postback data of the button with
    that label in the bot's last message. Fails loudly if the conversation went elsewhere."""
    import http.client

    user_id = "U" + uuid.uuid4().hex
    buttons: dict[int, str] = {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for index, (kind, value) in enumerate(CYCLE):
            if kind == "tap":
                received = fake.messages_to(user_id)
                items = (received[-1].get("quickReply") or {}).get("items", []) if received else []
                offered = {i["action"].get("label"): i["action"].get("data") for i in items}
                if not offered.get(value):
                    raise RuntimeError(
                        f"step {index} ({value!r}): the bot's last message offers {list(offered)}"
                    )
                buttons[index] = offered[value]
            before = len(fake.messages_to(user_id))
            body = event_body(fake, user_id, kind, buttons.get(index, value))
            connection.request("POST", "/webhooks/line", body, {"X-Line-Signature": sign(body)})
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"step {index} ({value!r}): HTTP {answer.status}")
            # replies are sent after commit in the background: wait until they stop coming
            deadline, count, stable_since = time.monotonic() + 10, before, time.monotonic()
            while time.monotonic() < deadline:
                now_count = len(fake.messages_to(user_id))
                if now_count != count:
                    count, stable_since = now_count, time.monotonic()
                elif count > before and time.monotonic() - stable_since > 0.2:
                    break
                time.sleep(0.01)
            else:
                raise RuntimeError(f"step {index} ({value!r}): no reply from the bot")
    finally:
        connection.close()
    last = fake.messages_to(user_id)[-1].get("text", "")
    print(f"  probe user walked the conversation; the bot's last words: {last[:40]!r}")
    return buttons


# -- a minimal HTTP/1.1 keep-alive client on asyncio streams (standard library only) ------------


class Connection:
    """One keep-alive connection to the app."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.used = 0

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def post(self, port: int, body: bytes, signature: str) -> tuple[int, bool]:
        """POST /webhooks/line; returns (status, whether the connection may be reused)."""
        head = (
            f"POST /webhooks/line HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json; charset=utf-8\r\n"
            f"X-Line-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed before the response")  # stale keep-alive
        status = int(status_line.split()[1])
        length, keep = 0, True
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
        if length:
            await self.reader.readexactly(length)
        return status, keep

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Pool:
    """Idle keep-alive connections, reused oldest first so requests spread over all of them.

    A connection idle for longer than MAX_IDLE is closed rather than reused: gunicorn closes
    keep-alive connections after 2 s, and reusing one it is closing costs a retry.
    """

    MAX_IDLE = 1.0

    def __init__(self, port: int):
        self.port = port
        self.idle: deque[tuple[float, Connection]] = deque()
        self.opened = 0

    async def take(self) -> Connection:
        while self.idle:
            since, conn = self.idle.popleft()
            if time.monotonic() - since < self.MAX_IDLE:
                return conn
            conn.close()
        self.opened += 1
        return await Connection.open(self.port)

    def give(self, conn: Connection) -> None:
        self.idle.append((time.monotonic(), conn))

    def close(self) -> None:
        while self.idle:
            self.idle.popleft()[1].close()


@dataclass
class Sample:
    """One event: when it was due (open loop) or sent (closed loop), when answered, how."""

    start: float
    end: float
    status: int
    kind: str


@dataclass
class Stats:
    samples: list[Sample] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    retries: int = 0
    #: every event sent, warm-up included (samples keep only the measured ones)
    sent: int = 0


@dataclass
class Target:
    """Where events go and what they need: the fake (reply tokens), the app's port, the
    postback data learnt for each tap, and how long to wait for an answer."""

    fake: Any
    port: int
    buttons: dict[int, str]
    timeout: float
    #: close a connection after this many requests (0: never), so that new connections keep
    #: being spread over gunicorn's workers (a kept-alive connection stays with one worker)
    requests_per_connection: int
    #: send LINE's "verify" body (no events) instead: the webhook's cost with no database work
    verify_only: bool = False


async def send_event(
    target: Target,
    user: User,
    pool: Pool | None,
    conn_box: list[Connection | None] | None,
    stats: Stats,
    start: float,
) -> None:
    """Send the user's next event (one retry on a stale keep-alive) and record its latency."""
    port, timeout = target.port, target.timeout
    if target.verify_only:
        body, kind = VERIFY_BODY, "verify"
    else:
        body, kind = build_body(target.fake, target.buttons, user)
    signature = sign(body)
    stats.sent += 1
    status = 0
    for attempt in range(2):
        conn = None
        try:
            if attempt > 0:  # a retry never reuses a kept-alive connection
                conn = await Connection.open(port)
            elif pool is not None:
                conn = await pool.take()
            else:
                conn = conn_box[0] or await Connection.open(port)
                conn_box[0] = None
            status, keep = await asyncio.wait_for(conn.post(port, body, signature), timeout)
        except TimeoutError:  # before OSError, of which it is a subclass: never retried
            if conn is not None:
                conn.close()
            stats.errors["timeout"] += 1
            break
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as error:
            if conn is not None:
                conn.close()
            if attempt == 0:  # the same event id again: the app ignores a repeat it already did
                stats.retries += 1
                continue
            stats.errors[type(error).__name__] += 1
            break
        conn.used += 1
        if keep and not 0 < target.requests_per_connection <= conn.used:
            if pool is not None:
                pool.give(conn)
            else:
                conn_box[0] = conn
        else:
            conn.close()
        break
    end = time.monotonic()
    if status and status != 200:
        stats.errors[f"HTTP {status}"] += 1
    stats.samples.append(Sample(start, end, status, kind))


class IdleUsers:
    """Users with no event in flight. Taking a random one keeps each user's events in order
    while users drift apart in the conversation, so the steps are well mixed at any moment."""

    def __init__(self, users: list[User], seed: int = 1):
        self.idle = list(users)
        self.rng = random.Random(seed)
        self.waiters: deque[asyncio.Future] = deque()

    async def take(self) -> User:
        while not self.idle:  # every user has an event in flight: wait for one to be answered
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            await waiter
        index = self.rng.randrange(len(self.idle))
        self.idle[index], self.idle[-1] = self.idle[-1], self.idle[index]
        return self.idle.pop()

    def give(self, user: User) -> None:
        self.idle.append(user)
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break


async def open_loop(
    target: Target, users: IdleUsers, rate: float, warmup: float, seconds: float
) -> tuple[Stats, float]:
    """Events due on a fixed schedule, each to a random idle user; latency from the due time.

    Sending never waits for earlier responses, except that a user's next event waits for the
    previous answer (should every user be waiting, the due event waits for the first to be
    free; that wait is part of its latency)."""
    stats = Stats()
    pool = Pool(target.port)
    total = int((warmup + seconds) * rate)
    begin = time.monotonic() + 0.2
    measure_from = begin + warmup
    in_flight: set[asyncio.Task] = set()

    async def one(user: User, due: float) -> None:
        try:
            await send_event(target, user, pool, None, stats, due)
        finally:
            users.give(user)

    for slot in range(total):
        due = begin + slot / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(await users.take(), due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    pool.close()
    stats.samples = [s for s in stats.samples if s.start >= measure_from]
    return stats, measure_from


async def closed_loop(
    target: Target, users: IdleUsers, concurrency: int, warmup: float, seconds: float
) -> tuple[Stats, float]:
    """N senders, each with its own keep-alive connection, sending the next event (to a random
    idle user) as soon as the previous one is answered; latency from the send."""
    stats = Stats()
    begin = time.monotonic()
    measure_from, stop_at = begin + warmup, begin + warmup + seconds

    async def sender() -> None:
        conn_box: list[Connection | None] = [None]
        while time.monotonic() < stop_at:
            user = await users.take()
            try:
                await send_event(target, user, None, conn_box, stats, time.monotonic())
            finally:
                users.give(user)
        if conn_box[0] is not None:
            conn_box[0].close()

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    stats.samples = [s for s in stats.samples if measure_from <= s.start < stop_at]
    return stats, measure_from


# -- the app under gunicorn ----------------------------------------------------------------------


def run_cli(command: str, env: dict[str, str]) -> None:
    """`flask --app bot <command>` (migrate, load-demo), as the Makefile runs them."""
    done = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "bot", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flask {command} failed:\n{done.stdout}\n{done.stderr}")


def start_gunicorn(
    port: int, workers: int, threads: int, env: dict[str, str], log_path: Path
) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed with it below
    process = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            # gunicorn 27's control socket defaults to one shared path in $HOME: not ours to take
            "--no-control-socket",
            "bot:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}); see {log_path}")
        health = f"http://127.0.0.1:{port}/healthz"
        with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as answer:
            if answer.status == 200:
                return process
        time.sleep(0.2)
    stop_gunicorn(process)
    raise RuntimeError(f"gunicorn did not become healthy; see {log_path}")


def stop_gunicorn(process: subprocess.Popen) -> None:
    """SIGTERM (graceful), then SIGKILL to its process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def turn_times(log_path: Path, offset: int, end: int | None = None) -> list[float]:
    """Server-side handle_inbound durations (the app's "turn" log lines), in seconds, sorted."""
    with open(log_path, "rb") as f:
        f.seek(offset)
        chunk = f.read() if end is None else f.read(end - offset)
    values = []
    for line in chunk.splitlines():
        if b'"turn"' in line:
            with contextlib.suppress(ValueError, KeyError):
                values.append(json.loads(line)["ms"] / 1000)
    return sorted(values)


def wait_for_deliveries(fake, settle: float = 1.5, limit: float = 60) -> float:
    """Wait until the fake has received no new request for `settle` s; return the time waited."""
    started = time.monotonic()
    last, last_change = -1, started
    while time.monotonic() - started < limit:
        count = len(fake.requests)
        if count != last:
            last, last_change = count, time.monotonic()
        elif time.monotonic() - last_change >= settle:
            break
        time.sleep(0.1)
    return time.monotonic() - started


# -- the database: app database, scratch table, ceiling ------------------------------------------


@dataclass
class Database:
    kind: str  # "sqlite" | "postgresql"
    app_url: str  # where the app's tables go
    scratch_url: str  # where the ceiling's scratch table goes
    label: str
    cleanup: list = field(default_factory=list)


def app_env(db: Database, fake, log_level: str = "INFO") -> dict[str, str]:
    """The environment of the app's processes: the run's database, LINE pointed at the fake."""
    return {
        **os.environ,
        "DATABASE_URL": db.app_url,
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": fake.token,
        "LINE_API_BASE_URL": fake.base_url,
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "LOG_LEVEL": log_level,
    }


def prepare_database(url: str | None, workdir: Path, name: str = PG_APP_DATABASE) -> Database:
    from sqlalchemy import make_url

    from bench.run_database import create_run_database

    if url is None:
        path = workdir / "bench.db"
        sqlite_url = f"sqlite:///{path}"
        return Database("sqlite", sqlite_url, sqlite_url, f"SQLite (fresh file {path})")
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        if parsed.drivername.startswith("sqlite"):
            return Database("sqlite", url, url, f"SQLite ({parsed.database})")
        raise SystemExit(f"unsupported database URL: {url}")
    run = create_run_database(url, name)
    db = Database(
        "postgresql",
        run.url,
        run.server_url,
        f"PostgreSQL {run.version} (synchronous_commit={run.synchronous_commit}); "
        f"app in database {name}, ceiling in {parsed.database}",
    )
    db.cleanup.append(run.drop)
    return db


def create_scratch_table(db: Database) -> str:
    from sqlalchemy import text

    from storage.db import make_engine

    table = f"bench_commit_{os.getpid()}"
    engine = make_engine(db.scratch_url)
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.kind == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        connection.execute(
            text(f"CREATE TABLE {table} (id {key}, worker INTEGER NOT NULL, note TEXT NOT NULL)")
        )
    engine.dispose()

    def drop() -> None:
        engine = make_engine(db.scratch_url)
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()

    db.cleanup.insert(0, drop)
    return table


def _commit_loop(url: str, table: str, worker: int, warmup: float, seconds: float, barrier, out):
    """In a child process: one connection, one small row per transaction, until time is up."""
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(url)  # the app's own setup: on SQLite, WAL pragmas and BEGIN IMMEDIATE
    insert = text(f"INSERT INTO {table} (worker, note) VALUES (:worker, :note)")
    latencies = []
    # One connection held throughout: no pool checkout (nor PostgreSQL pre-ping) per commit.
    with engine.connect() as connection:
        barrier.wait()
        measure_from = time.monotonic() + warmup
        stop_at = measure_from + seconds
        n = 0
        while (now := time.monotonic()) < stop_at:
            with connection.begin():
                connection.execute(insert, {"worker": worker, "note": f"row {n}"})
            n += 1
            if now >= measure_from:
                latencies.append(time.monotonic() - now)
    engine.dispose()
    out.put((worker, latencies))


@dataclass
class Ceiling:
    connections: int
    commits: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.commits / self.seconds


def measure_ceiling(db: Database, table: str, connections: int, warmup: float, seconds: float):
    context = multiprocessing.get_context("spawn")  # a fresh interpreter, not a fork of threads
    barrier = context.Barrier(connections)
    out = context.Queue()
    processes = [
        context.Process(
            target=_commit_loop,
            args=(db.scratch_url, table, i, warmup, seconds, barrier, out),
        )
        for i in range(connections)
    ]
    for p in processes:
        p.start()
    results = [out.get(timeout=120 + warmup + seconds) for _ in processes]
    for p in processes:
        p.join(timeout=30)
    latencies = sorted(x for _, lat in results for x in lat)
    return Ceiling(connections, len(latencies), seconds, latencies)


def app_counts(db: Database) -> dict[str, Any]:
    """What the app stored: events, answers, finished surveys, outbox replies by status."""
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(db.app_url)
    with engine.connect() as c:
        counts = {
            "processed events": c.execute(text("SELECT count(*) FROM processed_event")).scalar(),
            "answers": c.execute(text("SELECT count(*) FROM answer")).scalar(),
            "completed submissions": c.execute(
                text("SELECT count(*) FROM submission WHERE completed_at IS NOT NULL")
            ).scalar(),
            "outbox replies": dict(
                c.execute(
                    text(
                        "SELECT status, count(*) FROM outbox_message "
                        "WHERE kind = 'reply' GROUP BY status"
                    )
                ).all()
            ),
        }
    engine.dispose()
    return counts


# -- the run -------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    name: str
    stats: Stats
    seconds: float
    cpu: dict[str, float]
    server_turns: list[float]
    measure_from: float
    #: seconds from the last webhook response until the fake got no more requests for 1.5 s
    settle: float

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.stats.samples if s.status == 200]

    @property
    def rate(self) -> float:
        """Answered events per second: over the measured window, or until the last answer if
        the app fell behind and answered the window's events only later (open loop)."""
        ok = self.ok
        if not ok:
            return 0.0
        return len(ok) / max(self.seconds, max(s.end for s in ok) - self.measure_from)

    def latencies(self) -> list[float]:
        return sorted(s.end - s.start for s in self.ok)


def run_phase(name, coroutine_factory, seconds, gunicorn_pid, log_path, fake) -> PhaseResult:
    """Run one load phase, then wait for the app's background replies to the fake to finish.

    CPU per event counts everything from the phase's first event (warm-up included) until its
    last reply reached the fake, so the background sending is in it.
    """
    offset = log_path.stat().st_size
    before = cpu_snapshot(gunicorn_pid)
    stats, measure_from = asyncio.run(coroutine_factory())
    settle = wait_for_deliveries(fake)
    after = cpu_snapshot(gunicorn_pid)
    end = log_path.stat().st_size
    # The log offset is taken before warm-up, so the server figures include warm-up turns too.
    turns = turn_times(log_path, offset, end)
    cpu = cpu_delta(before, after)
    return PhaseResult(name, stats, seconds, cpu, turns, measure_from, settle)


def machine_busy(seconds: float = 1.0) -> float:
    """How busy the machine is right now, in % of all cores (to warn of a noisy neighbour)."""
    before = cpu_snapshot(None)
    time.sleep(seconds)
    after = cpu_delta(before, cpu_snapshot(None))
    return after["busy"] / max(after["total"], 1e-9) * 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per phase")
    parser.add_argument("--rate", type=float, default=100, help="open-loop offered events/s")
    parser.add_argument("--users", type=int, default=200, help="distinct LINE users")
    cores = os.cpu_count() or 1
    parser.add_argument("--workers", type=int, default=cores, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument(
        "--concurrency",
        type=int,
        help="closed-loop senders and ceiling connections (default: workers x threads)",
    )
    parser.add_argument("--timeout", type=float, default=30, help="per-request timeout, s")
    parser.add_argument(
        "--requests-per-connection",
        type=int,
        default=10,
        help="reopen a keep-alive connection after this many requests (0: never)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (gunicorn log)")
    args = parser.parse_args()
    concurrency = args.concurrency or args.workers * args.threads
    sys.setswitchinterval(0.001)  # the fake LINE threads share our GIL: keep hand-offs short

    workdir = Path(tempfile.mkdtemp(prefix="bench-line-"))
    log_path = workdir / "gunicorn.log"
    log_path.touch()
    ports: set[int] = set()
    fake = gunicorn = None
    db: Database | None = None
    try:
        fake = start_fake_line(free_port(ports))
        db = prepare_database(args.database_url, workdir)
        env = app_env(db, fake, os.environ.get("LOG_LEVEL", "INFO"))
        print(f"database: {db.label}", flush=True)
        idle_busy = args.busy_before = machine_busy()
        print(f"machine before the run: {idle_busy:.0f}% busy", flush=True)
        if idle_busy > 10:
            print("  warning: something else is using the CPU; figures will suffer", flush=True)
        print("migrating and loading the demo forms ...", flush=True)
        run_cli("migrate", {**env, "LOG_LEVEL": "WARNING"})
        run_cli("load-demo", {**env, "LOG_LEVEL": "WARNING"})
        port = free_port(ports)
        gunicorn = start_gunicorn(port, args.workers, args.threads, env, log_path)
        print(
            f"gunicorn on 127.0.0.1:{port}: {args.workers} workers x {args.threads} threads; "
            f"fake LINE API on {fake.base_url}",
            flush=True,
        )
        print("learning the buttons' postback data from one probe user ...", flush=True)
        target = Target(
            fake, port, learn_buttons(fake, port), args.timeout, args.requests_per_connection
        )
        users = IdleUsers([User("U" + uuid.uuid4().hex) for _ in range(args.users)])

        print(
            f"open loop at {args.rate:g} events/s for {args.warmup:g}+{args.seconds:g} s ...",
            flush=True,
        )
        open_result = run_phase(
            f"open loop, {args.rate:g}/s offered",
            lambda: open_loop(target, users, args.rate, args.warmup, args.seconds),
            args.seconds,
            gunicorn.pid,
            log_path,
            fake,
        )
        print(
            f"closed loop with {concurrency} senders for {args.warmup:g}+{args.seconds:g} s ...",
            flush=True,
        )
        closed_result = run_phase(
            f"saturation, {concurrency} senders",
            lambda: closed_loop(target, users, concurrency, args.warmup, args.seconds),
            args.seconds,
            gunicorn.pid,
            log_path,
            fake,
        )
        print(f"floor: closed loop of empty (verify) bodies, {concurrency} senders ...", flush=True)
        floor_result = run_phase(
            f"floor: no events, {concurrency} senders",
            lambda: closed_loop(
                replace(target, verify_only=True), users, concurrency, args.warmup, args.seconds
            ),
            args.seconds,
            gunicorn.pid,
            log_path,
            fake,
        )
        sent_events = sum(r.stats.sent for r in (open_result, closed_result)) + len(CYCLE)
        requests_to_line = reply_counts(fake)
        stored = app_counts(db)
        stop_gunicorn(gunicorn)

        print(f"ceiling: commit loop, 1 then {concurrency} connections ...", flush=True)
        table = create_scratch_table(db)
        ceiling_1 = measure_ceiling(db, table, 1, 1.0, args.seconds)
        ceiling_n = measure_ceiling(db, table, concurrency, 1.0, args.seconds)

        report(
            args,
            db,
            [open_result, closed_result, floor_result],
            [ceiling_1, ceiling_n],
            requests_to_line,
            stored,
            sent_events,
        )
        return 0
    finally:
        if gunicorn is not None:
            stop_gunicorn(gunicorn)
        if fake is not None:
            fake.stop()
        if db is not None:
            for step in db.cleanup:
                try:
                    step()
                except Exception as error:  # keep cleaning up; say what was left behind
                    print(f"cleanup failed: {error!r}", file=sys.stderr)
        if args.keep:
            print(f"kept {workdir} (gunicorn.log has the app's JSON logs)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(args, db, phases, ceilings, requests_to_line, stored, sent_events) -> None:
    """The table, the goals, and what reached the fake LINE API and the database."""
    open_result, closed_result, floor_result = phases
    ceiling_1, ceiling_n = ceilings
    rule = "-" * 104
    print()
    print(rule)
    print(
        f"machine   : {os.cpu_count()} cores ({os.uname().machine}), "
        f"Python {sys.version.split()[0]}; {args.busy_before:.0f}% busy just before the run"
    )
    print(f"database  : {db.label}")
    print(
        f"gunicorn  : {args.workers} workers x {args.threads} threads (gthread), "
        f"'bot:create_app()', LOG_LEVEL={os.environ.get('LOG_LEVEL', 'INFO')}"
    )
    print(
        f"load      : {args.users} LINE users, each user's events in order; "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per phase"
    )
    print(rule)
    print(
        f"{'phase':<32} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}"
        f" {'turn p50':>8} {'turn p99':>8} {'app CPU':>8} {'bench CPU':>9}"
    )
    for r in phases:
        lat = r.latencies()
        per_event = 1000 / max(r.stats.sent, 1)  # the CPU window includes the warm-up
        print(
            f"{r.name:<32} {r.rate:>9.1f} {ms(percentile(lat, 50)):>8} "
            f"{ms(percentile(lat, 99)):>8} {ms(lat[-1] if lat else math.nan):>8} "
            f"{sum(r.stats.errors.values()):>6} "
            f"{ms(percentile(r.server_turns, 50)):>8} {ms(percentile(r.server_turns, 99)):>8} "
            f"{r.cpu['gunicorn'] * per_event:>6.1f}ms {r.cpu['bench'] * per_event:>7.1f}ms"
        )
    for c in ceilings:
        name = f"ceiling: commits, {c.connections} conn{'s' if c.connections > 1 else ''}"
        print(
            f"{name:<32} {c.rate:>9.1f} {ms(percentile(c.latencies, 50)):>8} "
            f"{ms(percentile(c.latencies, 99)):>8} "
            f"{ms(c.latencies[-1] if c.latencies else math.nan):>8}"
        )
    print(rule)
    print(
        "events/s: answered (HTTP 200) per second. Latency: open loop from each event's "
        "scheduled send time,\nclosed loop from its send; ceiling: one commit. turn: the app's "
        "own handle_inbound time (its 'turn' log line).\napp CPU / bench CPU: CPU time per event "
        "of all gunicorn processes / of this process (client + fake LINE)."
    )
    noisy = []
    for r in phases:
        ours = r.cpu["gunicorn"] + r.cpu["bench"] + r.cpu["irq"]
        pg = ""
        if db.kind == "postgresql":
            ours += r.cpu["postgres"]
            pg = (
                f"; PostgreSQL (the app's backends, WAL writer etc.) used "
                f"{r.cpu['postgres'] * 1000 / max(r.stats.sent, 1):.1f} ms CPU/event"
            )
        busy = r.cpu["busy"] / max(r.cpu["total"], 1e-9) * 100
        other = max(r.cpu["busy"] - ours, 0) / max(r.cpu["total"], 1e-9) * 100
        steal = r.cpu["steal"] / max(r.cpu["total"], 1e-9) * 100
        mix = Counter(s.kind for s in r.stats.samples)
        if other > 10:
            noisy.append(f"{r.name} ({other:.0f}%)")
        window = max(r.cpu["total"] / (os.cpu_count() or 1), 1e-9)  # wall seconds
        workers = "/".join(f"{cpu / window * 100:.0f}%" for cpu in r.cpu["workers"])
        print(
            f"  {r.name}: machine CPU {busy:.0f}% busy, of which {other:.0f}% not ours "
            f"({steal:.0f}% stolen by the hypervisor){pg}; "
            f"each gunicorn worker's CPU {workers} of one core; "
            f"events {dict(mix)}; replies done "
            f"{max(r.settle - 1.5, 0):.1f} s after the last response; "
            f"{r.stats.retries} stale keep-alives retried"
            + (f"; errors {dict(r.stats.errors)}" if r.stats.errors else "")
        )
    if noisy:
        print(
            f"  WARNING: other processes used the CPU during {', '.join(noisy)} (% of the "
            "machine): these figures understate the app; rerun on a quiet machine"
        )
    ceiling = max(ceiling_1.rate, ceiling_n.rate)
    ratio = closed_result.rate / ceiling if ceiling else math.nan
    print(rule)
    print(
        f"pipeline / ceiling: {closed_result.rate:.1f} events/s / {ceiling:.1f} commits/s "
        f"(the better of 1 and {ceiling_n.connections} connections) = {ratio * 100:.1f} %"
        f"   [vs 1 conn {closed_result.rate / ceiling_1.rate * 100:.1f} %, "
        f"vs {ceiling_n.connections} conns {closed_result.rate / ceiling_n.rate * 100:.1f} %]"
    )
    print(
        f"floor / ceiling   : {floor_result.rate:.1f} empty bodies/s / {ceiling:.1f} commits/s = "
        f"{floor_result.rate / ceiling * 100:.1f} %: gunicorn, Flask and the SDK's signature "
        "check and parsing alone,\n                    with no database work, reach this much "
        "of the ceiling"
    )
    print(
        f"goal: pipeline >= 50 % of ceiling           {'MET' if ratio >= 0.5 else 'NOT MET'}: "
        f"{ratio * 100:.1f} % (50 % is {0.5 * ceiling:.0f} events/s)"
    )
    p99 = percentile(open_result.latencies(), 99)
    kept_up = open_result.rate >= 0.95 * args.rate
    met = p99 <= 0.050 and kept_up
    note = "" if kept_up else f"; it fell behind, answering {open_result.rate:.1f} events/s"
    if db.kind != "sqlite":
        note += "  [stated for SQLite; shown for reference]"
    print(
        f"goal: p99 <= 50 ms at {args.rate:g} events/s (SQLite)  {'MET' if met else 'NOT MET'}: "
        f"p99 {ms(p99)} ms{note}"
    )
    print(rule)
    replies_ok = requests_to_line.get(("reply", 200), 0)
    others = {
        f"{path} {status}": n
        for (path, status), n in sorted(requests_to_line.items())
        if (path, status) != ("reply", 200)
    }
    print(
        f"fake LINE API: {replies_ok} reply requests answered 200 for {sent_events} events sent "
        f"(warm-ups and the probe user's included)" + (f"; also {others}" if others else "")
    )
    print(
        f"app database : {stored['processed events']} events processed, {stored['answers']} "
        f"answers, {stored['completed submissions']} completed submissions; reply messages in "
        f"the outbox by status {stored['outbox replies']}"
    )
    print(rule)


if __name__ == "__main__":
    sys.exit(main())
