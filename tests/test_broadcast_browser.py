"""Broadcasts in Debian's chromium, on a 390 px phone: a coordinator composes a notice, sees the
count and the preview, sends it to a group, watches it finish and downloads its report; another
is stopped while it sends."""

from __future__ import annotations

import csv
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from bot.delivery import claim, deliver, send
from storage.models import OutboxMessage
from tests.browser import SCREENSHOTS
from tests.console_user import add_account
from tests.line_user import app_with_line
from tests.test_broadcasts import person
from tests.test_console_browser import COORDINATOR, PAGE_WIDTH, sign_in

#: The survey's button, as the drivers see it under the notice.
BUTTON = "เริ่มทำแบบสอบถาม"


@pytest.fixture
def app(database_url, clock, fake_line) -> Iterator[Flask]:
    """The app on the fake LINE API, with a coordinator and five consented carriage drivers
    (and two vendors, one on Telegram, who are not in the group)."""
    for made in app_with_line(
        database_url, clock, fake_line, TESTING=True, DELIVER_AFTER_COMMIT=False
    ):
        add_account(made, COORDINATOR, "coordinator")
        runtime = made.extensions["runtime"]
        with runtime.db.begin() as session:
            for n in range(6):
                group = "carriage" if n < 5 else "kadkongta"
                person(session, clock, f"{n}", profile={"group": group})
            person(
                session,
                clock,
                "tg",
                channel="telegram",
                channel_user_id="555000111",
                profile={"group": "kadkongta"},
            )
        yield made


def compose(page, text: str) -> None:
    """Write a notice to the carriage drivers, urgent, and count it (on the page for a new
    notice)."""
    page.get_by_label("ข้อความภาษาไทย").fill(text)
    page.get_by_label("คนขับรถม้า").check()
    page.get_by_label("เร่งด่วน ส่งได้แม้ช่วงกลางคืน").check()
    page.get_by_role("button", name="ดูจำนวนผู้รับ").click()


@pytest.mark.browser
def test_a_broadcast_is_composed_counted_sent_and_reported(app, context, fake_line, clock) -> None:
    """Count and preview first; once sent, its page follows it to the end, and the report
    lists the five drivers by number."""
    runtime = app.extensions["runtime"]
    page = sign_in(context, COORDINATOR)
    page.get_by_role("link", name="ประกาศ", exact=True).click()
    page.get_by_role("link", name="เขียนประกาศใหม่").click()
    page.get_by_label("ปุ่มเริ่มแบบสอบถาม (ไม่ใส่ก็ได้)").select_option("active_citizen")
    compose(page, "พรุ่งนี้ 9 โมง ประชุมกลุ่มรถม้าที่ลานจอดหน้าสถานีนะคะ 🐴")
    expect(page.get_by_role("heading", name="จะส่งถึง 5 คน")).to_be_visible()
    expect(page.locator(".line-preview .bubble")).to_contain_text("ประชุมกลุ่มรถม้า")
    expect(page.locator(".line-preview .chip")).to_have_text([BUTTON])
    assert page.evaluate(PAGE_WIDTH) <= 390
    page.locator("#plan").screenshot(path=SCREENSHOTS / "console-broadcast-preview-390.png")
    page.get_by_label("ยืนยันส่งถึง 5 คน").check()
    page.get_by_role("button", name="ส่งประกาศ").click()
    expect(page.get_by_text("บันทึกประกาศแล้ว")).to_be_visible()
    while deliver(runtime, clock.now):  # the delivery worker's rounds
        pass
    page.reload()
    progress = page.locator("#progress")
    expect(progress.locator("tr", has_text="ส่งแล้ว")).to_contain_text("5")
    expect(page.get_by_role("button", name="หยุดส่งประกาศนี้")).to_have_count(0)
    [call] = [r for r in fake_line.requests if r.path == "/v2/bot/message/multicast"]
    assert len(call.json["to"]) == 5  # one multicast for the five
    assert call.json["messages"][0]["quickReply"]["items"][0]["action"]["label"] == BUTTON
    with page.expect_download() as report:
        page.get_by_role("link", name="ดาวน์โหลดรายงาน (CSV)").click()
    with open(report.value.path(), encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    assert [row["status"] for row in rows] == ["sent"] * 5


@pytest.mark.browser
def test_a_broadcast_is_stopped_while_it_sends(app, context, fake_line, clock) -> None:
    """Two of five gone, then stopped from its page: three withdrawn, two kept as sent."""
    runtime = app.extensions["runtime"]
    page = sign_in(context, COORDINATOR)
    page.get_by_role("link", name="ประกาศ", exact=True).click()
    page.get_by_role("link", name="เขียนประกาศใหม่").click()
    compose(page, "แจ้งเลื่อนประชุมค่ะ")
    page.get_by_label("ยืนยันส่งถึง 5 คน").check()
    page.get_by_role("button", name="ส่งประกาศ").click()
    expect(page.get_by_text("บันทึกประกาศแล้ว")).to_be_visible()
    send(runtime, claim(runtime.db, clock.now, limit=2, broadcasts_on="line"), clock.now)
    page.reload()
    page.get_by_label("ยืนยันหยุดส่ง (ที่ส่งไปแล้วยังอยู่)").check()
    page.get_by_role("button", name="หยุดส่งประกาศนี้").click()
    expect(page.get_by_text("ยกเลิก 3 ข้อความที่ยังไม่ได้ส่ง")).to_be_visible()
    while deliver(runtime, clock.now):
        pass
    drivers = [f"U{n:0>32}" for n in range(5)]
    assert sum(len(fake_line.messages_to(driver)) for driver in drivers) == 2
    with runtime.db() as session:
        statuses = sorted(session.scalars(select(OutboxMessage.status)))
    assert statuses == ["dropped"] * 3 + ["sent"] * 2


@pytest.mark.browser
def test_the_preview_shows_it_as_each_channel_will(app, context) -> None:
    """To everyone: LINE's bubble with the button as a quick reply, and Telegram's with the
    button as a key under the text."""
    page = sign_in(context, COORDINATOR)
    page.get_by_role("link", name="ประกาศ", exact=True).click()
    page.get_by_role("link", name="เขียนประกาศใหม่").click()
    page.get_by_label("ข้อความภาษาไทย").fill("เชิญทำแบบสอบถามรอบใหม่ค่ะ")
    page.get_by_label("ปุ่มเริ่มแบบสอบถาม (ไม่ใส่ก็ได้)").select_option("active_citizen")
    page.get_by_label("เร่งด่วน ส่งได้แม้ช่วงกลางคืน").check()
    page.get_by_role("button", name="ดูจำนวนผู้รับ").click()
    expect(page.get_by_role("heading", name="จะส่งถึง 7 คน")).to_be_visible()
    expect(page.locator(".line-preview .chip")).to_have_text([BUTTON])
    expect(page.locator(".telegram-preview .text")).to_have_text("เชิญทำแบบสอบถามรอบใหม่ค่ะ")
    expect(page.locator(".telegram-preview .key")).to_have_text([BUTTON])
    assert page.evaluate(PAGE_WIDTH) <= 390
