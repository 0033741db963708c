"""Security basics on every response: no sniffing, no framing, no referrer, a CSP on pages,
HSTS over HTTPS, no server banner, and links built from the configured public address."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import ConfigError, create_app

ROOT = Path(__file__).resolve().parent.parent


def test_every_response_carries_the_security_headers(client) -> None:
    """A JSON answer, an error and a page all say nosniff, deny framing and send no referrer."""
    for path in ("/healthz", "/no-such-page", "/calendar/unknown.ics"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert "Strict-Transport-Security" not in headers, "only over HTTPS"


def test_html_pages_have_a_content_security_policy(client) -> None:
    """Pages load only their own scripts and cannot be framed by another site."""
    response = client.get("/no-such-page")
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy


def test_hsts_over_https_behind_a_trusted_proxy(database_url, clock) -> None:
    """With TRUSTED_PROXIES=1, X-Forwarded-Proto: https counts, and HSTS is sent."""
    app = create_app({"DATABASE_URL": database_url, "CLOCK": clock, "TRUSTED_PROXIES": 1})
    response = app.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    untrusted = create_app({"DATABASE_URL": database_url, "CLOCK": clock})
    response = untrusted.test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers, "a client cannot claim HTTPS"
    app.extensions["runtime"].close()
    untrusted.extensions["runtime"].close()


def test_the_app_refuses_to_start_with_line_but_no_public_address(database_url) -> None:
    """Calendar links would point at 127.0.0.1 on respondents' phones: refuse, and say why."""
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app({"DATABASE_URL": database_url, "LINE_CHANNEL_ACCESS_TOKEN": "t"})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_does_not_advertise_itself(tmp_path) -> None:
    """The served app (as the Procfile runs it) sends no server name or version."""
    port = _free_port()
    env = os.environ | {"DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "bot:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/healthz")
                server_header = connection.getresponse().getheader("Server", "")
                connection.close()
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    raise AssertionError("gunicorn did not start") from error
                time.sleep(0.1)
        assert "gunicorn" not in server_header.lower()
        assert not any(ch.isdigit() for ch in server_header)
    finally:
        server.terminate()
        server.wait(timeout=10)
