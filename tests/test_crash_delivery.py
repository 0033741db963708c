"""A reply or push whose answer never came, and senders killed mid-send: every message still
reaches its user exactly once, and a chat's waiting messages go together."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.delivery import deliver
from storage.db import make_engine
from storage.models import OutboxMessage
from tests.line_user import LineUser, lost_and_doubled, sign, text_message, text_of
from tests.test_workers import prepare

ROOT = Path(__file__).resolve().parent.parent
#: The delivery worker, as the Procfile's worker: runs it.
WORKER = [sys.executable, "-m", "flask", "--app", "bot", "worker"]


def test_a_reply_whose_answer_never_came_is_asked_again_not_pushed(line_app, fake_line, clock):
    """LINE took the reply but its answer timed out: the retry repeats the same reply, LINE
    says the token was used, and the greeting is not pushed a second time."""
    user = LineUser(line_app, fake_line)
    runtime = line_app.extensions["runtime"]
    assert user.post(user.event("follow")).status_code == 200
    fake_line.delay_next(
        runtime.channels["line"].sender.timeout + 1
    )  # longer than the sender waits
    deliver(runtime, clock.now)
    assert "สวัสดีค่ะ" in text_of(fake_line.messages_to(user.user_id))
    clock.advance(seconds=5)  # past the backoff, well within the token's life
    deliver(runtime, clock.now)
    greetings = [m for m in fake_line.messages_to(user.user_id) if "สวัสดีค่ะ" in m.get("text", "")]
    assert len(greetings) == 1
    assert fake_line.pushes() == []
    with runtime.db() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}


def test_a_push_whose_answer_never_came_is_repeated_with_its_retry_key(line_app, fake_line, clock):
    """The same for a push: the repeat carries the same X-Line-Retry-Key, and LINE's 409 says
    it went out; the user has it once."""
    user = LineUser(line_app, fake_line)
    runtime = line_app.extensions["runtime"]
    assert user.post(user.event("follow")).status_code == 200
    fake_line.expire_reply_tokens()
    clock.advance(seconds=30)  # too old for a reply: push
    fake_line.delay_next(runtime.channels["line"].sender.timeout + 1)
    deliver(runtime, clock.now)
    clock.advance(seconds=5)
    deliver(runtime, clock.now)
    assert [push.status for push in fake_line.pushes()] == [200, 409]
    keys = {push.headers["x-line-retry-key"] for push in fake_line.pushes()}
    assert len(keys) == 1
    assert lost_and_doubled(
        runtime.engine.url.render_as_string(False), fake_line, [user.user_id]
    ) == (0, 0)


def test_a_chats_waiting_messages_go_together_in_one_push(line_app, fake_line, clock):
    """After an outage the greeting and the consent question wait: one push carries them."""
    user = LineUser(line_app, fake_line)
    runtime = line_app.extensions["runtime"]
    assert user.post(user.event("follow")).status_code == 200
    with runtime.db() as session:
        waiting = len(session.scalars(select(OutboxMessage)).all())
    assert waiting > 1
    fake_line.expire_reply_tokens()
    clock.advance(seconds=30)
    deliver(runtime, clock.now)
    assert len(fake_line.pushes()) == 1
    assert len(fake_line.pushes()[0].json["messages"]) == len(fake_line.messages_to(user.user_id))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _web_env(database_url: str, fake_line, lease_seconds: int) -> dict[str, str]:
    """The environment of the app's processes: the test database, LINE pointed at the fake."""
    return os.environ | {
        "DATABASE_URL": database_url,
        "LINE_CHANNEL_SECRET": "test-channel-secret",
        "LINE_CHANNEL_ACCESS_TOKEN": fake_line.token,
        "LINE_API_BASE_URL": fake_line.base_url,
        "PUBLIC_BASE_URL": "https://bot.example.org",
        "DELIVERY_LEASE_SECONDS": str(lease_seconds),
    }


def _start_web(env: dict[str, str], workers: int, threads: int) -> tuple[subprocess.Popen, int]:
    """Load the demo content, then serve the app under gunicorn, as the Procfile does."""
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "bot", "load-demo"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--threads", str(threads), "bot:create_app()"]
    return _start(command, env), port


def _post_event(port: int, event: dict) -> None:
    """Deliver one signed LINE event to the served app, as LINE does; it must answer 200."""
    body = json.dumps({"destination": "Ubot", "events": [event]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/line",
        data=body,
        headers={"X-Line-Signature": sign(body), "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def _wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not become healthy")


def _outbox_statuses(url: str) -> list[str]:
    engine = make_engine(url)
    with engine.connect() as connection:
        statuses = list(connection.execute(select(OutboxMessage.status)).scalars())
    engine.dispose()
    return statuses


def test_kill_9_of_web_and_worker_mid_send_then_restart_delivers_each_message_once(
    database_url, fake_line
) -> None:
    """gunicorn (2 workers) sends replies after commit while LINE is slow; every process is
    killed with SIGKILL mid-send; a new worker takes over: nothing lost, nothing twice."""
    env = _web_env(database_url, fake_line, lease_seconds=3)
    web, port = _start_web(env, workers=2, threads=4)
    worker = None
    try:
        _wait_healthy(port)
        fake_line.delay_next(1.0, count=10**6)  # LINE takes each request, answers a second later
        users = [f"U{n:032x}" for n in range(8)]

        def follow_and_write(user_id: str) -> None:
            follow = _event(fake_line, user_id, "follow", follow={"isUnblocked": False})
            help_ = _event(fake_line, user_id, "message", message=text_message("ช่วยเหลือ"))
            for event in (follow, help_):
                _post_event(port, event)

        threads = [threading.Thread(target=follow_and_write, args=(u,)) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fake_line.wait_for_messages(4, timeout=30)
        os.killpg(web.pid, signal.SIGKILL)  # master and workers, mid-send
        web.wait()
        assert "sending" in _outbox_statuses(database_url), "killed with replies in hand"
        worker = _start(WORKER, env)
        deadline = time.monotonic() + 90
        while set(_outbox_statuses(database_url)) - {"sent"}:
            assert time.monotonic() < deadline, _outbox_statuses(database_url)
            time.sleep(0.2)
        assert lost_and_doubled(database_url, fake_line, users) == (0, 0)
    finally:
        for process in (web, worker):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_sigterm_stops_a_worker_within_seconds_and_releases_what_it_held(
    database_url, fake_line
) -> None:
    """A slow LINE API and a backlog: on SIGTERM the worker ends its call in flight, gives the
    rest back (pending, not held under a lease) and exits within a few seconds."""
    prepare(database_url, 30, datetime.now(UTC))
    fake_line.delay_next(2.0, count=10**6)
    worker = _start(WORKER, _web_env(database_url, fake_line, lease_seconds=60))
    try:
        fake_line.wait_for_messages(1, timeout=60)
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)
        assert time.monotonic() - started < 5
        statuses = _outbox_statuses(database_url)
        assert "sending" not in statuses, "nothing left held until its lease lapses"
        assert statuses.count("pending") >= 25
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _event(fake_line, user_id: str, kind: str, **fields) -> dict:
    """A LINE event from this user with a fresh id and reply token."""
    return {
        "type": kind,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": uuid.uuid4().hex,
        "deliveryContext": {"isRedelivery": False},
        "replyToken": fake_line.issue_reply_token(user_id),
        **fields,
    }


def test_a_reply_refused_with_429_is_pushed_later_not_taken_as_delivered(
    line_app, fake_line, clock
) -> None:
    """LINE's 429 proves nothing went out: once the token is too old, the greeting is pushed."""
    user = LineUser(line_app, fake_line)
    runtime = line_app.extensions["runtime"]
    assert user.post(user.event("follow")).status_code == 200
    fake_line.fail_next(429, path_contains="reply")
    deliver(runtime, clock.now)
    assert fake_line.messages_to(user.user_id) == []
    clock.advance(seconds=60)  # the token is too old now
    deliver(runtime, clock.now)
    assert "สวัสดีค่ะ" in text_of(fake_line.messages_to(user.user_id))
    assert [push.status for push in fake_line.pushes()] == [200]


def test_a_sender_keeps_its_claim_while_it_works_through_a_long_batch(line_app, clock) -> None:
    """Before each call the sender renews its lease from the time of that call, so a second
    sender finds nothing to take even when the batch outlasts the first lease."""
    from bot.delivery import LEASE, claim, note_try
    from bot.service import Inbound, handle_inbound
    from survey_flows.session import HelloInput

    runtime = line_app.extensions["runtime"]
    for n in range(3):
        hello = Inbound("line", f"U{n:032x}", HelloInput(), event_id=f"e{n}")
        handle_inbound(runtime.db, runtime.library, hello, clock.now, runtime.tz)
    taken = claim(runtime.db, clock.now)
    assert taken
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert note_try(runtime.db, taken[:1], "push:" + taken[0].retry_key, clock.now)
    clock.advance(seconds=LEASE.total_seconds() - 1)  # past the first lease, within the renewed
    assert claim(runtime.db, clock.now) == []
    clock.advance(seconds=2)  # the sender went quiet: its claim lapses, another takes over
    retaken = claim(runtime.db, clock.now)
    assert {m.id for m in retaken} == {m.id for m in taken}
    assert not note_try(runtime.db, taken[1:2], "push:x", clock.now), "the first is fenced out"


def test_sigterm_stops_gunicorn_within_seconds_and_releases_the_replies_it_held(
    database_url, fake_line
) -> None:
    """Replies claimed by gunicorn's sender threads while LINE is slow: on SIGTERM the web
    process exits within seconds and what it had not sent is pending again, not held."""
    web, port = _start_web(_web_env(database_url, fake_line, lease_seconds=60), 1, 2)
    try:
        _wait_healthy(port)
        fake_line.delay_next(3.0, count=10**6)
        for n in range(10):  # ten people write at once; two sender threads work through them
            _post_event(
                port, _event(fake_line, f"U{n:032x}", "follow", follow={"isUnblocked": False})
            )
        fake_line.wait_for_messages(1, timeout=30)
        started = time.monotonic()
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
        assert time.monotonic() - started < 12
        statuses = _outbox_statuses(database_url)
        assert "sending" not in statuses, "nothing left held until its lease lapses"
        assert "pending" in statuses, "the replies not yet sent wait for a worker"
    finally:
        if web.poll() is None:
            os.killpg(web.pid, signal.SIGKILL)
            web.wait()
