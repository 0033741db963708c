"""What the browser tests share: Debian's chromium through Playwright, the app served on
loopback, and phone-sized browser profiles."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
#: How long any one wait may take; generous for a loaded CI machine, never slept through.
TIMEOUT_MS = 15_000

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, shared by this module's tests."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs it (system-deps)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served on 127.0.0.1 on a free port, from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def new_phone(browser: Browser, live_url: str, **options: bool) -> BrowserContext:
    """A fresh browser profile (so empty localStorage) on a phone-sized screen in Thailand."""
    context = browser.new_context(
        base_url=live_url,
        locale="th-TH",
        timezone_id="Asia/Bangkok",
        viewport={"width": 390, "height": 844},
        **options,
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


#: Where the browser tests leave screenshots for a person to look at (kept out of git).
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


@pytest.fixture
def context(browser: Browser, live_url: str) -> Iterator[BrowserContext]:
    """A fresh phone-sized browser profile, clicked with a mouse."""
    context = new_phone(browser, live_url)
    yield context
    context.close()
