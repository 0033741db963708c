"""A fake Telegram Bot API: a real HTTP server on 127.0.0.1 that answers the way Telegram does.

Point python-telegram-bot at it with `Bot(token, base_url=f"{fake.url}/bot")`: PTB appends the
token, so every call goes to `{fake.url}/bot{token}/{method}`. PTB sends parameters
form-encoded, or as a multipart form when it uploads a file, with objects such as `reply_markup`
JSON-encoded inside a field; the fake also takes a JSON body or a query string, as Telegram does.

Every answer is Telegram's envelope: `{"ok": true, "result": ...}`, or `{"ok": false,
"error_code": N, "description": "..."}` with `"parameters": {"retry_after": N}` on 429. The rules
it enforces come from https://core.telegram.org/bots/api and from the Bot API server's own
answers (tdlib/telegram-bot-api), with Telegram's wording:

- a malformed token answers 404 "Not Found" and a well-formed wrong one 401 "Unauthorized";
  method names are case-insensitive and an unknown one answers 404;
- message text is 1-4096 and a caption at most 1024 UTF-16 code units, counted after HTML parsing
  and after trimming surrounding white space; parse_mode HTML is parsed like the Bot API server
  parses it (its tags and attributes, `&lt;`-style entities, its error messages with byte
  offsets); Markdown and MarkdownV2 text is taken as it is, unparsed;
- an inline keyboard button needs an action, and its callback_data 1-64 bytes;
- a callback query can be answered once, and only one the fake issued in a callback_update;
- edits find the bot's own message and refuse an edit that changes nothing;
- getUpdates conflicts with an active webhook, and a newer getUpdates ends one still waiting;
  long polling waits up to `timeout` seconds and wakes as soon as a test queues an update;
  updates of a type the bot did not ask for in allowed_updates are never queued;
- a webhook needs https on port 80, 88, 443 or 8443 and a secret of A-Z a-z 0-9 _ -;
- with `enforce_rate_limits=True`, Telegram's flood control: about 30 messages a second overall
  and 1 a second per chat (token buckets allowing a small burst), answered with 429.

Tests get a running fake from the `fake_telegram` fixture (load it with
`pytest_plugins = ["tests.fake_telegram"]`) or start `FakeTelegram(...)` for other options. They
build realistic updates (text, /start, callback, photo, sticker, edit, block and unblock, group
messages), queue them for getUpdates, read what the bot sent, and inject failures and slow
answers. The fake does not call webhooks itself: tests post the updates they build.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import email.parser
import email.policy
import io
import json
import math
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, NoReturn

import pytest
from PIL import Image, UnidentifiedImageError

from tests.loopback_http import LoopbackServer

DEFAULT_TOKEN = "7212345678:AAHfakeTokenForLampangSurveyTests_x9"
DEFAULT_BOT_USERNAME = "lampang_survey_bot"
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_COMMAND_DESCRIPTION = 256
LONG_POLL_MAX_TIMEOUT = 50
WEBHOOK_PORTS = (80, 88, 443, 8443)
SEND_METHODS = ("sendMessage", "sendPhoto")
# Telegram leaves these out unless allowed_updates names them.
UPDATES_OFF_BY_DEFAULT = ("chat_member", "message_reaction", "message_reaction_count")
# The longest side of each size Telegram keeps of a photo, smallest first.
PHOTO_SIDES = (90, 320, 800, 1280)

TOKEN_PATTERN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
API_PATH = re.compile(r"/bot(?P<token>[^/]*)/(?P<method>[^/]*)")
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]*")
COMMAND = re.compile(r"[a-z0-9_]{1,32}")
START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
LEADING_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")
HTML_ENTITY = re.compile(r"&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|([A-Za-z]+));?")

# Parameters whose form-encoded value is JSON, an integer or a boolean, as the Bot API reads them.
JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "allowed_updates",
        "commands",
        "scope",
    }
)
INT_PARAMS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "cache_time", "max_connections"}
)
BOOL_PARAMS = frozenset(
    {
        "show_alert",
        "drop_pending_updates",
        "disable_notification",
        "protect_content",
        "has_spoiler",
        "show_caption_above_media",
    }
)
BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
REPLY_MARKUP_KINDS = frozenset({"inline_keyboard", "keyboard", "remove_keyboard", "force_reply"})
HTML_TAGS = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

# Telegram's own wording.
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
BLOCKED = "Forbidden: bot was blocked by the user"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
CHAT_NOT_FOUND = "Bad Request: chat not found"
GROUP_UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
UNSUPPORTED_PARSE_MODE = "Bad Request: unsupported parse_mode"
MARKUP_UNPARSABLE = "Bad Request: can't parse reply keyboard markup JSON object"
INLINE_KEYBOARD_EXPECTED = "Bad Request: inline keyboard expected"
INLINE_ROWS_INVALID = (
    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
)
BUTTON_UNPARSABLE = "Bad Request: can't parse inline keyboard button: "
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
EDIT_FORBIDDEN = "Bad Request: message can't be edited"
EDIT_NO_TEXT = "Bad Request: there is no text in the message to edit"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
NO_PHOTO = "Bad Request: there is no photo in the request"
EMPTY_FILE = "Bad Request: file must be non-empty"
IMAGE_INVALID = "Bad Request: IMAGE_PROCESS_FAILED"
PHOTO_DIMENSIONS = "Bad Request: PHOTO_INVALID_DIMENSIONS"
WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
WEBHOOK_URL_INVALID = "Bad Request: invalid webhook URL specified"
WEBHOOK_NOT_HTTPS = "Bad Request: bad webhook: HTTPS url must be provided for webhook"
WEBHOOK_PORT = "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
SECRET_TOO_LONG = "Bad Request: secret token is too long"
SECRET_INVALID = "Bad Request: secret token contains unallowed characters"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_TERMINATED = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
COMMAND_INVALID = "Bad Request: BOT_COMMAND_INVALID"
COMMAND_DESCRIPTION_INVALID = "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"
JSON_INVALID = "Bad Request: can't parse JSON object"
INJECTED_DESCRIPTIONS = {
    400: "Bad Request",
    401: UNAUTHORIZED,
    403: BLOCKED,
    404: NOT_FOUND,
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def too_many_requests(retry_after: int) -> str:
    """Telegram's description of a flood-control 429."""
    return f"Too Many Requests: retry after {retry_after}"


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Recorded:
    """One request the fake received, and what it answered.

    `method` is Telegram's spelling (e.g. "sendMessage") whatever case the caller used, or the raw
    path segment when the method is unknown. `params` holds the parameters decoded the way the
    Bot API reads them (chat_id an int, reply_markup a dict, ...); `received_at` is
    time.monotonic() when the request arrived.
    """

    method: str
    params: dict[str, Any]
    files: dict[str, Upload]
    received_at: float
    status: int
    answer: dict[str, Any]


class _Refused(Exception):
    """Raised inside a method to answer with Telegram's error envelope."""

    def __init__(
        self,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ):
        super().__init__(description)
        self.error_code = error_code
        self.answer: dict[str, Any] = {
            "ok": False,
            "error_code": error_code,
            "description": description,
        }
        if retry_after is not None:
            self.answer["parameters"] = {"retry_after": retry_after}
        if migrate_to_chat_id is not None:
            self.answer["parameters"] = {"migrate_to_chat_id": migrate_to_chat_id}


@dataclass
class _Injected:
    """A failure or delay waiting for the next matching requests."""

    method: str
    remaining: int
    chat_id: int | None = None
    status: int = 0
    description: str = ""
    retry_after: int = 0
    seconds: float = 0.0
    #: Matching calls to let through first.
    after: int = 0

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        """Whether a call of `method` with `params` is one this injection waits for."""
        return self.method == method.lower() and self.chat_id in (None, params.get("chat_id"))


@dataclass
class _Bucket:
    """A token bucket: `capacity` sends at once, refilled at `rate` sends a second."""

    rate: float
    capacity: float
    tokens: float = field(init=False)
    updated: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def wait(self, now: float) -> float:
        """Seconds until one more send fits; 0 when it fits now."""
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = max(self.updated, now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class _Call:
    """A routed request as the methods see it."""

    params: dict[str, Any]
    files: dict[str, Upload]
    received_at: float


@dataclass(frozen=True)
class _Described:
    """A result Telegram sends with a description, as setWebhook and deleteWebhook do."""

    result: Any
    description: str


def max_in_window(timestamps: list[float], seconds: float) -> int:
    """The most timestamps that fall in any half-open window [t, t + seconds)."""
    ordered = sorted(timestamps)
    best = start = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def _utf16_length(text: str) -> int:
    """Telegram counts text in UTF-16 code units, so an emoji such as 🍎 counts as two."""
    return len(text.encode("utf-16-le")) // 2


def _normalized(name: str, value: Any) -> Any:
    """A parameter decoded as the Bot API reads it: form values are strings, JSON or not."""
    if not isinstance(value, str):
        return value
    if name in JSON_PARAMS:
        # A value that is not JSON stays a string, which the method then refuses.
        with contextlib.suppress(ValueError):
            return json.loads(value)
    elif name in INT_PARAMS and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    elif name in BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    """The fields and files of a multipart/form-data body."""
    envelope = f"Content-Type: {content_type}\r\n\r\n".encode() + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(envelope)
    fields: dict[str, str] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode()
        else:
            files[name] = Upload(filename, part.get_content_type(), data)
    return fields, files


def _parse_params(
    query: str, content_type: str, body: bytes
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Parameters from the query string and the body, in every encoding Telegram accepts."""
    params: dict[str, Any] = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    files: dict[str, Upload] = {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" and body:
        parsed = None
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
        if not isinstance(parsed, dict):
            raise _Refused(400, JSON_INVALID)
        params.update(parsed)
    elif kind == "application/x-www-form-urlencoded":
        params.update(urllib.parse.parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
    elif kind == "multipart/form-data":
        fields, files = _multipart(content_type, body)
        params.update(fields)
    return {name: _normalized(name, value) for name, value in params.items()}, files


def _integer(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter clamped to [low, high]; the Bot API reads anything else as default."""
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        value = default
    return min(max(value, low), high)


def _html_entity(text: str, at: int) -> tuple[str, int] | None:
    """The character an HTML entity at `at` stands for, and where it ends, or None.

    Like the Bot API server, only &lt; &gt; &amp; &quot; and numeric references count, and the
    semicolon is optional; an `&` that starts none of them stays a literal `&`.
    """
    match = HTML_ENTITY.match(text, at)
    if match is None:
        return None
    hex_digits, digits, name = match.groups()
    if name is not None:
        char = NAMED_ENTITIES.get(name)
    elif len(match.group(0).rstrip(";")) >= 10:
        # tdlib gives up on a numeric reference of ten characters or more.
        char = None
    else:
        code = int(hex_digits, 16) if hex_digits is not None else int(digits)
        char = chr(code) if 0 < code < 0x10FFFF and not 0xD800 <= code <= 0xDFFF else None
    return (char, match.end()) if char else None


class _Html:
    """Telegram's HTML style parsed into plain text and entities, the way tdlib parses it."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.plain = ""
        self.length = 0  # UTF-16 length of self.plain
        # Open tags: name, attributes, UTF-16 offset and index in self.plain where they start.
        self.open: list[tuple[str, dict[str, str], int, int]] = []
        self.entities: list[dict[str, Any]] = []

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        """The plain text and its entities, or a 400 "can't parse entities" refusal."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            entity = _html_entity(self.text, self.pos) if char == "&" else None
            if entity is not None:
                self._append(entity[0])
                self.pos = entity[1]
            elif char != "<":
                self._append(char)
                self.pos += 1
            elif self._char(self.pos + 1) == "/":
                self._end_tag()
            else:
                self._start_tag()
        if self.open:
            self._fail(f'Can\'t find end tag corresponding to start tag "{self.open[-1][0]}"')
        for entity in self.entities:
            # A language only survives on a <pre><code class="language-..."> block.
            if entity["type"] == "code":
                entity.pop("language", None)
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return self.plain, self.entities

    def _append(self, text: str) -> None:
        self.plain += text
        self.length += _utf16_length(text)

    def _fail(self, reason: str) -> NoReturn:
        raise _Refused(400, f"Bad Request: can't parse entities: {reason}")

    def _byte_offset(self, pos: int) -> int:
        """tdlib reports where it failed as a byte offset in the UTF-8 text."""
        return len(self.text[:pos].encode())

    def _char(self, pos: int) -> str:
        return self.text[pos] if pos < len(self.text) else ""

    def _skip_spaces(self, pos: int) -> int:
        while self._char(pos).isspace():
            pos += 1
        return pos

    def _name_end(self, pos: int) -> int:
        while self._char(pos) and not self._char(pos).isspace() and self._char(pos) != ">":
            pos += 1
        return pos

    def _start_tag(self) -> None:
        begin = self.pos
        pos = self._name_end(begin + 1)
        if not self._char(pos):
            self._fail(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        name = self.text[begin + 1 : pos].lower()
        if name not in HTML_TAGS:
            self._fail(f'Unsupported start tag "{name}" at byte offset {self._byte_offset(begin)}')
        attributes, pos = self._attributes(name, begin, pos)
        if name == "span" and attributes.get("class") != "tg-spoiler":
            self._fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte_offset(begin)}'
            )
        self.open.append((name, attributes, self.length, len(self.plain)))
        self.pos = pos + 1

    def _attributes(self, name: str, begin: int, pos: int) -> tuple[dict[str, str], int]:
        """The attributes of a start tag, and the position of its closing `>`."""
        unclosed = f"Unclosed start tag at byte offset {self._byte_offset(begin)}"
        attributes: dict[str, str] = {}
        while self._char(pos) != ">":
            pos = self._skip_spaces(pos)
            if self._char(pos) == ">":
                break
            start = pos
            while (
                self._char(pos)
                and not self._char(pos).isspace()
                and self._char(pos) not in "=>/\"'"
            ):
                pos += 1
            attribute = self.text[start:pos].lower()
            if not attribute:
                self._fail(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{self._byte_offset(begin)}"
                )
            pos = self._skip_spaces(pos)
            if self._char(pos) != "=":
                if not self._char(pos):
                    self._fail(unclosed)
                attributes[attribute] = ""
                continue
            pos = self._skip_spaces(pos + 1)
            quote = self._char(pos)
            if not quote:
                self._fail(unclosed)
            if quote in "\"'":
                value, pos = self._quoted(pos + 1, quote, unclosed)
            else:
                start = pos
                while self._char(pos).isascii() and (
                    self._char(pos).isalnum() or self._char(pos) in ".-"
                ):
                    pos += 1
                value = self.text[start:pos].lower()
                if not self._char(pos).isspace() and self._char(pos) != ">":
                    self._fail(
                        f"Unexpected end of name token at byte offset {self._byte_offset(pos)}"
                    )
            attributes[attribute] = value
        return attributes, pos

    def _quoted(self, pos: int, quote: str, unclosed: str) -> tuple[str, int]:
        """A quoted attribute value with its entities decoded, and the position after it."""
        value = ""
        while self._char(pos) and self._char(pos) != quote:
            entity = _html_entity(self.text, pos) if self._char(pos) == "&" else None
            if entity is not None:
                value += entity[0]
                pos = entity[1]
            else:
                value += self._char(pos)
                pos += 1
        if not self._char(pos):
            self._fail(unclosed)
        return value, pos + 1

    def _end_tag(self) -> None:
        begin = self.pos
        if not self.open:
            self._fail(f"Unexpected end tag at byte offset {self._byte_offset(begin)}")
        pos = self._name_end(begin + 2)
        name = self.text[begin + 2 : pos].lower()
        pos = self._skip_spaces(pos)
        if self._char(pos) != ">":
            self._fail(f"Unclosed end tag at byte offset {self._byte_offset(begin)}")
        open_name, attributes, offset, index = self.open.pop()
        # `</>` closes whatever tag is open, as tdlib allows.
        if name and name != open_name:
            self._fail(
                f"Unmatched end tag at byte offset {self._byte_offset(begin)}, "
                f'expected "</{open_name}>", found "</{name}>"'
            )
        if self.length > offset:
            self._add_entity(open_name, attributes, offset, self.plain[index:])
        self.pos = pos + 1

    def _add_entity(self, name: str, attributes: dict[str, str], offset: int, inner: str) -> None:
        entity: dict[str, Any] = {
            "type": HTML_TAGS[name],
            "offset": offset,
            "length": self.length - offset,
        }
        if name == "a":
            # Without href, tdlib takes the link's own text as its URL.
            entity["url"] = attributes.get("href") or inner
        elif name == "tg-emoji":
            emoji_id = attributes.get("emoji-id", "")
            if not emoji_id.isdigit():
                self._fail("Invalid custom emoji identifier specified")
            entity["custom_emoji_id"] = emoji_id
        elif name == "code" and attributes.get("class", "").startswith("language-"):
            entity["language"] = attributes["class"].removeprefix("language-")
        elif name == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif name == "pre" and self.entities:
            last = self.entities[-1]
            same_range = (last["offset"], last["length"]) == (offset, entity["length"])
            # <pre><code class="language-x">...</code></pre> is one pre entity with a language.
            if last["type"] == "code" and same_range:
                last["type"] = "pre"
                return
        self.entities.append(entity)


def _trimmed(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Text without surrounding white space, which Telegram drops, and entities shifted to fit."""
    lead = _utf16_length(text[: len(text) - len(text.lstrip())])
    text = text.strip()
    end = _utf16_length(text)
    kept = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        stop = min(end, entity["offset"] + entity["length"] - lead)
        if stop > start:
            kept.append({**entity, "offset": start, "length": stop - start})
    return text, kept


def _reply_markup(value: Any, *, inline_only: bool) -> dict[str, Any] | None:
    """The inline keyboard a message will carry, after Telegram's checks of reply_markup.

    Reply keyboards, ReplyKeyboardRemove and ForceReply are accepted on sends but are not part of
    the Message Telegram returns, so they give None.
    """
    if value is None:
        return None
    if not isinstance(value, dict) or not REPLY_MARKUP_KINDS & value.keys():
        raise _Refused(400, MARKUP_UNPARSABLE)
    if "inline_keyboard" not in value:
        if inline_only:
            raise _Refused(400, INLINE_KEYBOARD_EXPECTED)
        return None
    rows = value["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _Refused(400, INLINE_ROWS_INVALID)
    for row in rows:
        for button in row:
            _check_button(button)
    return copy.deepcopy(value) if any(rows) else None


def _check_button(button: Any) -> None:
    """Refuse an inline keyboard button the way Telegram does."""
    if not isinstance(button, dict):
        raise _Refused(400, BUTTON_UNPARSABLE + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise _Refused(400, BUTTON_UNPARSABLE + 'Field "text" must be of type String')
    if not BUTTON_ACTIONS & button.keys():
        raise _Refused(400, BUTTON_UNPARSABLE + "Text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
        raise _Refused(400, BUTTON_DATA_INVALID)


def _callback_data(message: dict[str, Any]) -> list[str]:
    """The callback_data of every button on a message's inline keyboard."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [
        str(button["callback_data"]) for row in rows for button in row if "callback_data" in button
    ]


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an uploaded photo, refused as Telegram refuses what is no photo."""
    if not data:
        raise _Refused(400, EMPTY_FILE)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError):
        raise _Refused(400, IMAGE_INVALID) from None
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise _Refused(400, PHOTO_DIMENSIONS)
    return width, height


def _file_id(prefix: str) -> str:
    """A file identifier shaped like Telegram's: a type prefix and base64url noise."""
    return prefix + secrets.token_urlsafe(45)


def _chat_instance(chat_id: int) -> str:
    """A stable stand-in for Telegram's opaque chat_instance of a chat."""
    return str((chat_id * 2654435761) % 10**19 - 5 * 10**18)


class FakeTelegram(LoopbackServer):
    """A running fake of the Telegram Bot API, and everything it was asked to do."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = DEFAULT_BOT_USERNAME,
        enforce_rate_limits: bool = False,
        messages_per_second: float = 30.0,
        chat_messages_per_second: float = 1.0,
        chat_burst: int = 3,
        port: int = 0,
    ):
        if not TOKEN_PATTERN.fullmatch(token):
            raise ValueError(f"{token!r} is not shaped like a bot token (<bot id>:<secret>)")
        super().__init__(port)
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.enforce_rate_limits = enforce_rate_limits
        self.chat_messages_per_second = chat_messages_per_second
        self.chat_burst = chat_burst
        self.requests: list[Recorded] = []
        self.answered_callbacks: list[dict[str, Any]] = []
        self._changed = threading.Condition(self._lock)
        self._users: dict[int, dict[str, Any]] = {}
        self._groups: dict[int, dict[str, Any]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._last_message_id: dict[int, int] = {}
        self._sent_count = 0
        self._photos: dict[str, list[dict[str, Any]]] = {}
        self._open_queries: set[str] = set()
        self._blocked: set[int] = set()
        self._migrated: dict[int, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_id = 583920000
        self._confirmed = 0
        self._allowed_updates: list[str] = []
        self._webhook: dict[str, Any] | None = None
        self._polls = 0
        self._waiting_polls = 0
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._overall = _Bucket(messages_per_second, messages_per_second)
        self._per_chat: dict[int, _Bucket] = {}
        self._failures: list[_Injected] = []
        self._delays: list[_Injected] = []
        methods: list[tuple[str, Callable[[_Call], Any]]] = [
            ("getMe", self._get_me),
            ("sendMessage", self._send_message),
            ("sendPhoto", self._send_photo),
            ("answerCallbackQuery", self._answer_callback_query),
            ("editMessageText", self._edit_message_text),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("getUpdates", self._get_updates),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
        ]
        # The Bot API looks methods up by their lower-cased name.
        self._methods = {name.lower(): (name, route) for name, route in methods}

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving, end waiting long polls and delays, and close kept-alive connections."""
        self._stopping.set()
        with self._lock:
            self._changed.notify_all()
        super().stop()

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot as a Telegram User object, as it appears in `from` of its messages."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Lampang Survey",
            "username": self.bot_username,
        }

    # -- what tests read -------------------------------------------------------------------

    def calls(self, method: str) -> list[Recorded]:
        """Every recorded request to `method` (any case), answered or refused."""
        with self._lock:
            return [r for r in self.requests if r.method.lower() == method.lower()]

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages the bot sent to a chat, oldest first, as they are now after edits."""
        with self._lock:
            return [
                copy.deepcopy(message)
                for (chat, _), message in self._messages.items()
                if chat == chat_id and message["from"]["id"] == self.bot_id
            ]

    def max_per_window(self, seconds: float, chat_id: int | None = None) -> int:
        """The most sendMessage/sendPhoto requests that arrived within any `seconds` window.

        Counts every attempt, refused or not, overall or to one chat, by arrival time.
        """
        with self._lock:
            arrivals = [
                r.received_at
                for r in self.requests
                if r.method in SEND_METHODS and chat_id in (None, r.params.get("chat_id"))
            ]
        return max_in_window(arrivals, seconds)

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._lock:
            return copy.deepcopy(self._updates)

    @property
    def webhook(self) -> dict[str, Any] | None:
        """The webhook set by the bot (url, secret_token, max_connections), or None."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    def commands(
        self, language_code: str = "", scope: dict[str, Any] | None = None
    ) -> list[dict[str, str]]:
        """The commands the bot set for a scope (default scope when None) and language."""
        with self._lock:
            return copy.deepcopy(self._commands.get((_scope_key(scope), language_code), []))

    def wait_for_sent(self, count: int, timeout: float = 10) -> None:
        """Block until the bot has sent at least `count` messages in total, or fail."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._sent_count >= count, timeout):
                raise AssertionError(
                    f"expected {count} sent messages within {timeout} s, got {self._sent_count}"
                )

    def wait_for_poll(self, timeout: float = 10) -> None:
        """Block until a getUpdates long poll is waiting, or fail."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._waiting_polls > 0, timeout):
                raise AssertionError(f"no getUpdates long poll started within {timeout} s")

    # -- what tests arrange: users and updates ---------------------------------------------

    def set_user(
        self,
        user_id: int,
        first_name: str = "Somchai",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "th",
    ) -> dict[str, Any]:
        """Describe the Telegram user behind a user id; updates and private chats use it."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "language_code": language_code}
        user.update({key: value for key, value in optional.items() if value is not None})
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def text_update(self, chat_id: int, text: str) -> dict[str, Any]:
        """A private text message from the user `chat_id`; a leading /command gets its entity."""
        with self._lock:
            chat = self._private_chat(chat_id)
            message = self._new_message(chat, self._user(chat_id), _text_content(text))
            return self._update("message", message)

    def start_update(self, chat_id: int, payload: str | None = None) -> dict[str, Any]:
        """The "/start" (or deep-link "/start payload") message a user sends to begin."""
        if payload is not None and not START_PAYLOAD.fullmatch(payload):
            raise ValueError("a deep-link payload is 1-64 characters of A-Z a-z 0-9 _ -")
        return self.text_update(chat_id, "/start" if payload is None else f"/start {payload}")

    def callback_update(
        self, chat_id: int, data: str, message_id: int | None = None, user_id: int | None = None
    ) -> dict[str, Any]:
        """A press on an inline button with `data` that the bot sent to the chat.

        Takes the newest bot message carrying such a button unless message_id names one, and
        issues a callback query id that answerCallbackQuery will accept once.
        """
        with self._lock:
            message = self._pressable(chat_id, data, message_id)
            query_id = str(secrets.randbits(63))
            self._open_queries.add(query_id)
            query = {
                "id": query_id,
                "from": self._user(chat_id if user_id is None else user_id),
                "message": message,
                "chat_instance": _chat_instance(chat_id),
                "data": data,
            }
            return self._update("callback_query", query)

    def photo_update(
        self, chat_id: int, caption: str | None = None, width: int = 1280, height: int = 960
    ) -> dict[str, Any]:
        """A private photo message, in the sizes Telegram makes of it; the bot may resend them."""
        with self._lock:
            content: dict[str, Any] = {
                "photo": self._store_photo(width, height, width * height // 8)
            }
            if caption:
                content["caption"] = caption
            message = self._new_message(self._private_chat(chat_id), self._user(chat_id), content)
            return self._update("message", message)

    def sticker_update(self, chat_id: int, emoji: str = "👍") -> dict[str, Any]:
        """A private sticker message."""
        sticker = {
            "file_id": _file_id("CAACAgIAAxkBAAI"),
            "file_unique_id": _file_id("AgAD")[:16],
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "HotCherry",
            "file_size": 28340,
        }
        with self._lock:
            message = self._new_message(
                self._private_chat(chat_id), self._user(chat_id), {"sticker": sticker}
            )
            return self._update("message", message)

    def edited_message_update(
        self, chat_id: int, text: str, message_id: int | None = None
    ) -> dict[str, Any]:
        """The user's edit of a text message they sent (their newest unless message_id says)."""
        with self._lock:
            mine = [
                message
                for (chat, number), message in self._messages.items()
                if chat == chat_id
                and message["from"]["id"] == chat_id
                and "text" in message
                and message_id in (None, number)
            ]
            if not mine:
                raise ValueError(f"user {chat_id} sent no such text message to edit")
            message = mine[-1]
            message.pop("entities", None)
            message.update(_text_content(text), edit_date=int(time.time()))
            return self._update("edited_message", copy.deepcopy(message))

    def my_chat_member_update(self, chat_id: int, status: str) -> dict[str, Any]:
        """The user blocking ("kicked") or unblocking ("member") the bot; sends follow suit."""
        if status not in ("kicked", "member"):
            raise ValueError('a private chat member status is "kicked" or "member"')
        with self._lock:
            if status == "kicked":
                self._blocked.add(chat_id)
            else:
                self._blocked.discard(chat_id)
            old = "member" if status == "kicked" else "kicked"
            change = {
                "chat": self._private_chat(chat_id),
                "from": self._user(chat_id),
                "date": int(time.time()),
                "old_chat_member": self._bot_member(old),
                "new_chat_member": self._bot_member(status),
            }
            return self._update("my_chat_member", change)

    def group_message_update(
        self, chat_id: int, user_id: int, text: str, title: str = "Lampang volunteers"
    ) -> dict[str, Any]:
        """A text message from `user_id` in a group (or, for -100... ids, a supergroup)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        with self._lock:
            kind = "supergroup" if chat_id <= -(10**12) else "group"
            chat = self._groups.setdefault(chat_id, {"id": chat_id, "title": title, "type": kind})
            message = self._new_message(
                copy.deepcopy(chat), self._user(user_id), _text_content(text)
            )
            return self._update("message", message)

    def queue_update(self, update: dict[str, Any]) -> bool:
        """Queue an update for getUpdates, waking a waiting long poll.

        Returns False, queueing nothing, for an update type the bot's allowed_updates leave out:
        Telegram never creates those.
        """
        kind = next(key for key in update if key != "update_id")
        with self._lock:
            if not self._allows(kind):
                return False
            if update["update_id"] < self._confirmed:
                raise ValueError(f"update {update['update_id']} is older than a confirmed offset")
            bisect.insort(self._updates, copy.deepcopy(update), key=lambda u: u["update_id"])
            self._changed.notify_all()
        return True

    # -- what tests arrange: failures ------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int = 1,
        description: str | None = None,
        count: int = 1,
        chat_id: int | None = None,
        after: int = 0,
    ) -> None:
        """Refuse the next `count` calls of `method` (to `chat_id`, if given) with `status`,
        once `after` such calls have gone through.

        A refused call has no effect. A 429 carries retry_after; without a description, 403 says
        the bot was blocked and other statuses use Telegram's plain wording.
        """
        if description is None:
            description = (
                too_many_requests(retry_after)
                if status == 429
                else INJECTED_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
            )
        injected = _Injected(
            method.lower(), count, chat_id, status, description, retry_after, after=after
        )
        with self._lock:
            self._failures.append(injected)

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """Hold the answer to the next `count` calls of `method` for `seconds` after handling.

        The call still takes effect, as with Telegram when an answer is lost on the way back.
        """
        with self._lock:
            self._delays.append(_Injected(method.lower(), count, seconds=seconds))

    def upgrade_group(self, chat_id: int) -> int:
        """Make a group a supergroup, as Telegram does when it grows: the old id is refused with
        the new one in migrate_to_chat_id. Returns the new id."""
        new_id = -(10**12) + chat_id
        with self._lock:
            self._migrated[chat_id] = new_id
            group = self._groups.pop(chat_id, {"title": "Lampang volunteers"})
            self._groups[new_id] = {**group, "id": new_id, "type": "supergroup"}
        return new_id

    def block(self, chat_id: int) -> None:
        """Make every send to the chat answer 403 "bot was blocked by the user" until unblock."""
        with self._lock:
            self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Let sends to the chat through again."""
        with self._lock:
            self._blocked.discard(chat_id)

    # -- state helpers (callers hold the lock) ---------------------------------------------

    def _user(self, user_id: int) -> dict[str, Any]:
        user = self._users.setdefault(
            user_id,
            {"id": user_id, "is_bot": False, "first_name": "Somchai", "language_code": "th"},
        )
        return copy.deepcopy(user)

    def _private_chat(self, user_id: int) -> dict[str, Any]:
        user = self._user(user_id)
        chat = {
            key: user[key] for key in ("id", "first_name", "last_name", "username") if key in user
        }
        return {**chat, "type": "private"}

    def _bot_member(self, status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"status": status, "user": self.bot_user}
        if status == "kicked":
            member["until_date"] = 0  # banned forever, which is what blocking a bot is
        return member

    def _update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        self._update_id += 1
        return {"update_id": self._update_id, kind: payload}

    def _new_message(
        self, chat: dict[str, Any], sender: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a message; a chat numbers its messages 1, 2, ... whoever sends them."""
        message_id = self._last_message_id.get(chat["id"], 0) + 1
        self._last_message_id[chat["id"]] = message_id
        message = {
            "message_id": message_id,
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        self._messages[(chat["id"], message_id)] = message
        return copy.deepcopy(message)

    def _pressable(self, chat_id: int, data: str, message_id: int | None) -> dict[str, Any]:
        for (chat, number), message in reversed(self._messages.items()):
            if (
                chat == chat_id
                and message["from"]["id"] == self.bot_id
                and message_id in (None, number)
                and data in _callback_data(message)
            ):
                return copy.deepcopy(message)
        raise ValueError(f"no message the bot sent to chat {chat_id} has a button with {data!r}")

    def _store_photo(self, width: int, height: int, file_size: int) -> list[dict[str, Any]]:
        """The PhotoSize array Telegram keeps of a photo, each size's file_id resendable."""
        sizes = []
        for side in PHOTO_SIDES:
            scale = min(1.0, side / max(width, height))
            sizes.append(
                {
                    "file_id": _file_id("AgACAgUAAxkBAAI"),
                    "file_unique_id": _file_id("AQAD")[:16],
                    "file_size": max(1, round(file_size * scale * scale)),
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                }
            )
            if scale == 1.0:
                break
        for size in sizes:
            self._photos[size["file_id"]] = sizes
        return copy.deepcopy(sizes)

    def _allows(self, kind: str) -> bool:
        """Whether the bot's allowed_updates (or Telegram's default) include an update type."""
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in UPDATES_OFF_BY_DEFAULT

    def _remember_allowed_updates(self, params: dict[str, Any]) -> None:
        # Telegram keeps the last allowed_updates a bot gave, until it gives another.
        if "allowed_updates" in params:
            value = params["allowed_updates"]
            self._allowed_updates = [str(kind) for kind in value] if isinstance(value, list) else []

    def _drop_pending(self) -> None:
        if self._updates:
            self._confirmed = self._updates[-1]["update_id"] + 1
        self._updates.clear()

    # -- request handling ------------------------------------------------------------------

    def _take(
        self, queue: list[_Injected], method: str, params: dict[str, Any]
    ) -> _Injected | None:
        """Consume one use of the first queued injection that applies to this call."""
        for injected in queue:
            if injected.matches(method, params):
                if injected.after > 0:
                    injected.after -= 1
                    return None
                injected.remaining -= 1
                if injected.remaining == 0:
                    queue.remove(injected)
                return injected
        return None

    def _route(self, path: str) -> tuple[str, Callable[[_Call], Any]]:
        match = API_PATH.fullmatch(urllib.parse.unquote(path))
        if match is None or not TOKEN_PATTERN.fullmatch(match["token"]):
            raise _Refused(404, NOT_FOUND)
        if match["token"] != self.token:
            raise _Refused(401, UNAUTHORIZED)
        route = self._methods.get(match["method"].lower())
        if route is None:
            raise _Refused(404, NOT_FOUND)
        return route

    def handle(
        self, verb: str, target: str, headers: dict[str, str], body: bytes, received_at: float
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request (called by the HTTP handler thread) and record it."""
        path, _, query = target.partition("?")
        content_type = headers.get("content-type", "")
        method = path.rsplit("/", 1)[-1]
        params: dict[str, Any] = {}
        files: dict[str, Upload] = {}
        delay = None
        with self._lock:
            try:
                method, route = self._route(path)
                params, files = _parse_params(query, content_type, body)
                delay = self._take(self._delays, method, params)
                failure = self._take(self._failures, method, params)
                if failure is not None:
                    retry_after = failure.retry_after if failure.status == 429 else None
                    raise _Refused(failure.status, failure.description, retry_after)
                result = route(_Call(params, files, received_at))
                answer: dict[str, Any] = {"ok": True, "result": result}
                if isinstance(result, _Described):
                    answer = {
                        "ok": True,
                        "result": result.result,
                        "description": result.description,
                    }
                status = 200
            except _Refused as refused:
                status, answer = refused.error_code, refused.answer
            self.requests.append(Recorded(method, params, files, received_at, status, answer))
        if delay is not None:
            # Waiting on the stop event rather than sleeping lets stop() end a slow answer.
            self._stopping.wait(delay.seconds)
        return status, answer, {}

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        """The chat a send goes to: a group seen in an update, or any user's private chat."""
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _Refused(400, CHAT_ID_EMPTY)
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            raise _Refused(400, CHAT_NOT_FOUND)
        if chat_id in self._migrated:
            raise _Refused(400, GROUP_UPGRADED, migrate_to_chat_id=self._migrated[chat_id])
        if chat_id in self._groups:
            return copy.deepcopy(self._groups[chat_id])
        if chat_id > 0:
            return self._private_chat(chat_id)
        raise _Refused(400, CHAT_NOT_FOUND)

    def _admit_send(self, chat_id: int, received_at: float) -> None:
        """Refuse a send to a chat that blocked the bot, or one over the flood limits."""
        if chat_id in self._blocked:
            raise _Refused(403, BLOCKED)
        if not self.enforce_rate_limits:
            return
        chat_bucket = self._per_chat.setdefault(
            chat_id, _Bucket(self.chat_messages_per_second, self.chat_burst)
        )
        wait = max(self._overall.wait(received_at), chat_bucket.wait(received_at))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise _Refused(429, too_many_requests(retry_after), retry_after)
        self._overall.tokens -= 1
        chat_bucket.tokens -= 1

    def _formatted(self, params: dict[str, Any], name: str, entities_name: str) -> tuple[str, list]:
        """A text or caption and its entities, as Telegram stores them."""
        raw = params.get(name)
        text = "" if raw is None else str(raw)
        mode = str(params.get("parse_mode") or "").lower()
        if mode == "html":
            text, entities = _Html(text).parse()
        elif mode in ("", "markdown", "markdownv2"):
            given = params.get(entities_name)
            entities = [e for e in given if isinstance(e, dict)] if isinstance(given, list) else []
        else:
            raise _Refused(400, UNSUPPORTED_PARSE_MODE)
        return _trimmed(text, entities)

    def _message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        """The text part of a message to send or edit, checked against Telegram's limits."""
        text, entities = self._formatted(params, "text", "entities")
        if not text:
            raise _Refused(400, TEXT_EMPTY)
        if _utf16_length(text) > MAX_TEXT_LENGTH:
            raise _Refused(400, TEXT_TOO_LONG)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        if isinstance(params.get("link_preview_options"), dict):
            content["link_preview_options"] = params["link_preview_options"]
        return content

    def _deliver(self, chat: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        message = self._new_message(chat, self.bot_user, content)
        self._sent_count += 1
        self._changed.notify_all()
        return message

    def _photo(self, value: Any, files: dict[str, Upload]) -> list[dict[str, Any]]:
        """The PhotoSize array of an uploaded photo, a known file_id or an HTTP URL."""
        name = value.removeprefix("attach://") if isinstance(value, str) else "photo"
        upload = files.get(name) or files.get("photo")
        if upload is not None:
            return self._store_photo(*_image_size(upload.data), len(upload.data))
        if not value:
            raise _Refused(400, NO_PHOTO)
        if not isinstance(value, str):
            raise _Refused(400, WRONG_FILE)
        if value in self._photos:
            return copy.deepcopy(self._photos[value])
        if re.match(r"https?://", value):
            # The fake does not fetch URLs; it takes the picture to be an ordinary 800x600 photo.
            return self._store_photo(800, 600, 60_000)
        raise _Refused(400, WRONG_FILE)

    def _editable(self, params: dict[str, Any]) -> dict[str, Any]:
        """The stored message an edit targets, which must be one the bot sent."""
        message = self._messages.get((params.get("chat_id"), params.get("message_id")))
        if message is None:
            raise _Refused(400, EDIT_NOT_FOUND)
        if message["from"]["id"] != self.bot_id:
            raise _Refused(400, EDIT_FORBIDDEN)
        return message

    # -- Bot API methods -------------------------------------------------------------------

    def _get_me(self, call: _Call) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
            "has_topics_enabled": False,
        }

    def _send_message(self, call: _Call) -> dict[str, Any]:
        content = self._message_text(call.params)
        markup = _reply_markup(call.params.get("reply_markup"), inline_only=False)
        chat = self._chat(call.params)
        self._admit_send(chat["id"], call.received_at)
        if markup:
            content["reply_markup"] = markup
        return self._deliver(chat, content)

    def _send_photo(self, call: _Call) -> dict[str, Any]:
        params = call.params
        content: dict[str, Any] = {"photo": self._photo(params.get("photo"), call.files)}
        caption, entities = self._formatted(params, "caption", "caption_entities")
        if _utf16_length(caption) > MAX_CAPTION_LENGTH:
            raise _Refused(400, CAPTION_TOO_LONG)
        markup = _reply_markup(params.get("reply_markup"), inline_only=False)
        chat = self._chat(params)
        self._admit_send(chat["id"], call.received_at)
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        if params.get("show_caption_above_media"):
            content["show_caption_above_media"] = True
        if params.get("has_spoiler"):
            content["has_media_spoiler"] = True
        if markup:
            content["reply_markup"] = markup
        return self._deliver(chat, content)

    def _answer_callback_query(self, call: _Call) -> bool:
        query_id = str(call.params.get("callback_query_id") or "")
        if query_id not in self._open_queries:
            raise _Refused(400, QUERY_INVALID)
        self._open_queries.discard(query_id)
        self.answered_callbacks.append(dict(call.params))
        return True

    def _edit_message_text(self, call: _Call) -> dict[str, Any]:
        content = self._message_text(call.params)
        markup = _reply_markup(call.params.get("reply_markup"), inline_only=True)
        message = self._editable(call.params)
        if "text" not in message:
            raise _Refused(400, EDIT_NO_TEXT)
        before = (message["text"], message.get("entities"), message.get("reply_markup"))
        if before == (content["text"], content.get("entities"), markup):
            raise _Refused(400, NOT_MODIFIED)
        # An edit without reply_markup removes the keyboard, as on Telegram.
        for key in ("entities", "link_preview_options", "reply_markup"):
            message.pop(key, None)
        message.update(content, edit_date=int(time.time()))
        if markup:
            message["reply_markup"] = markup
        return copy.deepcopy(message)

    def _edit_message_reply_markup(self, call: _Call) -> dict[str, Any]:
        markup = _reply_markup(call.params.get("reply_markup"), inline_only=True)
        message = self._editable(call.params)
        if message.get("reply_markup") == markup:
            raise _Refused(400, NOT_MODIFIED)
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _set_webhook(self, call: _Call) -> _Described:
        params = call.params
        url = str(params.get("url") or "")
        if not url:
            # An empty URL is how a bot removes its webhook, as deleteWebhook does.
            return self._delete_webhook(call)
        _check_webhook_url(url)
        secret = str(params.get("secret_token") or "")
        if len(secret) > 256:
            raise _Refused(400, SECRET_TOO_LONG)
        if not SECRET_TOKEN.fullmatch(secret):
            raise _Refused(400, SECRET_INVALID)
        self._remember_allowed_updates(params)
        if params.get("drop_pending_updates"):
            self._drop_pending()
        webhook = {
            "url": url,
            "secret_token": secret or None,
            "max_connections": _integer(params, "max_connections", 40, 1, 100),
        }
        already = webhook == self._webhook
        self._webhook = webhook
        self._changed.notify_all()
        return _Described(True, "Webhook is already set" if already else "Webhook was set")

    def _delete_webhook(self, call: _Call) -> _Described:
        if call.params.get("drop_pending_updates"):
            self._drop_pending()
        existed = self._webhook is not None
        self._webhook = None
        return _Described(True, "Webhook was deleted" if existed else "Webhook is already deleted")

    def _get_webhook_info(self, call: _Call) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
        return info

    def _get_updates(self, call: _Call) -> list[dict[str, Any]]:
        if self._webhook:
            raise _Refused(409, WEBHOOK_ACTIVE)
        params = call.params
        offset = _integer(params, "offset", 0, -(2**31), 2**31 - 1)
        limit = _integer(params, "limit", 100, 1, 100)
        timeout = _integer(params, "timeout", 0, 0, LONG_POLL_MAX_TIMEOUT)
        self._remember_allowed_updates(params)
        self._confirm(offset)
        self._polls += 1
        poll = self._polls
        # Wakes an older poll so that it ends with a conflict, and wakes wait_for_poll.
        self._waiting_polls += 1
        self._changed.notify_all()
        try:
            deadline = time.monotonic() + timeout
            while not self._updates and not self._stopping.is_set():
                if poll != self._polls:
                    raise _Refused(409, POLL_TERMINATED)
                if self._webhook:
                    raise _Refused(409, WEBHOOK_ACTIVE)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
        finally:
            self._waiting_polls -= 1
        return copy.deepcopy(self._updates[:limit])

    def _confirm(self, offset: int) -> None:
        """Forget updates below a positive offset; a negative one keeps only the last -offset."""
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._confirmed = max(self._confirmed, offset)
        elif offset < 0 and len(self._updates) > -offset:
            self._confirmed = self._updates[offset]["update_id"]
            del self._updates[:offset]

    def _set_my_commands(self, call: _Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise _Refused(400, COMMAND_INVALID)
        for command in commands:
            if not isinstance(command, dict) or not COMMAND.fullmatch(str(command.get("command"))):
                raise _Refused(400, COMMAND_INVALID)
            if not 1 <= len(str(command.get("description") or "")) <= MAX_COMMAND_DESCRIPTION:
                raise _Refused(400, COMMAND_DESCRIPTION_INVALID)
        key = (_scope_key(call.params.get("scope")), str(call.params.get("language_code") or ""))
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, call: _Call) -> list[dict[str, str]]:
        key = (_scope_key(call.params.get("scope")), str(call.params.get("language_code") or ""))
        return copy.deepcopy(self._commands.get(key, []))

    def _delete_my_commands(self, call: _Call) -> bool:
        key = (_scope_key(call.params.get("scope")), str(call.params.get("language_code") or ""))
        self._commands.pop(key, None)
        return True


def _text_content(text: str) -> dict[str, Any]:
    """A user's text message content: Telegram marks a leading /command as a bot_command."""
    content: dict[str, Any] = {"text": text}
    command = LEADING_COMMAND.match(text)
    if command:
        length = _utf16_length(command.group(0))
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return content


def _scope_key(scope: Any) -> str:
    """Commands are kept per scope; no scope is the default scope."""
    return json.dumps(scope if isinstance(scope, dict) else {"type": "default"}, sort_keys=True)


def _check_webhook_url(url: str) -> None:
    """Refuse a webhook URL Telegram would refuse; one without a scheme is taken as https."""
    parts = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
    try:
        port = parts.port
    except ValueError:
        raise _Refused(400, WEBHOOK_URL_INVALID) from None
    if not parts.hostname:
        raise _Refused(400, WEBHOOK_URL_INVALID)
    if parts.scheme != "https":
        raise _Refused(400, WEBHOOK_NOT_HTTPS)
    if (port or 443) not in WEBHOOK_PORTS:
        raise _Refused(400, WEBHOOK_PORT)


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A running fake Telegram Bot API, stopped after the test."""
    with FakeTelegram() as fake:
        yield fake
