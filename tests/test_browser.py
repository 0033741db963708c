"""End to end: a newcomer uses the web simulator page in Debian's chromium, as a person would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.simulator import identity_of
from storage.db import make_engine
from storage.models import Answer, ConsentRecord, Respondent, Submission, SurveyVersion
from tests.browser import SCREENSHOTS, new_phone

LOCAL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@pytest.fixture
def errors() -> Iterator[list[str]]:
    """JavaScript errors seen on any page opened with open_chat(); a test ends with none."""
    seen: list[str] = []
    yield seen
    assert not seen, seen


def open_chat(context: BrowserContext, errors: list[str], path: str = "/simulator") -> Page:
    """Open the simulator in a new tab, collecting the page's JavaScript errors."""
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path)
    return page


def bot_bubbles(page: Page):
    """The bot's bubbles, oldest first."""
    return page.get_by_test_id("bot-bubble")


def wait_for_replies(page: Page) -> None:
    """Wait until the respondent's last message is delivered and the bot's replies are shown."""
    expect(page.locator(".row-user").last).to_have_class(re.compile(r"\bsent\b"))
    expect(page.get_by_test_id("typing")).to_be_hidden()


def tap(page: Page, label: str) -> None:
    """Tap the quick reply with exactly this label, and wait for the bot's replies."""
    page.get_by_test_id("quick-reply").filter(has_text=re.compile(rf"^{re.escape(label)}$")).click()
    expect(page.get_by_test_id("user-bubble").last).to_have_text(label)
    wait_for_replies(page)


def type_answer(page: Page, text: str) -> None:
    """Type a message, send it with Enter, and wait for the bot's replies."""
    box = page.get_by_test_id("message-input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")
    expect(page.get_by_test_id("user-bubble").last).to_have_text(text)
    wait_for_replies(page)


def asked(page: Page, *texts: str) -> None:
    """Check that the bot's latest bubble contains each of these texts."""
    for text in texts:
        expect(bot_bubbles(page).last).to_contain_text(text)


def onboard(page: Page) -> None:
    """Consent, give the profile (carriage driver, Lampang city) and start the survey."""
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    expect(page.get_by_test_id("quick-reply")).to_have_text(["ยินยอม", "ไม่ยินยอม"])
    tap(page, "ยินยอม")
    asked(page, "คุณทำงานด้านไหนคะ")
    tap(page, "คนขับรถม้า")
    asked(page, "คุณอยู่ในเขตเทศบาลไหนคะ")
    tap(page, "เทศบาลนครลำปาง")
    asked(page, "อยากทำแบบสอบถามไหนคะ")
    tap(page, "สำรวจ (3 นาที)")
    asked(page, "ข้อ 1/", "คุณทำอาชีพนี้มากี่ปีแล้วคะ")
    expect(page.get_by_test_id("quick-reply")).to_have_count(0)


def respondent_of(page: Page) -> str:
    """The page's own id for the respondent shown, which it keeps in its URL's fragment."""
    fragment = urlparse(page.url).fragment
    assert fragment.startswith("r="), page.url
    local_id = fragment.removeprefix("r=")
    assert LOCAL_ID.fullmatch(local_id), local_id
    return local_id


def token_of(page: Page, local_id: str) -> str:
    """The secret the server issued for one of this browser's respondents (in localStorage)."""
    saved = page.evaluate("() => JSON.parse(localStorage.getItem('lampang-sim:respondents'))")
    return next(r["token"] for r in saved if r["id"] == local_id)


@pytest.mark.browser
def test_a_newcomer_completes_the_survey_in_the_simulator(
    context: BrowserContext, errors: list[str], database_url: str
) -> None:
    """Consent, profile and the whole livelihood survey by taps and typing, then the database."""
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = open_chat(context, errors)
    expect(page.locator("html")).to_have_attribute("lang", "th")
    expect(page.get_by_test_id("respondent-select")).to_have_text("ผู้ตอบ 1")
    onboard(page)
    expect(page.locator(".bubble .progress").last).to_have_text(re.compile(r"^ข้อ 1/\d+$"))

    type_answer(page, "๑๒")  # Thai digits
    asked(page, "ข้อ 2/", "เริ่มทำอาชีพนี้วันไหนคะ")
    type_answer(page, "1/6/2555")  # a Buddhist-Era date
    expect(bot_bubbles(page).filter(has_text="1 มิ.ย. 2555")).to_have_count(1)
    asked(page, "ข้อ 3/")
    tap(page, "น้อยลง")
    asked(page, "ข้อ 4/", "ลูกค้าส่วนใหญ่เป็นใครคะ")
    tap(page, "นักท่องเที่ยวไทย")
    asked(page, "ข้อ 4/", "นักท่องเที่ยวไทย")
    tap(page, "คณะดูงาน/โรงเรียน")
    asked(page, "ข้อ 4/", "นักท่องเที่ยวไทย", "คณะดูงาน/โรงเรียน")
    tap(page, "เสร็จ")
    asked(page, "ข้อ 5/", "วันหนึ่งได้เงินราวกี่บาทคะ")
    type_answer(page, "350.5")
    asked(page, "ข้อ 6/")
    tap(page, "เคย")
    asked(page, "ข้อ 7/", "อยากเรียนรู้อะไรเพิ่ม")
    type_answer(page, "อยากทำเพจขายทัวร์รถม้า")
    asked(page, "กดรับทราบเพื่อส่งคำตอบ")
    tap(page, "รับทราบ")
    expect(bot_bubbles(page).filter(has_text="ขอบคุณมากที่ช่วยตอบ")).to_be_visible()
    token = token_of(page, respondent_of(page))
    assert not [url for url in requested if token in url]  # a header, never in a URL or log

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            respondent = session.scalars(select(Respondent)).one()
            assert (respondent.channel, respondent.channel_user_id) == ("web", identity_of(token))
            assert respondent.is_test is True
            assert respondent.profile == {"group": "carriage", "municipality": "nakhon"}
            consent = session.scalars(select(ConsentRecord)).one()
            assert consent.given is True
            assert consent.respondent_id == respondent.id
            submission = session.scalars(
                select(Submission).join(SurveyVersion).where(SurveyVersion.form_id == "livelihood")
            ).one()
            assert submission.completed_at is not None
            rows = session.scalars(
                select(Answer).where(Answer.submission_id == submission.id).order_by(Answer.id)
            )
            answers = {row.question: row for row in rows}  # the latest answer to each question
    finally:
        engine.dispose()
    assert (answers["years"].value, answers["years"].raw) == (12, "๑๒")
    assert answers["started"].value == "2012-06-01"
    assert answers["busy_days"].value == "less"
    assert answers["customers"].value == ["thai", "schools"]
    assert answers["income"].value == 350.5
    assert answers["income_week"].value == pytest.approx(2453.5)
    assert answers["online"].value == "yes"
    assert answers["wish"].value == "อยากทำเพจขายทัวร์รถม้า"


@pytest.mark.browser
def test_closing_the_tab_mid_survey_keeps_the_chat_and_the_place(
    context: BrowserContext, errors: list[str], database_url: str
) -> None:
    """A new tab shows the same transcript, once, and answering goes on from the same question."""
    page = open_chat(context, errors)
    onboard(page)
    type_answer(page, "๑๒")
    asked(page, "ข้อ 2/", "เริ่มทำอาชีพนี้วันไหนคะ")
    expect(page.get_by_test_id("quick-reply")).to_have_text(["ข้าม"])
    user = respondent_of(page)
    bot_texts = bot_bubbles(page).all_text_contents()
    user_texts = page.get_by_test_id("user-bubble").all_text_contents()
    page.close()

    page = open_chat(context, errors)  # no #r=: the respondent last used comes back
    expect(bot_bubbles(page)).to_have_text(bot_texts)
    expect(page.get_by_test_id("user-bubble")).to_have_text(user_texts)
    assert respondent_of(page) == user
    expect(page.get_by_test_id("respondent-select")).to_have_text("ผู้ตอบ 1")
    expect(page.get_by_test_id("quick-reply")).to_have_text(["ข้าม"])

    page.get_by_test_id("sticker").click()  # not text: the bot asks the same question again
    wait_for_replies(page)
    asked(page, "ข้อ 2/", "เริ่มทำอาชีพนี้วันไหนคะ")
    type_answer(page, "1/6/2555")
    asked(page, "ข้อ 3/", "ช่วงนี้คนซื้อหรือลูกค้าเป็นอย่างไรบ้างคะ")
    ids = bot_bubbles(page).evaluate_all("nodes => nodes.map(n => n.dataset.messageId)")
    assert len(ids) == len(set(ids)) > len(bot_texts)  # no bubble shown twice
    assert bot_bubbles(page).all_text_contents()[: len(bot_texts)] == bot_texts

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Respondent)) == 1
            started = session.scalars(select(Answer).where(Answer.question == "started")).one()
            assert started.value == "2012-06-01"
    finally:
        engine.dispose()


@pytest.mark.browser
def test_several_respondents_each_keep_their_own_chat(
    context: BrowserContext, errors: list[str]
) -> None:
    """ "+ ผู้ตอบใหม่" greets a second respondent; the select and #r= switch between them."""
    page = open_chat(context, errors)
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    tap(page, "ยินยอม")
    asked(page, "คุณทำงานด้านไหนคะ")
    first = respondent_of(page)

    page.get_by_test_id("new-respondent").click()
    select = page.get_by_test_id("respondent-select")
    expect(select.locator("option")).to_have_text(["ผู้ตอบ 1", "ผู้ตอบ 2"])
    expect(page.get_by_test_id("user-bubble")).to_have_count(0)
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    second = respondent_of(page)
    assert second != first

    select.select_option(label="ผู้ตอบ 1")
    expect(page.get_by_test_id("user-bubble")).to_have_text(["ยินยอม"])
    asked(page, "คุณทำงานด้านไหนคะ")
    assert respondent_of(page) == first

    other = open_chat(context, errors, f"/simulator#r={second}")  # a second tab, side by side
    expect(other.get_by_test_id("respondent-select")).to_have_value(second)
    tap(other, "ไม่ยินยอม")
    expect(other.get_by_test_id("user-bubble")).to_have_text(["ไม่ยินยอม"])
    expect(page.get_by_test_id("user-bubble")).to_have_text(["ยินยอม"])


@pytest.mark.browser
def test_another_browser_opening_the_same_link_gets_its_own_respondent(
    browser: Browser, context: BrowserContext, live_url: str, errors: list[str]
) -> None:
    """The link names a respondent only within its browser: elsewhere it opens a fresh chat."""
    page = open_chat(context, errors)
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    tap(page, "ยินยอม")
    asked(page, "คุณทำงานด้านไหนคะ")
    mine = respondent_of(page)

    elsewhere = browser.new_context(base_url=live_url, locale="th-TH", timezone_id="Asia/Bangkok")
    try:
        other = open_chat(elsewhere, errors, f"/simulator#r={mine}")
        asked(other, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
        expect(other.get_by_test_id("user-bubble")).to_have_count(0)
        assert respondent_of(other) != mine
        assert token_of(other, respondent_of(other)) != token_of(page, mine)
        tap(other, "ไม่ยินยอม")
    finally:
        elsewhere.close()
    expect(page.get_by_test_id("user-bubble")).to_have_text(["ยินยอม"])
    asked(page, "คุณทำงานด้านไหนคะ")


@pytest.mark.browser
def test_a_respondent_the_server_no_longer_knows_is_replaced_by_a_new_one(
    context: BrowserContext, errors: list[str]
) -> None:
    """A token the server refuses (its database was reset) and a respondent saved before tokens
    existed are let go; the page greets a new respondent instead of failing over and over."""
    page = open_chat(context, errors)
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    stale = respondent_of(page)
    page.evaluate(
        """stale => localStorage.setItem('lampang-sim:respondents', JSON.stringify([
            {id: 'tester-1', name: 'ผู้ตอบ 1', n: 1},
            {id: stale, token: 'A'.repeat(43), name: 'ผู้ตอบ 2', n: 2},
        ]))""",
        stale,
    )
    page.close()

    page = open_chat(context, errors, "/simulator?user=tester-1")
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    expect(page.get_by_test_id("respondent-select").locator("option")).to_have_text(["ผู้ตอบ 1"])
    assert respondent_of(page) not in (stale, "tester-1")
    assert "user=" not in page.url
    expect(page.locator("#notice")).to_be_hidden()
    tap(page, "ยินยอม")
    asked(page, "คุณทำงานด้านไหนคะ")


@pytest.mark.browser
def test_a_failed_send_keeps_the_message_and_can_be_retried(
    context: BrowserContext, errors: list[str]
) -> None:
    """A send that fails shows a retry note next to the bubble; retrying delivers it once."""
    page = open_chat(context, errors)
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    failures = [1]

    def flaky(route) -> None:
        """Fail the first send as a dropped connection would, then let sends through."""
        if failures:
            failures.pop()
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/simulator/api/send", flaky)
    box = page.get_by_test_id("message-input")
    box.fill("สวัสดีค่ะ")
    page.get_by_test_id("send").click()
    note = page.get_by_test_id("send-failed")
    expect(note).to_have_text(re.compile("ส่งไม่สำเร็จ ลองอีกครั้ง"))
    expect(page.get_by_test_id("user-bubble")).to_have_text(["สวัสดีค่ะ"])
    expect(page.get_by_test_id("quick-reply")).to_have_count(0)

    page.get_by_test_id("retry").click()
    wait_for_replies(page)
    expect(note).to_have_count(0)
    expect(page.get_by_test_id("user-bubble")).to_have_text(["สวัสดีค่ะ"])
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    expect(page.get_by_test_id("quick-reply")).to_have_text(["ยินยอม", "ไม่ยินยอม"])

    box.fill("ยังพิมพ์ไม่เสร็จ")  # typed, not sent: still there in a new tab
    page.close()
    page = open_chat(context, errors)
    expect(page.get_by_test_id("message-input")).to_have_value("ยังพิมพ์ไม่เสร็จ")


@pytest.mark.browser
@pytest.mark.parametrize(("group", "other_group_item"), [("กาดกองต้า", "รถม้า"), ("คนขับรถม้า", "เมนู")])
def test_the_assessment_in_the_browser_ends_with_a_results_card(
    context: BrowserContext, errors: list[str], group: str, other_group_item: str
) -> None:
    """Two groups tap through all 40 statements and see their bars, meanings and courses."""
    page = open_chat(context, errors)
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    tap(page, "ยินยอม")
    tap(page, group)
    tap(page, "เทศบาลนครลำปาง")
    type_answer(page, "ประเมิน")
    statements: list[str] = []
    for number in range(1, 41):
        asked(page, f"ข้อ {number}/40")
        statements.append(bot_bubbles(page).last.inner_text())
        first = page.get_by_test_id("quick-reply").first
        label = first.inner_text()
        tap(page, label)
    card = page.get_by_test_id("results-card")
    expect(card).to_be_visible()
    expect(card).to_contain_text("ทัศนคติ")
    # all "strongly agree": nine items at 5 and three reverse items at 1 -> (45 + 3) / 12
    expect(card).to_contain_text("ทัศนคติ4.0")
    expect(card).to_contain_text("จุดเด่นของคุณ")
    assert not any(other_group_item in text for text in statements[-4:])
    expect(page.get_by_test_id("quick-reply").first).to_be_visible()  # the course offers


#: Every place a bubble's text wraps onto a new line that is not between two words, by
#: Chromium's own Thai word segmenter (the same ICU dictionary its line breaker uses).
BREAKS_INSIDE_WORDS = """() => {
  const words = new Intl.Segmenter("th", { granularity: "word" });
  const bad = [];
  document.querySelectorAll("[data-testid=bot-bubble]").forEach((bubble) => {
    const walker = document.createTreeWalker(bubble, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.data;
      const ends = new Set([...words.segment(text)].map((s) => s.index));
      const range = document.createRange();
      let top = null;
      for (let i = 0; i < text.length; i++) {
        if (text[i] === "\\n") { top = null; continue; }
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rect = range.getClientRects()[0];
        if (!rect) continue;
        if (top !== null && rect.top > top + 2 && !ends.has(i) && !/\\s/.test(text[i - 1])) {
          bad.push(text.slice(Math.max(0, i - 6), i) + "|" + text.slice(i, i + 6));
        }
        top = rect.top;
      }
    }
  });
  return bad;
}"""

#: How many clearly coloured pixels the 🙏 the bot greets with has when drawn in the page's font:
#: a colour emoji font draws a skin-toned hand, a missing one a black-and-white box.
EMOJI_COLOUR = """() => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 48;
  const g = canvas.getContext("2d");
  g.font = "36px " + getComputedStyle(document.body).fontFamily;
  g.fillText("🙏", 4, 40);
  const d = g.getImageData(0, 0, 48, 48).data;
  let coloured = 0;
  for (let i = 0; i < d.length; i += 4) {
    const spread = Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]);
    if (d[i + 3] > 128 && spread > 40) coloured++;
  }
  return coloured;
}"""


def touch(page: Page, label: str) -> None:
    """Tap a button with a finger (a touch, not a click), and wait for the bot's replies."""
    page.get_by_test_id("quick-reply").filter(has_text=re.compile(rf"^{re.escape(label)}$")).tap()
    wait_for_replies(page)


def answer_statements(page: Page, last_for: range) -> None:
    """Touch through the 40 statements: the scale's last choice for these numbers, else the first."""
    for number in range(1, 41):
        asked(page, f"ข้อ {number}/40")
        choices = page.get_by_test_id("quick-reply")
        touch(page, (choices.last if number in last_for else choices.first).inner_text())


@pytest.mark.browser
def test_on_a_phone_the_scale_shows_whole_and_thai_emoji_and_changes_read_right(
    browser: Browser, live_url: str, errors: list[str]
) -> None:
    """On a 390 px touch screen: all five choices in view, Thai wrapped between words, emoji in
    colour, no button drawn as tapped, and a drop drawn unlike a gain. Screenshots are kept."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone = new_phone(browser, live_url, has_touch=True, is_mobile=True)
    page = open_chat(phone, errors)
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")
    assert page.evaluate(EMOJI_COLOUR) > 50, "🙏 is not drawn in colour: no emoji font"
    assert page.evaluate(BREAKS_INSIDE_WORDS) == []
    page.screenshot(path=SCREENSHOTS / "consent-390.png")
    touch(page, "ยินยอม")
    touch(page, "คนขับรถม้า")
    touch(page, "เทศบาลนครลำปาง")
    type_answer(page, "ประเมิน")
    touch(page, "ทำเป็นประจำ")
    asked(page, "ข้อ 2/40")
    choices = page.get_by_test_id("quick-reply")
    expect(choices).to_have_text(["เห็นด้วยอย่างยิ่ง", "เห็นด้วย", "ไม่แน่ใจ", "ไม่เห็นด้วย", "ไม่เห็นด้วยอย่างยิ่ง"])
    for index in range(5):
        box = choices.nth(index).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (index, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= 844, (index, box)
    page.screenshot(path=SCREENSHOTS / "scale-390.png")
    # The finger lifted from the first choice of question 1; the first of question 2 is there now.
    backgrounds = choices.evaluate_all("bs => bs.map(b => getComputedStyle(b).backgroundColor)")
    assert len(set(backgrounds)) == 1, backgrounds

    page.get_by_test_id("message-input").fill("ย้อนกลับ")  # back to 1, then the first round
    page.get_by_test_id("message-input").press("Enter")
    wait_for_replies(page)
    answer_statements(page, last_for=range(13, 25))  # low on knowledge (c2)
    expect(page.get_by_test_id("results-card")).to_be_visible()
    type_answer(page, "ประเมิน")
    answer_statements(page, last_for=range(25, 37))  # knowledge up, skills (c3) down
    card = page.get_by_test_id("results-card").last
    expect(card).to_be_visible()
    gain, drop = card.locator(".card-change.gain").first, card.locator(".card-change.drop").first
    expect(gain).to_contain_text("+")
    expect(drop).to_contain_text("-")
    colour = "el => getComputedStyle(el).color"
    assert gain.evaluate(colour) != drop.evaluate(colour)
    assert page.evaluate(BREAKS_INSIDE_WORDS) == []
    card.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "results-390.png")
    phone.close()


@pytest.mark.browser
def test_erasing_in_the_simulator_says_goodbye_then_a_stranger_is_greeted(
    context: BrowserContext, errors: list[str], database_url: str
) -> None:
    """Seen: after "ลบข้อมูลของฉัน" the page got a 403 and silently began a new respondent."""
    page = open_chat(context, errors)
    onboard(page)
    type_answer(page, "17")
    erased_id = identity_of(token_of(page, respondent_of(page)))
    type_answer(page, "ลบข้อมูลของฉัน")
    asked(page, "ต้องการลบไหมคะ")
    tap(page, "ลบข้อมูลทั้งหมด")
    asked(page, "ลบข้อมูลของคุณหมดแล้วค่ะ")
    expect(bot_bubbles(page)).to_have_count(1)  # the earlier chat is gone from this device too
    stored = page.evaluate("() => Object.assign({}, localStorage)")
    assert not any("คุณทำอาชีพนี้มากี่ปีแล้วคะ" in value for value in stored.values()), stored
    with Session(make_engine(database_url)) as session:
        assert (
            session.scalar(select(Respondent).where(Respondent.channel_user_id == erased_id))
            is None
        )
    type_answer(page, "สวัสดี")
    asked(page, "คุณยินยอมให้เราเก็บคำตอบไหมคะ")  # a stranger again: greeting and consent
    expect(page.get_by_test_id("quick-reply")).to_have_text(["ยินยอม", "ไม่ยินยอม"])
