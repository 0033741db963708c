"""The console's doors: sign-in with argon2 and its limits, roles on every route, CSRF on every
form, sessions that end when they should, and the audit log of it all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import (
    AuditEntry,
    Broadcast,
    Registration,
    Respondent,
    StaffUser,
    Workshop,
)
from storage.workshops import register
from tests.console_user import PASSWORD, ConsoleUser, add_account

ADMIN, COORDINATOR, RESEARCHER = "admin@example.org", "coord@example.org", "research@example.org"


@pytest.fixture
def console(app):
    """The app with one account of each role."""
    for email, role in ((ADMIN, "admin"), (COORDINATOR, "coordinator"), (RESEARCHER, "researcher")):
        add_account(app, email, role)
    return app


def seated(app, clock) -> tuple[int, int]:
    """A respondent registered for the first demo workshop: (workshop id, registration id)."""
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        person = Respondent(
            channel="line",
            channel_user_id="U" + "c" * 32,
            profile={"group": "carriage"},
            created_at=clock.now,
        )
        session.add(person)
        session.flush()
        workshop = session.scalars(select(Workshop).order_by(Workshop.id)).first()
        register(session, workshop.id, person.id, clock.now)
        registration = session.scalars(select(Registration)).one()
        return workshop.id, registration.id


def audit_actions(app) -> list[tuple[str, str]]:
    """(actor, action) of every audit entry, oldest first."""
    with app.extensions["runtime"].db() as session:
        return [
            (e.actor, e.action) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


#: Who may do what: (method, path, form data) → status for admin, coordinator, researcher.
#: Anyone not signed in is sent to the sign-in page for every one of them.
ALL, RUNS, ADMINS = (200, 200, 200), (200, 200, 403), (200, 403, 403)
ANALYSES = (200, 403, 200)
MOVED_ALL, MOVED_RUNS, MOVED_ADMINS = (302, 302, 302), (302, 302, 403), (302, 403, 403)


def role_matrix(
    workshop_id: int, registration_id: int, person_id: int, interview_id: int, broadcast_id: int
):
    """Every console route but sign-in, with the status each role gets; the cancel and the
    sign-out come last, since they end what the others use."""
    workshop, interview = f"/console/workshops/{workshop_id}", f"/console/interviews/{interview_id}"
    registration = f"/console/registrations/{registration_id}"
    return [
        ("GET", "/console/", None, ALL),
        ("GET", "/console/dashboard", None, ALL),
        ("GET", "/console/password", None, ALL),
        ("POST", "/console/password", {}, ALL),  # nothing filled in: the form again
        ("POST", "/console/language/en", {}, MOVED_ALL),
        ("POST", "/console/language/th", {}, MOVED_ALL),
        ("GET", "/console/users", None, ADMINS),
        ("POST", "/console/users", {}, ADMINS),
        ("POST", "/console/users/1", {"role": "admin", "active": "y"}, MOVED_ADMINS),
        ("GET", "/console/audit", None, ADMINS),
        ("GET", "/console/exports", None, ANALYSES),
        ("POST", "/console/exports", {}, ANALYSES),  # nothing chosen: the form again
        ("POST", "/console/exports/open-data", {}, ANALYSES),
        ("GET", "/console/courses", None, RUNS),
        ("GET", "/console/courses/new", None, RUNS),
        ("POST", "/console/courses/new", {}, RUNS),
        ("GET", "/console/courses/1", None, RUNS),
        ("POST", "/console/courses/1", {}, RUNS),
        ("GET", "/console/workshops/new", None, RUNS),
        ("POST", "/console/workshops/new", {}, RUNS),
        ("GET", workshop, None, RUNS),
        ("GET", f"{workshop}/attendance.csv", None, RUNS),
        ("GET", f"{workshop}/attendance.xlsx", None, RUNS),
        ("GET", f"/console/posters/workshop/{workshop_id}.png", None, RUNS),
        ("GET", "/console/posters/survey/active_citizen.png", None, RUNS),
        ("POST", f"{workshop}/details", {}, MOVED_RUNS),
        ("POST", f"{workshop}/reschedule", {}, MOVED_RUNS),
        ("POST", f"{registration}/attendance/attended", {}, MOVED_RUNS),
        ("POST", f"{registration}/attendance/no_show", {}, MOVED_RUNS),
        ("POST", f"{registration}/contact", {}, RUNS),
        ("GET", "/console/respondents", None, RUNS),
        ("GET", f"/console/respondents/{person_id}", None, RUNS),
        ("POST", f"/console/respondents/{person_id}/contact", {}, RUNS),
        ("GET", "/console/interviews", None, RUNS),
        ("POST", "/console/interviews", {}, MOVED_RUNS),
        ("GET", interview, None, RUNS),
        ("POST", f"{interview}/answer", {"text": "สวัสดี", "turn": "a" * 32}, MOVED_RUNS),
        ("POST", f"{interview}/hand-over", {}, MOVED_RUNS),
        ("GET", f"{interview}/hand-over", None, RUNS),  # the code just made, shown again
        ("GET", "/console/broadcasts", None, RUNS),
        ("GET", "/console/broadcasts/new", None, RUNS),
        ("POST", "/console/broadcasts/new", {}, RUNS),  # nothing written: the form again
        ("GET", f"/console/broadcasts/{broadcast_id}", None, RUNS),
        ("GET", f"/console/broadcasts/{broadcast_id}/report.csv", None, RUNS),
        ("POST", f"/console/broadcasts/{broadcast_id}/cancel", {}, MOVED_RUNS),
        ("POST", f"{workshop}/cancel", {}, MOVED_RUNS),
        ("POST", "/console/logout", {}, MOVED_ALL),
    ]


def test_every_role_reaches_exactly_its_routes(console, clock) -> None:
    """The whole matrix: each role (and nobody) against each page and action; a console route
    left out of the matrix fails the test."""
    workshop_id, registration_id = seated(console, clock)
    with console.extensions["runtime"].db.begin() as session:
        person = session.scalars(select(Respondent)).one()
        interview = Respondent(
            channel="assisted", channel_user_id="assisted-x", created_at=clock.now
        )
        session.add(interview)
        notice = Broadcast(
            created_by=COORDINATOR,
            created_at=clock.now,
            text_th="ประกาศ",
            audience={},
            send_at=clock.now,
        )
        session.add(notice)
        session.flush()
        ids = (workshop_id, registration_id, person.id, interview.id, notice.id)
    matrix = role_matrix(*ids)
    adapter = console.url_map.bind("localhost")
    covered = {(method, adapter.match(path, method)[0]) for method, path, _d, _s in matrix}
    every = {
        (method, rule.endpoint)
        for rule in console.url_map.iter_rules()
        if rule.rule.startswith("/console") and rule.endpoint != "console.login"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert every - covered == set()
    for column, email in enumerate((ADMIN, COORDINATOR, RESEARCHER, None)):
        user = ConsoleUser(console)
        if email:
            assert user.sign_in(email).status_code == 302
        for method, path, data, expected in matrix:
            if email is None and path.startswith("/console/language/"):
                continue  # the sign-in page has the language button too
            user.get("/console/password" if email else "/console/login")  # a page with a token
            answer = user.get(path) if method == "GET" else user.post(path, data)
            if email is None:
                assert answer.status_code == 302 and "/console/login" in answer.location, path
            else:
                assert answer.status_code == expected[column], (email, method, path)
        if email == COORDINATOR:  # the coordinator's cancel went through; the admin's found it
            with console.extensions["runtime"].db() as session:
                assert session.get(Workshop, workshop_id).status == "cancelled"


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(console, clock) -> None:
    """Attendance posted without the token: 400, and the registration is as it was."""
    _, registration_id = seated(console, clock)
    user = ConsoleUser(console)
    user.sign_in(COORDINATOR)
    answer = user.post(f"/console/registrations/{registration_id}/attendance/attended", token=False)
    assert answer.status_code == 400
    with console.extensions["runtime"].db() as session:
        assert session.get(Registration, registration_id).status == "registered"
    stranger = ConsoleUser(console)
    assert (
        stranger.post(
            "/console/login", {"email": ADMIN, "password": PASSWORD}, token=False
        ).status_code
        == 200
    )
    assert stranger.get("/console/").status_code == 302, "not signed in"


def test_five_wrong_passwords_lock_the_account_and_say_so(console, clock) -> None:
    """The sixth try, even with the right password, hears the account is locked until when;
    a quarter of an hour later it opens again."""
    user = ConsoleUser(console)
    for _ in range(5):
        assert user.sign_in(COORDINATOR, "wrong-password").status_code == 401
        assert "อีเมลหรือรหัสผ่านไม่ถูกต้อง" in user.text()
    locked = user.sign_in(COORDINATOR)
    assert locked.status_code == 423 and "ถูกล็อกชั่วคราว" in user.text() and "2569" in user.text()
    clock.advance(minutes=16)
    assert user.sign_in(COORDINATOR).status_code == 302
    assert ("coord@example.org", "login.locked") in audit_actions(console)


def test_many_failures_from_one_address_refuse_it_whatever_the_account(console, clock) -> None:
    """Guessing across many accounts from one address: after 20 failures it is refused, even
    for a right password; another address is not."""
    guesser = ConsoleUser(console, address="198.51.100.7")
    for n in range(20):
        guesser.sign_in(f"nobody{n}@example.org", "guess")
    assert guesser.sign_in(ADMIN).status_code == 429
    assert "มากเกินไป" in guesser.text()
    assert ConsoleUser(console, address="192.0.2.99").sign_in(ADMIN).status_code == 302


def test_disabling_a_user_ends_their_session_at_once(console) -> None:
    """A coordinator is signed in; the admin disables the account; their next click is the
    sign-in page, and they cannot sign in again."""
    coordinator = ConsoleUser(console)
    coordinator.sign_in(COORDINATOR)
    assert coordinator.get("/console/").status_code == 200
    admin = ConsoleUser(console)
    admin.sign_in(ADMIN)
    with console.extensions["runtime"].db() as session:
        target = session.scalars(select(StaffUser).where(StaffUser.email == COORDINATOR)).one().id
    admin.get("/console/users")
    assert admin.post(f"/console/users/{target}", {"role": "coordinator"}).status_code == 302
    assert coordinator.get("/console/").status_code == 302
    assert coordinator.sign_in(COORDINATOR).status_code == 401
    assert (ADMIN, "user.disabled") in audit_actions(console)


def test_a_new_password_signs_out_the_other_devices(console) -> None:
    """Changing one's password keeps this session and ends the one on the other phone."""
    laptop, phone = ConsoleUser(console), ConsoleUser(console, address="192.0.2.11")
    laptop.sign_in(RESEARCHER)
    phone.sign_in(RESEARCHER)
    laptop.get("/console/password")
    new = "another-long-password"
    changed = laptop.post("/console/password", {"current": PASSWORD, "new": new, "again": new})
    assert changed.status_code == 302
    assert laptop.get("/console/").status_code == 200
    assert phone.get("/console/").status_code == 302
    assert ConsoleUser(console).sign_in(RESEARCHER, new).status_code == 302


def test_the_session_cookie_is_httponly_samesite_and_secure_over_https(database_url, clock) -> None:
    """Behind HTTPS the cookie is Secure too; it lasts the idle timeout, not for ever."""
    from bot import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "CLOCK": clock,
            "TESTING": True,
            "PUBLIC_BASE_URL": "https://bot.example.org",
        }
    )
    add_account(app, ADMIN, "admin")
    user = ConsoleUser(app)
    answer = user.sign_in(ADMIN)
    cookie = next(h for h in answer.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Expires=" in cookie
    app.extensions["runtime"].close()


def test_sensitive_actions_are_in_the_audit_log_that_only_admins_read(console, clock) -> None:
    """Sign-ins and failures, a look at contact details, attendance, a role change and a
    cancellation: each is an entry, shown on the admin's audit page."""
    workshop_id, registration_id = seated(console, clock)
    ConsoleUser(console).sign_in(COORDINATOR, "wrong-password")
    coordinator = ConsoleUser(console)
    coordinator.sign_in(COORDINATOR)
    coordinator.get(f"/console/workshops/{workshop_id}")
    coordinator.post(f"/console/registrations/{registration_id}/contact")
    assert "U" + "c" * 32 in coordinator.text()
    coordinator.get(f"/console/workshops/{workshop_id}")
    coordinator.post(f"/console/registrations/{registration_id}/attendance/no_show")
    coordinator.get(f"/console/workshops/{workshop_id}")
    coordinator.post(f"/console/workshops/{workshop_id}/cancel")
    admin = ConsoleUser(console)
    admin.sign_in(ADMIN)
    with console.extensions["runtime"].db() as session:
        target = session.scalars(select(StaffUser).where(StaffUser.email == RESEARCHER)).one().id
    admin.get("/console/users")
    admin.post(f"/console/users/{target}", {"role": "coordinator", "active": "y"})
    actions = audit_actions(console)
    for entry in (
        (COORDINATOR, "login.failed"),
        (COORDINATOR, "login"),
        (COORDINATOR, "contact.viewed"),
        (COORDINATOR, "attendance.marked"),
        (COORDINATOR, "workshop.cancelled"),
        (ADMIN, "role.changed"),
    ):
        assert entry in actions, entry
    assert admin.get("/console/audit").status_code == 200
    assert "contact.viewed" in admin.text() and "role.changed" in admin.text()


def test_create_user_from_the_command_line(app) -> None:
    """`flask create-user EMAIL --role …` makes an account that signs in; a short password or a
    second account for the same email is refused."""
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=["create-user", "New@Example.org", "--role", "coordinator", "--password", PASSWORD]
    )
    assert made.exit_code == 0, made.output
    assert ConsoleUser(app).sign_in("new@example.org").status_code == 302
    again = runner.invoke(
        args=["create-user", "new@example.org", "--role", "admin", "--password", PASSWORD]
    )
    assert again.exit_code != 0 and "already" in again.output
    short = runner.invoke(
        args=["create-user", "x@example.org", "--role", "admin", "--password", "short"]
    )
    assert short.exit_code != 0 and "10 characters" in short.output


def test_the_demo_admin_gets_a_fresh_random_password_each_time(app) -> None:
    """What `make run` prints signs in; the next run's password replaces it."""
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo-admin"]).output.split()[-1]
    second = runner.invoke(args=["demo-admin"]).output.split()[-1]
    assert first != second
    assert ConsoleUser(app).sign_in(ADMIN, first).status_code == 401
    assert ConsoleUser(app).sign_in(ADMIN, second).status_code == 302


def test_the_console_speaks_english_when_asked(console) -> None:
    """Thai by default; the switch turns the pages to English."""
    user = ConsoleUser(console)
    user.get("/console/login")
    assert "เข้าสู่ระบบ" in user.text()
    user.post("/console/language/en")
    user.get("/console/login")
    assert "Sign in" in user.text() and "เข้าสู่ระบบ" not in user.text()


def test_the_workshop_commands_act_as_a_named_coordinator(console, clock) -> None:
    """`flask workshops cancel N --by EMAIL`: done and audited as that coordinator; an email
    without an active coordinator or admin account is refused and changes nothing."""
    workshop_id, registration_id = seated(console, clock)
    runner = console.test_cli_runner()
    refused = runner.invoke(args=["workshops", "cancel", str(workshop_id), "--by", RESEARCHER])
    assert refused.exit_code != 0 and "not an active coordinator" in refused.output
    done = runner.invoke(args=["workshops", "cancel", str(workshop_id), "--by", COORDINATOR])
    assert done.exit_code == 0 and "1 registrants told" in done.output
    with console.extensions["runtime"].db() as session:
        assert session.get(Registration, registration_id).status == "cancelled"
    assert (COORDINATOR, "workshop.cancelled") in audit_actions(console)
