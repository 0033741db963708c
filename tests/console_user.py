"""A person using the console through the test client: signs in, follows links, posts forms
with the CSRF token each page carries."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask

from bot.console.accounts import hash_password
from storage.staff import add_user

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PASSWORD = "a-long-test-password"


def add_account(app: Flask, email: str, role: str, password: str = PASSWORD) -> None:
    """An active console account."""
    runtime = app.extensions["runtime"]
    with runtime.db.begin() as session:
        add_user(session, email, role, hash_password(password), runtime.clock())


class ConsoleUser:
    """One browser: its own cookies, and the last page it saw."""

    def __init__(self, app: Flask, address: str = "192.0.2.10"):
        self.client = app.test_client()
        self.address = address
        self.page = ""

    def get(self, path: str):
        """Open a page (redirects not followed); a download leaves no page text."""
        answer = self.client.get(path, environ_base={"REMOTE_ADDR": self.address})
        self.page = answer.get_data(as_text=True) if answer.mimetype.startswith("text/") else ""
        return answer

    def post(self, path: str, data: dict[str, Any] | None = None, *, token: bool = True):
        """Post a form, with the CSRF token of the last page seen (or of the home page)."""
        fields = dict(data or {})
        if token:
            fields["csrf_token"] = self.csrf_token()
        answer = self.client.post(path, data=fields, environ_base={"REMOTE_ADDR": self.address})
        self.page = answer.get_data(as_text=True) if answer.mimetype.startswith("text/") else ""
        return answer

    def csrf_token(self) -> str:
        """The CSRF token of the last page seen, fetching the sign-in page if it had none."""
        found = CSRF_FIELD.search(self.page)
        if found is None:
            self.get("/console/login")
            found = CSRF_FIELD.search(self.page)
        return html.unescape(found.group(1))

    def sign_in(self, email: str, password: str = PASSWORD):
        """Sign in through the form."""
        self.get("/console/login")
        return self.post("/console/login", {"email": email, "password": password})

    def text(self) -> str:
        """The last page's text, tags and all (for `in` checks)."""
        return html.unescape(self.page)
