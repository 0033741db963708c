"""Broadcasts through the service, the CLI and the fake LINE API: the audience selects the right
people and never those who withdrew, blocked the bot, never consented or are test data; each gets
one message in their language with its own retry key; quiet hours move it unless urgent;
cancelling withdraws what has not gone; replies someone waits for go first."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.broadcasts import CANCELLED, Notice, cancel_broadcast, plan_broadcast, send_broadcast
from bot.coordination import Actor
from bot.delivery import claim, deliver, send
from storage.audience import Audience
from storage.models import (
    AuditEntry,
    ConsentRecord,
    OutboxMessage,
    Respondent,
    Submission,
    SurveyVersion,
    Workshop,
)
from storage.outbox import add_messages
from storage.workshops import register
from tests.console_user import add_account

COORDINATOR = "coord@example.org"
ACTOR = Actor(COORDINATOR, "coordinator", "192.0.2.1")
NOTICE = Notice("พรุ่งนี้มีตลาดนัดชุมชนที่กาดกองต้าค่ะ", "Community market at Kad Kong Ta tomorrow.")


def person(session, clock, name: str, *, consent=True, **columns) -> Respondent:
    """A respondent (on LINE, consented, unless told otherwise) with the given columns."""
    made = Respondent(
        channel=columns.pop("channel", "line"),
        channel_user_id=columns.pop("channel_user_id", f"U{name:0>32}"[:33]),
        profile=columns.pop("profile", {}),
        created_at=clock.now,
        **columns,
    )
    session.add(made)
    session.flush()
    if consent:
        session.add(
            ConsentRecord(
                respondent_id=made.id,
                wording_version="v1",
                given=True,
                recorded_at=clock.now,
                channel=made.channel,
            )
        )
    return made


@pytest.fixture
def town(line_app, clock) -> dict[str, int]:
    """Drivers and vendors of both municipalities, and everyone a broadcast must leave out."""
    runtime = line_app.extensions["runtime"]
    with runtime.db.begin() as session:
        assessment = session.scalars(
            select(SurveyVersion.id).where(SurveyVersion.form_id == "active_citizen")
        ).first()
        workshop = session.scalars(select(Workshop.id).order_by(Workshop.id)).first()
        ids = {}
        for name, profile, extra in (
            ("driver", {"group": "carriage", "municipality": "nakhon"}, {"language": "en"}),
            ("driver2", {"group": "carriage", "municipality": "khelang"}, {}),
            ("vendor", {"group": "kadkongta", "municipality": "nakhon"}, {}),
            ("teleg", {"group": "kadkongta", "municipality": "nakhon"}, {"channel": "telegram"}),
        ):
            ids[name] = person(session, clock, name, profile=profile, **extra).id
        out = {"group": "carriage", "municipality": "nakhon"}
        ids["withdrew"] = person(session, clock, "withdrew", profile=out, consent_withdrawn=True).id
        ids["blocked"] = person(session, clock, "blocked", profile=out, reachable=False).id
        ids["never"] = person(session, clock, "never", profile=out, consent=False).id
        ids["tester"] = person(session, clock, "tester", profile=out, is_test=True).id
        register(session, workshop, ids["driver2"], clock.now)
        for who, score in (("driver", 2.5), ("vendor", 4.0)):
            session.add(
                Submission(
                    respondent_id=ids[who],
                    survey_version_id=assessment,
                    channel="line",
                    started_at=clock.now - timedelta(hours=1),
                    completed_at=clock.now,
                    scores={"characteristics": {"c3": score}, "subfeatures": {}},
                )
            )
        ids["workshop"] = workshop
    add_account(line_app, COORDINATOR, "coordinator")
    return ids


def reached(app, audience: Audience) -> set[int]:
    """Who a broadcast to the audience is written for."""
    broadcast_id, _ = send_broadcast(
        app.extensions["runtime"], ACTOR, NOTICE, audience, urgent=True
    )
    with app.extensions["runtime"].db() as session:
        return set(
            session.scalars(
                select(OutboxMessage.respondent_id).where(
                    OutboxMessage.broadcast_id == broadcast_id
                )
            )
        )


def test_segments_select_the_right_people_and_never_the_excluded(line_app, town) -> None:
    """Each filter, and two together; the withdrawn, the blocked, the never consented and the
    testers are in none."""
    ids = town
    everyone = {ids[n] for n in ("driver", "driver2", "vendor", "teleg")}
    assert reached(line_app, Audience()) == everyone
    assert reached(line_app, Audience(groups=("carriage",))) == {ids["driver"], ids["driver2"]}
    assert reached(line_app, Audience(municipalities=("khelang",))) == {ids["driver2"]}
    assert reached(line_app, Audience(channel="telegram")) == {ids["teleg"]}
    assert reached(
        line_app, Audience(groups=("kadkongta",), municipalities=("nakhon",), channel="line")
    ) == {ids["vendor"]}
    assert reached(line_app, Audience(workshop_id=ids["workshop"])) == {ids["driver2"]}
    assert (
        reached(line_app, Audience(workshop_id=ids["workshop"], workshop_part="waitlisted"))
        == set()
    )
    done = Audience(form_id="active_citizen", completed=True)
    assert reached(line_app, done) == {ids["driver"], ids["vendor"]}
    not_done = Audience(form_id="active_citizen", completed=False)
    assert reached(line_app, not_done) == {ids["driver2"], ids["teleg"]}
    assert reached(line_app, Audience(characteristic="c3", below=3.0)) == {ids["driver"]}


def test_the_plan_counts_per_channel_and_moves_quiet_hours(line_app, town, clock) -> None:
    """The count per channel before sending; 22:30 is moved to 08:00 the next morning, unless
    urgent; a time in the past is refused."""
    runtime = line_app.extensions["runtime"]
    late = datetime(2026, 11, 23, 22, 30, tzinfo=runtime.tz)
    plan = plan_broadcast(runtime, Audience(), late)
    assert plan.reach == {"line": 3, "telegram": 1} and plan.total == 4
    assert plan.moved and plan.send_at == datetime(2026, 11, 24, 8, 0, tzinfo=runtime.tz)
    urgent = plan_broadcast(runtime, Audience(), late, urgent=True)
    assert not urgent.moved and urgent.send_at == late
    with pytest.raises(ValueError):
        send_broadcast(runtime, ACTOR, NOTICE, Audience(), clock.now - timedelta(hours=1))
    with runtime.db() as session:
        assert session.scalars(select(OutboxMessage)).all() == []  # planning sends nothing


def test_each_gets_one_message_in_their_language_with_its_own_retry_key(
    line_app, town, fake_line, clock
) -> None:
    """Through the worker to the fake LINE: English for the one who chose it, Thai for the
    rest; distinct retry keys; the broadcast audited; the same broadcast cannot be written twice
    for anyone."""
    runtime = line_app.extensions["runtime"]
    broadcast_id, plan = send_broadcast(
        runtime, ACTOR, NOTICE, Audience(channel="line", groups=("carriage",)), urgent=True
    )
    assert plan.reach == {"line": 2}
    while deliver(runtime, clock.now):
        pass
    multicasts = [r for r in fake_line.requests if r.path == "/v2/bot/message/multicast"]
    texts = {tuple(call.json["to"]): call.json["messages"][0]["text"] for call in multicasts}
    assert texts == {
        ("U" + "driver".rjust(32, "0"),): NOTICE.text_en,
        ("U" + "driver2".rjust(32, "0"),): NOTICE.text_th,
    }
    assert len({call.headers["x-line-retry-key"] for call in multicasts}) == 2
    assert fake_line.pushes() == []
    with runtime.db() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "broadcast.sent")
        ).one()
        assert entry.actor == COORDINATOR and entry.detail["reach"] == {"line": 2}
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id)
        ).first()
    with pytest.raises(IntegrityError), runtime.db.begin() as session:
        add = add_messages(
            session, row.respondent_id, "line", row.address, [{"text": "x"}], clock.now
        )
        add[0].broadcast_id = broadcast_id
        session.flush()


def test_someone_who_withdraws_after_it_was_written_gets_nothing(
    line_app, town, fake_line, clock
) -> None:
    """Consent is checked again just before sending: the message is dropped, not sent."""
    runtime = line_app.extensions["runtime"]
    send_broadcast(runtime, ACTOR, NOTICE, Audience(groups=("kadkongta",), channel="line"))
    with runtime.db.begin() as session:
        session.get(Respondent, town["vendor"]).consent_withdrawn = True
    while deliver(runtime, clock.now):
        pass
    assert fake_line.pushes() == []


def test_cancelling_withdraws_what_has_not_gone_and_keeps_what_went(
    line_app, town, fake_line, clock
) -> None:
    """One message sent, then cancel: the rest are dropped as cancelled, the sent one stays."""
    runtime = line_app.extensions["runtime"]
    broadcast_id, _ = send_broadcast(runtime, ACTOR, NOTICE, Audience(channel="line"), urgent=True)
    send(runtime, claim(runtime.db, clock.now, limit=1, broadcasts_on="line"), clock.now)
    assert cancel_broadcast(runtime, ACTOR, broadcast_id) == 2
    while deliver(runtime, clock.now):
        pass
    assert sum(len(fake_line.messages_to(u)) for u in everyone_on_line(runtime)) == 1
    with runtime.db() as session:
        statuses = sorted(
            (row.status, row.last_error)
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id)
            )
        )
    assert statuses == [("dropped", CANCELLED), ("dropped", CANCELLED), ("sent", None)]


def test_a_waiting_reply_goes_before_a_broadcast(line_app, town, fake_line, clock) -> None:
    """A reply written after a broadcast to everyone still goes out first."""
    runtime = line_app.extensions["runtime"]
    send_broadcast(runtime, ACTOR, NOTICE, Audience(channel="line"), urgent=True)
    vendor = "U" + "vendor".rjust(32, "0")
    with runtime.db.begin() as session:
        add_messages(session, town["vendor"], "line", vendor, [{"text": "ค่ะ"}], clock.now)
    deliver(runtime, clock.now)
    first, *rest = [r for r in fake_line.requests if "/message/" in r.path]
    assert first.path == "/v2/bot/message/push" and first.json["to"] == vendor
    assert [r.path for r in rest] == ["/v2/bot/message/multicast"] * len(rest) and rest


def everyone_on_line(runtime) -> list[str]:
    """The LINE user ids of every respondent."""
    with runtime.db() as session:
        return list(
            session.scalars(select(Respondent.channel_user_id).where(Respondent.channel == "line"))
        )


def test_the_command_line_sends_or_only_counts(line_app, town) -> None:
    """`flask broadcast send --dry-run` counts and writes nothing; without it, the notice is
    written for the group and the command says how many."""
    runner = line_app.test_cli_runner()
    args = ["broadcast", "send", "--text", NOTICE.text_th, "--group", "carriage"]
    dry = runner.invoke(args=[*args, "--dry-run", "--by", COORDINATOR])
    assert dry.exit_code == 0, dry.output
    assert "would reach 2: line 2" in dry.output
    with line_app.extensions["runtime"].db() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    sent = runner.invoke(args=[*args, "--urgent", "--by", COORDINATOR])
    assert sent.exit_code == 0, sent.output
    assert "2 messages (line 2)" in sent.output
    nobody = runner.invoke(args=[*args, "--by", "stranger@example.org"])
    assert nobody.exit_code != 0 and "not an active coordinator" in nobody.output


def test_a_coordinator_composes_counts_previews_and_sends_in_the_console(line_app, town) -> None:
    """First the count per channel and the preview, then the confirmed send: its page shows
    the progress and its report lists each recipient by number, never by LINE id."""
    import csv
    import io

    from tests.console_user import ConsoleUser

    user = ConsoleUser(line_app)
    user.sign_in(COORDINATOR)
    user.get("/console/broadcasts/new")
    chosen = {"text_th": NOTICE.text_th, "groups": ["carriage"], "urgent": "y"}
    counted = user.post("/console/broadcasts/new", chosen)
    assert counted.status_code == 200 and "จะส่งถึง 2 คน" in user.text()
    assert "LINE: 2" in user.text() and NOTICE.text_th in user.text()
    with line_app.extensions["runtime"].db() as session:
        assert session.scalars(select(OutboxMessage)).all() == []  # counting sent nothing
    sent = user.post("/console/broadcasts/new", chosen | {"confirmed": "y"})
    assert sent.status_code == 302
    user.get(sent.location)
    assert "ผู้รับทั้งหมด" in user.text() and 'http-equiv="refresh"' in user.page
    report = user.client.get(sent.location + "/report.csv")
    rows = list(csv.reader(io.StringIO(report.data.decode("utf-8-sig"))))
    assert rows[0] == ["respondent", "channel", "status", "sent_at", "reason"]
    assert sorted(int(row[0]) for row in rows[1:]) == sorted([town["driver"], town["driver2"]])
    assert "U" not in "".join(row[0] for row in rows[1:])


def test_past_lines_quota_it_warns_and_asks_once_more(line_app, town, fake_line, clock) -> None:
    """LINE's quota has 1 message left of 3 and the broadcast needs 2: the count page says so,
    a plain confirmation sends nothing, and the extra confirmation sends; the quota then reads
    as LINE counts it (one per recipient)."""
    from bot.broadcasts import line_quota
    from tests.console_user import ConsoleUser

    fake_line.quota, fake_line.consumed = 3, 2
    runtime = line_app.extensions["runtime"]
    user = ConsoleUser(line_app)
    user.sign_in(COORDINATOR)
    user.get("/console/broadcasts/new")
    chosen = {"text_th": NOTICE.text_th, "groups": ["carriage"], "urgent": "y"}
    user.post("/console/broadcasts/new", chosen)
    assert "เหลือ 1 จาก 3 ประกาศนี้จะใช้ 2" in user.text()
    assert "ยืนยันว่าจะส่งแม้เกินโควตา" in user.text()
    user.post("/console/broadcasts/new", chosen | {"confirmed": "y"})
    assert "ติ๊กยืนยันว่าจะส่งแม้เกินโควตาก่อน" in user.text()
    with runtime.db() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    sent = user.post("/console/broadcasts/new", chosen | {"confirmed": "y", "over_quota": "y"})
    assert sent.status_code == 302
    while deliver(runtime, clock.now):
        pass
    assert line_quota(runtime).used == 4 and line_quota(runtime).left() == 0


def test_on_telegram_each_chat_gets_it_and_a_blocked_one_is_marked_unreachable(
    telegram_app, fake_telegram, clock
) -> None:
    """Three Telegram chats, one of which blocked the bot since it last wrote: two get the
    notice once each, the third answers 403 and is marked unreachable, and the report says why."""
    runtime = telegram_app.extensions["runtime"]
    with runtime.db.begin() as session:
        for chat in ("701", "702", "703"):
            person(
                session,
                clock,
                chat,
                channel="telegram",
                channel_user_id=chat,
                profile={"group": "culture"},
            )
        chats = {r.channel_user_id: r.id for r in session.scalars(select(Respondent))}
    fake_telegram.my_chat_member_update(703, "kicked")  # blocked, without the bot hearing of it
    broadcast_id, plan = send_broadcast(
        runtime, ACTOR, NOTICE, Audience(groups=("culture",)), urgent=True
    )
    assert plan.reach == {"telegram": 3}
    while deliver(runtime, clock.now):
        pass
    got = {chat: [m["text"] for m in fake_telegram.sent_to(int(chat))] for chat in chats}
    assert sorted(got.values()) == [[], [NOTICE.text_th], [NOTICE.text_th]]
    with runtime.db() as session:
        blocked = session.get(Respondent, chats["703"])
        failed = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.status != "sent"
            )
        ).one()
    assert not blocked.reachable and failed.respondent_id == blocked.id and failed.last_error
