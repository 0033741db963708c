"""A broadcast on LINE goes by multicast, tested against the fake LINE API on SQLite and
PostgreSQL: calls of at most 500 people (or half a second of the configured pace), each with its own
retry key, which a repeat reuses and sends to everyone the first try was for, so each person gets
it once whatever fails; a call LINE refuses for one bad id does not fail the rest; a 429 backs
off; the configured pace keeps a throttled account clear of LINE's 429s."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import insert, select

from bot import broadcasts
from bot.broadcasts import Notice, send_broadcast
from bot.coordination import Actor
from bot.delivery import claim, deliver, send
from storage.audience import Audience
from storage.models import (
    Broadcast,
    ConsentRecord,
    OutboxMessage,
    Respondent,
    Submission,
    SurveyVersion,
    Workshop,
)
from tests.line_user import USER, LineUser, app_with_line

ACTOR = Actor("coord@example.org", "coordinator", "192.0.2.1")
NOTICE = Notice("ขอเชิญร่วมอบรมการทำบัญชีรายรับรายจ่าย วันเสาร์นี้ค่ะ")
MULTICAST = "/v2/bot/message/multicast"
OTHER = "U" + "b" * 32


def crowd(runtime, clock, count: int, *, bad: tuple[int, ...] = ()) -> list[str]:
    """`count` consented LINE respondents; those numbered in `bad` have an id LINE refuses."""
    users = [
        f"not-a-line-id-{n}" if n in bad else "U" + f"{n}".rjust(32, "0") for n in range(count)
    ]
    with runtime.db.begin() as session:
        session.execute(
            insert(Respondent),
            [
                {"channel": "line", "channel_user_id": user, "profile": {}, "created_at": clock.now}
                for user in users
            ],
        )
        ids = session.scalars(select(Respondent.id).where(Respondent.channel == "line")).all()
        session.execute(
            insert(ConsentRecord),
            [
                {
                    "respondent_id": respondent_id,
                    "wording_version": "v1",
                    "given": True,
                    "recorded_at": clock.now,
                    "channel": "line",
                }
                for respondent_id in ids
            ],
        )
    return users


def broadcast_to_all(runtime) -> int:
    """An urgent broadcast to everyone on LINE; its id."""
    broadcast_id, _ = send_broadcast(runtime, ACTOR, NOTICE, Audience(channel="line"), urgent=True)
    return broadcast_id


def multicasts(fake_line) -> list:
    """The multicast calls the fake received, answered or refused."""
    return [r for r in fake_line.requests if r.path == MULTICAST]


def statuses(runtime, broadcast_id: int) -> dict[str, str]:
    """Each recipient's message status, by address."""
    with runtime.db() as session:
        rows = session.execute(
            select(OutboxMessage.address, OutboxMessage.status).where(
                OutboxMessage.broadcast_id == broadcast_id
            )
        )
        return dict(rows.all())


def deliver_all(runtime, clock) -> None:
    """Run the worker's rounds until nothing is left, waiting out backoffs on the test clock."""

    def round_() -> int:
        return broadcasts.finish_writing(runtime, clock.now) + deliver(runtime, clock.now)

    for _ in range(50):
        if not round_():
            clock.advance(minutes=6)  # past the longest backoff
            if not round_():
                return
    raise AssertionError("the broadcast never finished")


def test_a_broadcast_goes_in_multicasts_of_at_most_500_each_with_its_own_key(
    line_app, fake_line, clock
) -> None:
    """1,200 people: three calls (500, 500, 200), three retry keys, each person once."""
    runtime = line_app.extensions["runtime"]
    users = crowd(runtime, clock, 1200)
    broadcast_id = broadcast_to_all(runtime)
    deliver_all(runtime, clock)
    calls = multicasts(fake_line)
    assert sorted(len(call.json["to"]) for call in calls) == [200, 500, 500]
    assert len({call.headers["x-line-retry-key"] for call in calls}) == 3
    assert all(len(fake_line.messages_to(user)) == 1 for user in users)
    assert set(statuses(runtime, broadcast_id).values()) == {"sent"}
    assert fake_line.pushes() == []
    assert fake_line.consumed == 1200  # one message of the month's quota per person


def test_a_call_whose_answer_was_lost_is_repeated_with_its_key_and_not_delivered_twice(
    line_app, fake_line, clock
) -> None:
    """LINE took the call but its answer never came (a timeout): the repeat has the same key
    and the same people, LINE answers 409, and all are recorded as sent, each having it once."""
    runtime = line_app.extensions["runtime"]
    users = crowd(runtime, clock, 3)
    broadcast_id = broadcast_to_all(runtime)
    runtime.channels["line"].sender.timeout = 0.3
    fake_line.delay_next(1.0)
    deliver(runtime, clock.now)
    assert set(statuses(runtime, broadcast_id).values()) == {"pending"}
    runtime.channels["line"].sender.timeout = 5.0
    deliver_all(runtime, clock)
    first, again = multicasts(fake_line)
    assert first.headers["x-line-retry-key"] == again.headers["x-line-retry-key"]
    assert first.json["to"] == again.json["to"] and again.status == 409
    assert all(len(fake_line.messages_to(user)) == 1 for user in users)
    assert set(statuses(runtime, broadcast_id).values()) == {"sent"}


def test_a_repeat_taken_in_part_still_reaches_everyone_the_first_try_was_for(
    line_app, fake_line, clock
) -> None:
    """A 500 (LINE may or may not have it) and then a sender that takes only one of the three:
    its repeat goes to all three under the first key, so the others' later repeat is a 409 that
    truly means delivered; each person has it once."""
    runtime = line_app.extensions["runtime"]
    users = crowd(runtime, clock, 3)
    broadcast_id = broadcast_to_all(runtime)
    fake_line.fail_next(500, path_contains="multicast")
    deliver(runtime, clock.now)
    clock.advance(minutes=6)
    send(runtime, claim(runtime.db, clock.now, limit=1, broadcasts_on="line"), clock.now)
    assert sorted(fake_line.messages_to(user) != [] for user in users) == [True] * 3
    deliver_all(runtime, clock)
    refused, accepted, told = multicasts(fake_line)
    assert (refused.status, accepted.status, told.status) == (500, 200, 409)
    assert sorted(accepted.json["to"]) == sorted(users)
    key = refused.headers["x-line-retry-key"]
    assert accepted.headers["x-line-retry-key"] == told.headers["x-line-retry-key"] == key
    assert all(len(fake_line.messages_to(user)) == 1 for user in users)
    assert set(statuses(runtime, broadcast_id).values()) == {"sent"}


def test_one_id_line_refuses_fails_alone_and_the_rest_are_sent(line_app, fake_line, clock) -> None:
    """LINE refuses a whole multicast for one id it cannot use: each is then pushed on its
    own; that one fails with LINE's reason, the others are sent."""
    runtime = line_app.extensions["runtime"]
    users = crowd(runtime, clock, 4, bad=(2,))
    broadcast_id = broadcast_to_all(runtime)
    deliver_all(runtime, clock)
    [refused] = multicasts(fake_line)
    assert refused.status == 400
    assert sorted(push.status for push in fake_line.pushes()) == [200, 200, 200, 400]
    with runtime.db() as session:
        failed = session.execute(
            select(OutboxMessage.address, OutboxMessage.last_error).where(
                OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.status == "failed"
            )
        ).all()
    assert [address for address, _ in failed] == [users[2]]
    assert "'to'" in failed[0][1]
    assert [len(fake_line.messages_to(user)) for user in users] == [1, 1, 0, 1]


def test_a_429_backs_off_and_the_broadcast_goes_later_once(line_app, fake_line, clock) -> None:
    """Rate limited: nothing went, so the try is forgotten; after the backoff it goes once."""
    runtime = line_app.extensions["runtime"]
    users = crowd(runtime, clock, 5)
    broadcast_id = broadcast_to_all(runtime)
    fake_line.fail_next(429, path_contains="multicast")
    deliver(runtime, clock.now)
    assert deliver(runtime, clock.now) == 0  # waiting out the backoff, not hammering LINE
    deliver_all(runtime, clock)
    assert [call.status for call in multicasts(fake_line)] == [429, 200]
    assert all(len(fake_line.messages_to(user)) == 1 for user in users)
    assert set(statuses(runtime, broadcast_id).values()) == {"sent"}


@pytest.fixture
def paced_line_app(database_url, clock, fake_line):
    """The app sending to LINE at 100 messages a second, as a throttled account is told to."""
    yield from app_with_line(
        database_url,
        clock,
        fake_line,
        TESTING=True,
        DELIVER_AFTER_COMMIT=False,
        LINE_MESSAGES_PER_SECOND="100",
    )


def test_the_configured_pace_keeps_clear_of_the_accounts_limit(
    paced_line_app, fake_line, clock
) -> None:
    """LINE holds the account to 100 a second; told so, the bot sends 250 in calls of 50 at
    most, half a second apart, and LINE never answers 429."""
    runtime = paced_line_app.extensions["runtime"]
    fake_line.limit_rate(100)
    users = crowd(runtime, clock, 250)
    broadcast_to_all(runtime)
    started = time.monotonic()
    deliver_all(runtime, clock)
    took = time.monotonic() - started
    calls = multicasts(fake_line)
    assert [call.status for call in calls] == [200] * len(calls)
    assert max(len(call.json["to"]) for call in calls) <= 50
    assert all(len(fake_line.messages_to(user)) == 1 for user in users)
    assert 1.8 < took < 6  # 250 at 100 a second: the first call at once, the fifth after 2 s


def test_its_buttons_start_the_survey_and_open_the_workshop_for_everyone_it_reached(
    line_app, fake_line, clock
) -> None:
    """One multicast to two people, with the survey's and the workshop's buttons: each of them
    taps, and the survey starts for one, the workshop's sign-up opens for the other (a button
    that pointed at one person's row would be stale for the rest)."""
    runtime = line_app.extensions["runtime"]
    driver, vendor = LineUser(line_app, fake_line, USER), LineUser(line_app, fake_line, OTHER)
    for user in (driver, vendor):
        user.onboard()
    with runtime.db() as session:
        workshop = session.scalars(
            select(Workshop).where(Workshop.starts_at > clock.now).order_by(Workshop.starts_at)
        ).first()
        title = workshop.course.title_th
    notice = Notice(NOTICE.text_th, survey="active_citizen", workshop_id=workshop.id)
    send_broadcast(runtime, ACTOR, notice, Audience(channel="line"), urgent=True)
    deliver_all(runtime, clock)
    [call] = multicasts(fake_line)
    assert sorted(call.json["to"]) == sorted([USER, OTHER])
    assert driver.quick_replies() == ["เริ่มทำแบบสอบถาม", "ดูรายละเอียดและสมัคร"]
    driver.tap("เริ่มทำแบบสอบถาม")
    vendor.tap("ดูรายละเอียดและสมัคร")
    with runtime.db() as session:
        started = session.scalars(
            select(SurveyVersion.form_id)
            .join(Submission, Submission.survey_version_id == SurveyVersion.id)
            .join(Respondent, Respondent.id == Submission.respondent_id)
            .where(Respondent.channel_user_id == USER)
        ).all()
    assert "active_citizen" in started
    shown = "\n".join(
        m.get("text") or m.get("altText", "") for m in fake_line.messages_to(OTHER)[-2:]
    )
    assert title in shown and "ลงทะเบียน" in vendor.quick_replies()


def test_two_senders_at_once_share_a_broadcast_and_nobody_gets_it_twice(
    line_app, fake_line, clock
) -> None:
    """Two workers' rounds at the same time (on PostgreSQL, each skips what the other locked):
    1,500 people, written in two parts, each reached once, in calls of at most 500."""
    runtime = line_app.extensions["runtime"]
    users = crowd(runtime, clock, 1500)
    broadcast_id = broadcast_to_all(runtime)

    def worker() -> None:  # a worker's rounds: write a part, send what is due
        while broadcasts.finish_writing(runtime, clock.now) + deliver(runtime, clock.now):
            pass

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(fake_line.messages_to(user)) == 1 for user in users)
    assert max(len(call.json["to"]) for call in multicasts(fake_line)) <= 500
    assert set(statuses(runtime, broadcast_id).values()) == {"sent"}


def test_a_large_broadcast_is_written_in_parts_between_the_sends(
    line_app, fake_line, clock, monkeypatch
) -> None:
    """Written two at a time: the first part with the broadcast, the rest by the worker's
    rounds, each person once; a cancelled one is written no further."""
    monkeypatch.setattr(broadcasts, "WRITE_PART", 2)
    runtime = line_app.extensions["runtime"]
    users = crowd(runtime, clock, 5)
    broadcast_id = broadcast_to_all(runtime)
    assert written(runtime, broadcast_id) == (2, False)
    assert broadcasts.finish_writing(runtime, clock.now) == 2
    deliver_all(runtime, clock)  # the worker's rounds write the last one too
    assert written(runtime, broadcast_id) == (5, True)
    assert [len(fake_line.messages_to(user)) for user in users] == [1] * 5
    stopped = broadcast_to_all(runtime)
    broadcasts.cancel_broadcast(runtime, ACTOR, stopped)
    assert broadcasts.finish_writing(runtime, clock.now) == 0
    assert written(runtime, stopped) == (2, True)


def written(runtime, broadcast_id: int) -> tuple[int, bool]:
    """How many a broadcast is written for so far, and whether that is all."""
    with runtime.db() as session:
        broadcast = session.get(Broadcast, broadcast_id)
        return broadcast.recipients, broadcast.written_at is not None
