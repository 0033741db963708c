"""The console in Debian's chromium: a coordinator at the door on a 390 px phone (and the
workshop's poster, its QR code decoded back to the chat link), a researcher who may only look,
and an admin who disables an account."""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import zxingcpp
from flask import Flask
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from storage.models import ConsentRecord, Registration, Respondent, Workshop
from storage.workshops import register
from tests.browser import SCREENSHOTS, new_phone
from tests.console_user import PASSWORD, add_account

COORDINATOR, RESEARCHER, ADMIN = "coord@example.org", "research@example.org", "admin@example.org"
#: How wide the page may be on a 390 px phone: nothing may need sideways scrolling.
PAGE_WIDTH = "() => document.documentElement.scrollWidth"


@pytest.fixture
def app(database_url, clock) -> Iterator[Flask]:
    """The app with the demo content and a LINE Official Account's basic ID, for posters."""
    from bot import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "CLOCK": clock,
            "TESTING": True,
            "LINE_CHANNEL_SECRET": "test-channel-secret",
            "LINE_BASIC_ID": "@123abcde",
        }
    )
    assert app.test_cli_runner().invoke(args=["load-demo"]).exit_code == 0
    yield app
    app.extensions["runtime"].close()


@pytest.fixture
def people(app, clock) -> int:
    """The three accounts, and two drivers registered for the first demo workshop: its id."""
    for email, role in ((COORDINATOR, "coordinator"), (RESEARCHER, "researcher"), (ADMIN, "admin")):
        add_account(app, email, role)
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        workshop = session.scalars(select(Workshop).order_by(Workshop.starts_at)).first()
        for n in range(2):
            person = Respondent(
                channel="line",
                channel_user_id=f"U{n:032d}",
                profile={"group": "carriage", "municipality": "nakhon"},
                created_at=clock.now,
            )
            session.add(person)
            session.flush()
            register(session, workshop.id, person.id, clock.now)
        return workshop.id


def sign_in(context: BrowserContext, email: str) -> Page:
    """Open the console and sign in through its form."""
    page = context.new_page()
    page.goto("/console/")
    page.get_by_label("อีเมล").fill(email)
    page.get_by_label("รหัสผ่าน").fill(PASSWORD)
    page.get_by_role("button", name="เข้าสู่ระบบ").click()
    return page


@pytest.mark.browser
def test_a_coordinator_marks_attendance_at_the_door_from_a_phone(app, context, people) -> None:
    """Signed in on a phone, the coordinator opens the workshop, marks one driver as come and
    one as absent; the page fits the screen and its Thai is drawn, not boxes."""
    page = sign_in(context, COORDINATOR)
    expect(page.get_by_role("heading", name="รอบอบรม")).to_be_visible()
    page.locator(f"a[href='/console/workshops/{people}']").click()
    expect(page.get_by_text("ลงทะเบียน 2/")).to_be_visible()
    rows = page.locator(".people li")
    rows.nth(0).get_by_role("button", name="มา", exact=True).click()
    expect(page.get_by_text("บันทึกการเข้าร่วมแล้วค่ะ")).to_be_visible()
    page.locator(".people li").nth(1).get_by_role("button", name="ไม่มา").click()
    expect(page.locator(".people li .badge", has_text="มาแล้ว")).to_have_count(1)
    expect(page.locator(".people li .badge", has_text="ไม่มา")).to_have_count(1)
    assert page.evaluate(PAGE_WIDTH) <= 390
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "console-attendance-390.png", full_page=True)
    with app.extensions["runtime"].db() as session:
        statuses = sorted(session.scalars(select(Registration.status)))
    assert statuses == ["attended", "no_show"]
    with page.expect_download() as poster:
        page.get_by_role("link", name="โปสเตอร์").click()
    codes = zxingcpp.read_barcodes(Image.open(poster.value.path()))
    assert [code.text for code in codes] == [
        f"https://line.me/R/oaMessage/%40123abcde/?{quote('อบรม')}"
    ]


@pytest.mark.browser
def test_a_researcher_sees_counts_and_no_workshop_or_account_pages(context, people) -> None:
    """The researcher's home is who joined by group and municipality, in Thai labels; the
    workshop and account pages answer 403."""
    page = sign_in(context, RESEARCHER)
    expect(page.get_by_role("heading", name="ผู้ตอบแบบสอบถาม")).to_be_visible()
    expect(page.get_by_role("cell", name="คนขับรถม้า")).to_be_visible()
    assert page.goto(f"/console/workshops/{people}").status == 403
    assert page.goto("/console/users").status == 403


@pytest.mark.browser
def test_an_admin_disables_an_account_in_english(browser, live_url, people) -> None:
    """On a laptop, in English: the admin unticks the coordinator's account; the coordinator's
    open session on a phone is over at their next click."""
    at_the_door = new_phone(browser, live_url)
    coordinator = sign_in(at_the_door, COORDINATOR)
    expect(coordinator.get_by_role("heading", name="รอบอบรม")).to_be_visible()
    laptop = browser.new_context(base_url=live_url, viewport={"width": 1280, "height": 800})
    admin = sign_in(laptop, ADMIN)
    admin.get_by_role("button", name="English").click()
    admin.get_by_role("link", name="Accounts").click()
    row = admin.locator(".people li", has_text=COORDINATOR)
    row.get_by_label("Active").uncheck()
    row.get_by_role("button", name="Save").click()
    expect(admin.get_by_text("Changes saved.")).to_be_visible()
    admin.screenshot(path=SCREENSHOTS / "console-accounts-en.png", full_page=True)
    coordinator.reload()
    expect(coordinator.get_by_role("heading", name="เข้าสู่ระบบ")).to_be_visible()
    laptop.close()
    at_the_door.close()


@pytest.mark.browser
def test_a_coordinator_opens_a_new_workshop_from_a_phone(app, context, people, clock) -> None:
    """From the courses page: a new workshop of the carriage course, a week on, 12 seats; its
    page then shows it open with no one yet."""
    page = sign_in(context, COORDINATOR)
    page.get_by_role("link", name="หลักสูตร", exact=True).click()
    page.get_by_role("link", name="เพิ่มหลักสูตร").click()
    page.get_by_label("รหัสหลักสูตร").fill("rooster-bowls")
    page.get_by_label("คนขับรถม้า").check()  # one group and one characteristic are enough
    page.get_by_label("ความคิดใหม่ในอาชีพ").check()
    page.get_by_label("ชื่อภาษาไทย").fill("ลวดลายชามไก่สู่ของที่ระลึก")
    page.get_by_label("ชื่อภาษาอังกฤษ").fill("Rooster-bowl souvenirs")
    page.get_by_role("button", name="บันทึก").click()
    expect(page.get_by_text("บันทึกหลักสูตรแล้ว")).to_be_visible()
    page.get_by_role("link", name="เปิดรอบอบรมใหม่").click()
    page.get_by_label("หลักสูตร").select_option(label="ลวดลายชามไก่สู่ของที่ระลึก")
    page.get_by_label("สถานที่").fill("ศาลาประชาคม เทศบาลนครลำปาง")
    page.get_by_label("จำนวนที่นั่ง").fill("12")
    page.get_by_role("button", name="เปิดรับสมัคร").click()
    expect(page.get_by_text("เปิดรอบอบรมแล้ว")).to_be_visible()
    expect(page.get_by_text("ศาลาประชาคม เทศบาลนครลำปาง").first).to_be_visible()
    expect(page.get_by_text("ลงทะเบียน 0/12")).to_be_visible()
    assert page.evaluate(PAGE_WIDTH) <= 390
    with app.extensions["runtime"].db() as session:
        made = session.scalars(select(Workshop).where(Workshop.capacity == 12)).one()
    assert made.venue == "ศาลาประชาคม เทศบาลนครลำปาง" and made.starts_at > clock.now


@pytest.mark.browser
def test_an_assisted_interview_from_a_phone(app, context, people) -> None:
    """A coordinator interviews someone without a smartphone: reads the consent notice, taps
    what they answer; the respondent's page then shows the answers entered by the coordinator;
    the link code page shows a QR code that opens LINE with the code typed."""
    page = sign_in(context, COORDINATOR)
    page.get_by_role("link", name="สัมภาษณ์แทน").click()
    page.get_by_role("button", name="เริ่มสัมภาษณ์คนใหม่").click()
    expect(page.locator("#latest")).to_contain_text("คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    # what they said, typed and sent with Enter, is never taken for a tap on "ยินยอม"
    page.get_by_label("คำตอบที่พิมพ์").fill("ขอคิดก่อน")
    page.get_by_label("คำตอบที่พิมพ์").press("Enter")
    expect(page.locator(".chat li").nth(-2)).to_contain_text("ยังไม่แน่ใจว่ายินยอมหรือไม่")
    with app.extensions["runtime"].db() as session:
        assert session.scalars(select(ConsentRecord)).all() == []
    page.get_by_role("button", name="ยินยอม", exact=True).click()
    expect(page.locator("#latest")).to_contain_text("คุณทำงานด้านไหนคะ")
    page.get_by_role("button", name="คนขับรถม้า").click()
    expect(page.locator("#latest")).to_contain_text("คุณอยู่ในเขตเทศบาลไหนคะ")
    page.get_by_role("button", name="เทศบาลเมืองเขลางค์นคร").click()
    expect(page.locator("#latest")).to_contain_text("อยากทำแบบสอบถามไหนคะ")
    assert page.evaluate(PAGE_WIDTH) <= 390
    page.screenshot(path=SCREENSHOTS / "console-interview-390.png", full_page=True)
    number = page.url.split("#")[0].rsplit("/", 1)[1]
    page.goto(f"/console/respondents/{number}")
    answers = page.locator("table.answers tbody tr")
    expect(answers).to_have_count(2)
    expect(answers.nth(0)).to_contain_text("คนขับรถม้า")
    expect(answers.nth(0)).to_contain_text(COORDINATOR)
    expect(page.get_by_text(f"กรอกโดย {COORDINATOR}")).to_be_visible()  # the consent
    page.goto(f"/console/interviews/{number}")
    page.get_by_role("button", name="สร้างรหัสเชื่อม").click()
    typed = page.locator("#hand-over-text").inner_text()
    qr = page.get_by_role("img", name="QR LINE")
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.screenshot())))
    assert [code.text for code in codes] == [
        f"https://line.me/R/oaMessage/%40123abcde/?{quote(typed)}"
    ]


@pytest.mark.browser
def test_the_dashboard_draws_thai_charts_and_downloads_them(context, people) -> None:
    """The researcher's dashboard draws every chart; the group chart downloads as a PNG with
    something drawn on a white background."""
    page = sign_in(context, RESEARCHER)
    page.get_by_role("link", name="ภาพรวม").click()
    expect(page.locator("figure.chart canvas")).to_have_count(6)
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('canvas')].every(c => c.width > 0 && c.height > 0)"
    )
    assert drawn
    assert page.evaluate(PAGE_WIDTH) <= 390
    with page.expect_download() as download:
        page.locator("#chart-by-group").get_by_role("button", name="ดาวน์โหลดเป็น PNG").click()
    assert download.value.suggested_filename == "by-group.png"
    image = Image.open(download.value.path()).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert image.getpixel((0, 0)) == (255, 255, 255) and len(colours) > 20
    page.locator("#chart-by-group").screenshot(path=SCREENSHOTS / "console-dashboard-390.png")
