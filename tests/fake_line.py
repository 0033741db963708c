"""A fake LINE Messaging API: a real HTTP server on 127.0.0.1 that answers the way LINE does.

Point the bot at it with `LINE_API_BASE_URL` (the SDK's `Configuration(host=...)`). The rules it
enforces come from LINE's own documentation: bearer authentication, single-use reply tokens, the
`X-Line-Retry-Key` contract (a retry of an accepted request gets 409 and is not delivered again),
LINE's error body `{"message", "details"}` and its 5000-character text limit counted in UTF-16
code units. Tests can inject failures and slow answers to exercise the bot's error handling.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar

import pytest

from tests.loopback_http import LoopbackServer

DEFAULT_TOKEN = "test-access-token"
REPLY_TOKEN_LIFETIME = 60.0
MAX_MESSAGES = 5
MAX_MULTICAST_RECIPIENTS = 500
MAX_TEXT_LENGTH = 5000
MAX_QUICK_REPLY_ITEMS = 13
MESSAGE_TYPES = (
    "text",
    "textV2",
    "sticker",
    "image",
    "video",
    "audio",
    "location",
    "imagemap",
    "template",
    "flex",
)
IMAGE_TYPES = ("image/png", "image/jpeg")
RETRY_KEY_PATHS = ("/v2/bot/message/push", "/v2/bot/message/multicast")
#: LINE's user ids are "U" and 32 hex digits; the fake checks the "U" and the length only, so
#: tests may spell readable ids ("U" + "driver".rjust(32, "0")).
USER_ID = re.compile(r"U[0-9A-Za-z]{32}")
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")

# LINE's own wording where its documentation or its observed answers give one.
AUTH_MISSING = (
    "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
)
AUTH_FAILED = (
    "Authentication failed. Confirm that the access token in the authorization header is valid."
)
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
RETRY_KEY_ACCEPTED = "The retry key is already accepted"
INVALID_REPLY_TOKEN = "Invalid reply token"
INJECTED_MESSAGES = {
    400: "The request body has 1 error(s)",
    401: AUTH_FAILED,
    403: "Access to this API is not available for your account",
    404: "Not found",
    429: RATE_LIMITED,
    500: "An error occurred in the server",
}


@dataclass(frozen=True)
class Recorded:
    """One request the fake received, and the status it answered with.

    Header names are lower-cased; `json` is the parsed body (None when it is not JSON) and
    `received_at` is read from the fake's clock (time.monotonic() moved by advance_clock).
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body: bytes
    received_at: float
    status: int


@dataclass
class _Answer:
    """What the fake sends back: a status, a JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class _Refused(Exception):
    """Raised inside a route to answer with LINE's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        body: dict[str, Any] = {"message": message}
        if details:
            body["details"] = details
        self.answer = _Answer(status, body, headers or {})


@dataclass
class _Injected:
    """A failure or delay waiting for the next matching requests."""

    remaining: int
    status: int = 0
    path_contains: str = ""
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Request:
    """A parsed request as the routes see it."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body: bytes
    request_id: str


def _utf16_length(text: str) -> int:
    """LINE counts text in UTF-16 code units, so an emoji such as 🍎 counts as two."""
    return len(text.encode("utf-16-le")) // 2


def _body_invalid(details: list[dict[str, str]]) -> _Refused:
    """LINE's answer to a request body that fails validation."""
    return _Refused(400, f"The request body has {len(details)} error(s)", details)


def _invalid_property(name: str) -> str:
    """LINE's message for a value it cannot use, such as a user id that is not one."""
    return f"The property, '{name}', in the request body is invalid (line: -, column: -)"


def _message_errors(messages: Any) -> list[dict[str, str]]:
    """Check message objects the way LINE does, minimally: count, type, text and quick replies."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return [{"message": f"Size must be between 1 and {MAX_MESSAGES}", "property": "messages"}]
    errors = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in MESSAGE_TYPES:
            allowed = ", ".join(MESSAGE_TYPES)
            errors.append(
                {
                    "message": f"Must be one of the following values: [{allowed}]",
                    "property": f"{where}.type",
                }
            )
            continue
        text = message.get("text")
        if kind == "text" and (not isinstance(text, str) or not text):
            errors.append({"message": "May not be empty", "property": f"{where}.text"})
        elif kind == "text" and _utf16_length(text) > MAX_TEXT_LENGTH:
            errors.append(
                {
                    "message": f"Length must be between 0 and {MAX_TEXT_LENGTH}",
                    "property": f"{where}.text",
                }
            )
        items = (message.get("quickReply") or {}).get("items") or []
        if len(items) > MAX_QUICK_REPLY_ITEMS:
            errors.append(
                {
                    "message": f"Size must be between 0 and {MAX_QUICK_REPLY_ITEMS}",
                    "property": f"{where}.quickReply.items",
                }
            )
    return errors


class FakeLine(LoopbackServer):
    """A running fake of LINE's Messaging API, and everything it was asked to do."""

    http_methods: ClassVar[tuple[str, ...]] = ("GET", "POST", "DELETE")

    def __init__(self, token: str = DEFAULT_TOKEN, port: int = 0):
        super().__init__(port)
        self.token = token
        self.requests: list[Recorded] = []
        self.rich_menus: dict[str, dict[str, Any]] = {}
        self.rich_menu_images: dict[str, tuple[str, bytes]] = {}
        self.default_rich_menu: str | None = None
        self._delivered = threading.Condition(self._lock)
        self._deliveries: list[tuple[str, dict[str, Any]]] = []
        self._reply_tokens: dict[str, tuple[str, float]] = {}
        self._accepted_keys: dict[str, tuple[str, dict[str, Any]]] = {}
        self._failures: list[_Injected] = []
        self._delays: list[_Injected] = []
        self._clock_offset = 0.0
        self._message_ids = 461230966842064897
        #: The month's target limit (GET /v2/bot/message/quota); None for an account without one.
        self.quota: int | None = None
        #: Messages pushed and multicast this month: LINE counts one per recipient per message,
        #: and replies are free.
        self.consumed = 0
        #: The rate a small Official Account is held to (limit_rate): recipients a second.
        self._rate: float | None = None
        self._allowance = 0.0
        self._allowance_at = 0.0
        self.base_url = self.url
        menu = r"(?P<menu_id>[^/]+)"
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., _Answer]]] = [
            ("POST", re.compile(r"/v2/bot/message/reply"), self._reply),
            ("POST", re.compile(r"/v2/bot/message/push"), self._push),
            ("POST", re.compile(r"/v2/bot/message/multicast"), self._multicast),
            ("POST", re.compile(r"/v2/bot/richmenu"), self._create_rich_menu),
            ("GET", re.compile(r"/v2/bot/richmenu/list"), self._list_rich_menus),
            ("GET", re.compile(r"/v2/bot/message/quota"), self._quota),
            ("GET", re.compile(r"/v2/bot/message/quota/consumption"), self._consumption),
            ("POST", re.compile(rf"/v2/bot/richmenu/{menu}/content"), self._upload_image),
            ("DELETE", re.compile(rf"/v2/bot/richmenu/{menu}"), self._delete_rich_menu),
            ("POST", re.compile(rf"/v2/bot/user/all/richmenu/{menu}"), self._set_default),
            ("GET", re.compile(r"/v2/bot/user/all/richmenu"), self._get_default),
        ]

    # -- what tests read -------------------------------------------------------------------

    def pushes(self) -> list[Recorded]:
        """Every request to the push endpoint, answered or refused."""
        return [r for r in self.requests if r.path == "/v2/bot/message/push"]

    def replies(self) -> list[Recorded]:
        """Every request to the reply endpoint, answered or refused."""
        return [r for r in self.requests if r.path == "/v2/bot/message/reply"]

    def messages_to(self, user_id: str) -> list[dict[str, Any]]:
        """Every message object delivered to a user by reply, push or multicast, in order."""
        with self._lock:
            return [message for to, message in self._deliveries if to == user_id]

    def wait_for_messages(self, count: int, timeout: float = 10) -> None:
        """Block until at least `count` message objects were delivered in total, or fail."""
        with self._delivered:
            if not self._delivered.wait_for(lambda: len(self._deliveries) >= count, timeout):
                raise AssertionError(
                    f"expected {count} delivered messages within {timeout} s, "
                    f"got {len(self._deliveries)}"
                )

    # -- what tests arrange ----------------------------------------------------------------

    def issue_reply_token(self, user_id: str) -> str:
        """A fresh reply token for user_id, as a webhook event would carry it."""
        token = secrets.token_hex(16)
        with self._lock:
            self._reply_tokens[token] = (user_id, self._now())
        return token

    def expire_reply_tokens(self) -> None:
        """Make every reply token issued so far invalid, as if LINE's time limit had passed."""
        with self._lock:
            self._reply_tokens.clear()

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's own clock forward, so reply tokens age without a real wait."""
        with self._lock:
            self._clock_offset += seconds

    def fail_next(
        self,
        status: int,
        count: int = 1,
        path_contains: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `count` requests whose path contains `path_contains` with `status`."""
        with self._lock:
            self._failures.append(_Injected(count, status, path_contains, headers=headers or {}))

    def limit_rate(self, per_second: float | None) -> None:
        """Hold pushes and multicasts to `per_second` recipients a second (None: no limit), as
        LINE holds a throttled Official Account: a call past it gets 429 and delivers nothing.
        A second's worth may come at once (a bucket of that size, refilled at the rate)."""
        with self._lock:
            self._rate, self._allowance, self._allowance_at = per_second, per_second or 0.0, 0.0

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Hold the answer to the next `count` requests for `seconds` after handling them.

        The request still takes effect: like LINE, the fake may accept a message whose answer
        never reaches the client, which is what `X-Line-Retry-Key` exists for.
        """
        with self._lock:
            self._delays.append(_Injected(count, seconds=seconds))

    # -- request handling ------------------------------------------------------------------

    def _now(self) -> float:
        return time.monotonic() + self._clock_offset

    def _take(self, queue: list[_Injected], path: str) -> _Injected | None:
        """Consume one use of the first queued injection that applies to this path."""
        for injected in queue:
            if injected.path_contains in path:
                injected.remaining -= 1
                if injected.remaining == 0:
                    queue.remove(injected)
                return injected
        return None

    def handle(
        self, verb: str, target: str, headers: dict[str, str], body: bytes, received_at: float
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request (called by the HTTP handler thread) and record it."""
        path = target.split("?", 1)[0]
        # Recorded on the fake's clock, which advance_clock moves.
        received_at += self._clock_offset
        parsed: Any = None
        if body and "json" in headers.get("content-type", ""):
            # A body that is not JSON stays None; the route then refuses it as LINE would.
            with contextlib.suppress(ValueError):
                parsed = json.loads(body)
        request = _Request(verb, path, headers, parsed, body, str(uuid.uuid4()))
        with self._lock:
            failure = self._take(self._failures, path)
            delay = self._take(self._delays, path)
            if failure is not None:
                message = INJECTED_MESSAGES.get(failure.status, HTTPStatus(failure.status).phrase)
                answer = _Answer(failure.status, {"message": message}, dict(failure.headers))
            else:
                try:
                    answer = self._route(request)
                except _Refused as refused:
                    answer = refused.answer
            answer.headers["x-line-request-id"] = request.request_id
            self.requests.append(
                Recorded(verb, path, headers, parsed, body, received_at, answer.status)
            )
        if delay is not None:
            # Waiting on the stop event rather than sleeping lets stop() end a slow answer.
            self._stopping.wait(delay.seconds)
        return answer.status, answer.body, answer.headers

    def _route(self, request: _Request) -> _Answer:
        authorization = request.headers.get("authorization")
        if not authorization:
            raise _Refused(401, AUTH_MISSING)
        if authorization != f"Bearer {self.token}":
            raise _Refused(401, AUTH_FAILED)
        retry_key = request.headers.get("x-line-retry-key")
        if retry_key is not None and request.path not in RETRY_KEY_PATHS:
            # LINE rejects the header on every API that does not support retries.
            raise _Refused(400, "X-Line-Retry-Key is not supported by this API")
        if retry_key is not None and not UUID_PATTERN.fullmatch(retry_key):
            raise _Refused(400, "The X-Line-Retry-Key header must be a hexadecimal UUID")
        for method, pattern, route in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return route(request, **match.groupdict())
        raise _Refused(404, "Not found")

    def _json_object(self, request: _Request) -> dict[str, Any]:
        if not isinstance(request.json, dict):
            raise _Refused(400, "The request body could not be parsed as a JSON object")
        return request.json

    def _sent_messages(self, count: int) -> list[dict[str, str]]:
        sent = []
        for _ in range(count):
            self._message_ids += 1
            sent.append({"id": str(self._message_ids), "quoteToken": secrets.token_urlsafe(24)})
        return sent

    def _deliver(self, user_ids: list[str], messages: list[dict[str, Any]]) -> None:
        for user_id in user_ids:
            self._deliveries.extend((user_id, message) for message in messages)
        self._delivered.notify_all()

    def _reply(self, request: _Request) -> _Answer:
        payload = self._json_object(request)
        errors = _message_errors(payload.get("messages"))
        if errors:
            raise _body_invalid(errors)
        issued = self._reply_tokens.get(payload.get("replyToken") or "")
        if issued is None or self._now() - issued[1] > REPLY_TOKEN_LIFETIME:
            raise _Refused(400, INVALID_REPLY_TOKEN)
        # A reply token works once: LINE refuses it after the first accepted reply.
        del self._reply_tokens[payload["replyToken"]]
        self._deliver([issued[0]], payload["messages"])
        return _Answer(200, {"sentMessages": self._sent_messages(len(payload["messages"]))})

    def _already_accepted(self, request: _Request) -> _Answer | None:
        """LINE's 409 for a retry of an accepted request: nothing is delivered again."""
        key = request.headers.get("x-line-retry-key")
        if key is None or key not in self._accepted_keys:
            return None
        accepted_request_id, accepted_body = self._accepted_keys[key]
        return _Answer(
            409,
            {"message": RETRY_KEY_ACCEPTED, **accepted_body},
            {"x-line-accepted-request-id": accepted_request_id},
        )

    def _accept(self, request: _Request, body: dict[str, Any]) -> _Answer:
        key = request.headers.get("x-line-retry-key")
        if key is not None:
            self._accepted_keys[key] = (request.request_id, body)
        return _Answer(200, body)

    def _within_rate(self, recipients: int) -> None:
        """Refuse with 429 a call that would go past the rate set by limit_rate."""
        if self._rate is None:
            return
        now = self._now()
        if self._allowance_at:
            earned = (now - self._allowance_at) * self._rate
            self._allowance = min(self._rate, self._allowance + earned)
        self._allowance_at = now
        if recipients > self._allowance:
            raise _Refused(429, RATE_LIMITED)
        self._allowance -= recipients

    def _push(self, request: _Request) -> _Answer:
        conflict = self._already_accepted(request)
        if conflict:
            return conflict
        payload = self._json_object(request)
        errors = _message_errors(payload.get("messages"))
        if not isinstance(payload.get("to"), str) or not payload["to"]:
            errors.insert(0, {"message": "May not be empty", "property": "to"})
        if errors:
            raise _body_invalid(errors)
        if not USER_ID.fullmatch(payload["to"]):
            raise _Refused(400, _invalid_property("to"))
        self._within_rate(1)
        self._deliver([payload["to"]], payload["messages"])
        self.consumed += len(payload["messages"])
        return self._accept(
            request, {"sentMessages": self._sent_messages(len(payload["messages"]))}
        )

    def _multicast(self, request: _Request) -> _Answer:
        conflict = self._already_accepted(request)
        if conflict:
            return conflict
        payload = self._json_object(request)
        errors = _message_errors(payload.get("messages"))
        to = payload.get("to")
        if (
            not isinstance(to, list)
            or not 1 <= len(to) <= MAX_MULTICAST_RECIPIENTS
            or not all(isinstance(user_id, str) and user_id for user_id in to)
        ):
            errors.insert(
                0,
                {
                    "message": f"Size must be between 1 and {MAX_MULTICAST_RECIPIENTS}",
                    "property": "to",
                },
            )
        if errors:
            raise _body_invalid(errors)
        # one id LINE does not know refuses the whole call: nobody gets it
        wrong = next((i for i, user_id in enumerate(to) if not USER_ID.fullmatch(user_id)), None)
        if wrong is not None:
            raise _Refused(400, _invalid_property(f"to[{wrong}]"))
        self._within_rate(len(to))
        self._deliver(to, payload["messages"])
        self.consumed += len(to) * len(payload["messages"])
        return self._accept(request, {})

    def _quota(self, request: _Request) -> _Answer:
        """LINE's answer: {"type": "limited", "value": N}, or {"type": "none"}."""
        if self.quota is None:
            return _Answer(HTTPStatus.OK, {"type": "none"})
        return _Answer(HTTPStatus.OK, {"type": "limited", "value": self.quota})

    def _consumption(self, request: _Request) -> _Answer:
        """LINE's answer: {"totalUsage": N}."""
        return _Answer(HTTPStatus.OK, {"totalUsage": self.consumed})

    def _create_rich_menu(self, request: _Request) -> _Answer:
        menu = self._json_object(request)
        size = menu.get("size")
        errors = []
        if not isinstance(size, dict) or not {"width", "height"} <= size.keys():
            errors.append({"message": "must be specified", "property": "size"})
        if not isinstance(menu.get("areas"), list):
            errors.append({"message": "must be specified", "property": "areas"})
        if errors:
            raise _body_invalid(errors)
        menu_id = f"richmenu-{secrets.token_hex(16)}"
        self.rich_menus[menu_id] = menu
        return _Answer(200, {"richMenuId": menu_id})

    def _known_menu(self, menu_id: str) -> None:
        if menu_id not in self.rich_menus:
            raise _Refused(404, "Not found")

    def _upload_image(self, request: _Request, menu_id: str) -> _Answer:
        self._known_menu(menu_id)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type not in IMAGE_TYPES:
            raise _Refused(415, "Unsupported Media Type")
        if menu_id in self.rich_menu_images:
            raise _Refused(400, "An image has already been uploaded to the richmenu")
        self.rich_menu_images[menu_id] = (content_type, request.body)
        return _Answer(200, {})

    def _set_default(self, request: _Request, menu_id: str) -> _Answer:
        self._known_menu(menu_id)
        if menu_id not in self.rich_menu_images:
            raise _Refused(400, "must upload richmenu image before applying it to user")
        self.default_rich_menu = menu_id
        return _Answer(200, {})

    def _get_default(self, request: _Request) -> _Answer:
        if self.default_rich_menu is None:
            raise _Refused(404, "no default richmenu")
        return _Answer(200, {"richMenuId": self.default_rich_menu})

    def _list_rich_menus(self, request: _Request) -> _Answer:
        menus = [{"richMenuId": menu_id, **menu} for menu_id, menu in self.rich_menus.items()]
        return _Answer(200, {"richmenus": menus})

    def _delete_rich_menu(self, request: _Request, menu_id: str) -> _Answer:
        self._known_menu(menu_id)
        del self.rich_menus[menu_id]
        self.rich_menu_images.pop(menu_id, None)
        if self.default_rich_menu == menu_id:
            self.default_rich_menu = None
        return _Answer(200, {})


@pytest.fixture
def fake_line() -> Iterator[FakeLine]:
    """A running fake LINE API, stopped after the test."""
    with FakeLine() as fake:
        yield fake
