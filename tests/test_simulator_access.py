"""Who may use the web simulator, and as whom: only where it is switched on, only as the
respondent the server issued to this browser, and never mixed into the researchers' data."""

from __future__ import annotations

import csv
import secrets
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot import create_app
from bot.service import Inbound
from storage.models import Base, OutboxMessage, ProcessedEvent, Registration, Respondent
from survey_flows.session import HelloInput, TextInput
from tests.chat import LIVELIHOOD_ANSWERS, texts
from tests.chat import Respondent as Person
from tests.test_workshop_chat import driver, open_marketing

#: The livelihood survey answered by typing, from the consent on.
LIVELIHOOD = ("ยินยอม", "คนขับรถม้า", "เทศบาลนครลำปาง", "สำรวจ", *LIVELIHOOD_ANSWERS)


def counts(app: Flask) -> dict[str, int]:
    """How many respondents, outgoing messages and handled events the database holds."""
    with app.extensions["runtime"].db() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Respondent, OutboxMessage, ProcessedEvent)
        }


def transcript(person: Person) -> list[str]:
    """Everything the bot ever said to a respondent, read again from the start with their token."""
    person.seen = 0
    return [message["text"] for message in person.replies()]


@pytest.mark.parametrize("value", [None, "", "0", "no", "off"])
def test_without_simulator_enabled_the_page_and_its_api_are_not_found(
    database_url: str, clock, monkeypatch, value: str | None
) -> None:
    """The production default: /simulator and its API answer 404, and a send stores nothing."""
    if value is None:
        monkeypatch.delenv("SIMULATOR_ENABLED", raising=False)
    else:
        monkeypatch.setenv("SIMULATOR_ENABLED", value)
    app = create_app({"DATABASE_URL": database_url, "CLOCK": clock, "TESTING": True})
    try:
        assert app.test_cli_runner().invoke(args=["load-demo"]).exit_code == 0
        client = app.test_client()
        before = counts(app)
        assert client.get("/simulator").status_code == 404
        assert client.post("/simulator/api/respondents").status_code == 404
        sent = client.post("/simulator/api/send", json={"user": "someone", "hello": True})
        assert sent.status_code == 404
        assert client.get("/simulator/api/messages?user=someone").status_code == 404
        assert counts(app) == before
        assert before["respondent"] == 0
    finally:
        app.extensions["runtime"].close()


@pytest.mark.parametrize("value", ["1", "true", "yes", "TRUE"])
def test_the_environment_variable_switches_the_simulator_on(
    tmp_path: Path, monkeypatch, value: str
) -> None:
    """`make run` sets SIMULATOR_ENABLED=1; then the chat page is served."""
    monkeypatch.setenv("SIMULATOR_ENABLED", value)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "TESTING": True})
    try:
        page = app.test_client().get("/simulator")
        assert page.status_code == 200
        assert "ลำปางสร้างสรรค์" in page.get_data(as_text=True)
    finally:
        app.extensions["runtime"].close()


def test_each_browser_is_issued_its_own_secret_and_only_its_hash_is_stored(
    app: Flask, client: FlaskClient
) -> None:
    """The token is long and random; no table holds it, and the respondent is marked as a test."""
    person = Person(client)
    other = Person(app.test_client())
    assert len(person.token) >= 43 and person.token != other.token
    person.onboard()
    person.say("อบรม")  # so workshop lists and their buttons are stored too
    with app.extensions["runtime"].db() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                assert person.token not in repr(tuple(row)), table.name
                assert other.token not in repr(tuple(row)), table.name
        stored = session.scalars(select(Respondent).order_by(Respondent.id)).all()
    assert [(r.channel, r.is_test) for r in stored] == [("web", True), ("web", True)]


def test_another_browser_can_neither_read_nor_write_a_conversation(
    app: Flask, client: FlaskClient
) -> None:
    """Knowing a respondent's stored id (it is in the export) opens nothing: no transcript, no
    calendar link, and the workshop seat cannot be cancelled."""
    owner = driver(client)
    open_marketing(owner)
    registered = owner.tap("ลงทะเบียน")
    assert ".ics" in texts(registered)
    said = transcript(owner)
    with app.extensions["runtime"].db() as session:
        stored_id = session.scalars(select(Respondent.channel_user_id)).one()
    before = counts(app)

    stranger = app.test_client()  # another browser, with no token of the owner's
    for headers in ({}, {"X-Simulator-Token": stored_id}, {"X-Simulator-Token": owner.token[:-1]}):
        read = stranger.get(f"/simulator/api/messages?user={stored_id}", headers=headers)
        assert read.status_code in (400, 403), read.get_data(as_text=True)
        assert ".ics" not in read.get_data(as_text=True)
        for text in ("การลงทะเบียนของฉัน", "ยกเลิกรอบที่ 1"):
            wrote = stranger.post(
                "/simulator/api/send", json={"user": stored_id, "text": text}, headers=headers
            )
            assert wrote.status_code in (400, 403)
    assert counts(app) == before

    own = Person(stranger)  # the stranger's own respondent sees only their own chat
    assert own.replies() == []
    assert ".ics" not in texts(own.send(hello=True))
    assert transcript(owner) == said
    with app.extensions["runtime"].db() as session:
        assert session.scalars(select(Registration.status)).all() == ["registered"]


def test_guessed_tokens_are_not_found_and_create_nothing(app: Flask, client: FlaskClient) -> None:
    """300 guesses, shaped like real tokens or not: every one is refused and nothing is stored."""
    Person(client).onboard()
    before = counts(app)
    guesses = [secrets.token_urlsafe(32) for _ in range(300)]
    guesses += ["a", "A" * 43, "sim-" + "0" * 64, "x" * 5000, "tester-1"]
    for guess in guesses:
        headers = {"X-Simulator-Token": guess}
        assert client.get("/simulator/api/messages", headers=headers).status_code == 403
        sent = client.post("/simulator/api/send", json={"hello": True, "id": "m1"}, headers=headers)
        assert sent.status_code == 403
    assert client.post("/simulator/api/send", json={"user": "tester-1"}).status_code == 400
    assert counts(app) == before


def line_respondent_takes_the_survey(app: Flask) -> None:
    """A real respondent, on LINE, answers the livelihood survey through the same service."""
    runtime = app.extensions["runtime"]
    user = "U" + "b" * 32
    runtime.handle(Inbound("line", user, HelloInput()))
    for text in LIVELIHOOD:
        runtime.handle(Inbound("line", user, TextInput(text)))


def export_rows(app: Flask, out: Path, *options: str) -> list[dict[str, str]]:
    """Run the export command and read back its CSV."""
    result = app.test_cli_runner().invoke(
        args=["export", "--out", str(out), "--survey", "livelihood", *options]
    )
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(out.open(encoding="utf-8-sig")))


def test_the_export_leaves_simulated_answers_out_unless_asked(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """Researchers get real respondents only; --include-test-data adds the simulator's."""
    tester = Person(client)
    tester.send(hello=True)
    for text in LIVELIHOOD:
        tester.say(text)
    line_respondent_takes_the_survey(app)

    for layout, channel in (("wide", "_channel"), ("long", "channel")):
        real = export_rows(app, tmp_path / f"{layout}.csv", "--layout", layout)
        assert real and {row[channel] for row in real} == {"line"}
        both = export_rows(
            app, tmp_path / f"{layout}-all.csv", "--layout", layout, "--include-test-data"
        )
        assert {row[channel] for row in both} == {"line", "web"}
        assert len(both) == 2 * len(real)


def test_another_site_cannot_make_respondents_with_a_plain_form_post(client) -> None:
    """A form post (what any page can make a visitor's browser send) creates no respondent."""
    refused = client.post("/simulator/api/respondents", data={"x": "1"})
    assert refused.status_code == 415
    assert client.post("/simulator/api/respondents", json={}).status_code == 201
