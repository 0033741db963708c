"""Sending to LINE through line-bot-sdk v3, with every answer mapped to what the caller should do.

Callers hand over messages as LINE wire-format dicts (camelCase) and get a `Result` back; HTTP and
network errors never raise (only the rich-menu setup raises, as LineApiError). The outcomes follow
LINE's "Retry failed API requests" guide: retry 5xx, timeouts and connection errors with the same
`X-Line-Retry-Key`; treat 409 on a retried push or multicast as already sent; never retry other
4xx.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PushMessageRequest,
    QuotaType,
    ReplyMessageRequest,
    RichMenuRequest,
)

from bot.rate import Rate

LINE_API = "https://api.line.me"
#: Pushed and multicast messages a second (one per recipient), unless LINE_MESSAGES_PER_SECOND
#: says otherwise: well inside LINE's own limits (2,000 pushes and 200 multicasts of up to 500 a
#: second), and lowered for an Official Account that LINE throttles more.
MESSAGES_PER_SECOND = 1000.0
LINE_DATA_API = "https://api-data.line.me"


class Outcome(StrEnum):
    """What became of a send, and so what the outbox does next."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    TOKEN_INVALID = "token_invalid"


@dataclass(frozen=True)
class Result:
    """The outcome of one call; `detail` holds the status and LINE's message for last_error."""

    outcome: Outcome
    detail: str = ""
    retry_after: float | None = None
    #: False when LINE surely did nothing: it answered 429, or no connection was made at all.
    reached: bool = True
    #: LINE's HTTP status for a refusal (0: it was sent, or no answer came).
    status: int = 0


#: Network errors that mean no connection was made: the request cannot have reached LINE.
NOT_CONNECTED = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    ConnectionRefusedError,
)


class LineApiError(RuntimeError):
    """Raised by the setup calls (rich menus), which have no outbox to report a Result to."""

    def __init__(self, result: Result):
        super().__init__(result.detail)
        self.result = result


def data_host_for(base_url: str) -> str:
    """The host for uploads and downloads: LINE's data host in production, else the same base."""
    base = base_url.rstrip("/")
    return LINE_DATA_API if base == LINE_API else base


def _error_detail(error: ApiException) -> str:
    """The status and LINE's message, with the per-field details LINE adds to a 400."""
    try:
        body = json.loads(error.body or "")
    except ValueError:
        body = None
    if not isinstance(body, dict) or "message" not in body:
        return f"{error.status} {error.reason or ''}".strip()
    detail = f"{error.status} {body['message']}"
    fields = [
        f"{item.get('property', '?')}: {item.get('message', '')}"
        for item in body.get("details") or []
        if isinstance(item, dict)
    ]
    return f"{detail}: {'; '.join(fields)}" if fields else detail


def _retry_after(error: ApiException) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), if there is one."""
    value = (error.headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except ValueError:
            return None
    return max(0.0, seconds)


def _classify(error: ApiException, *, reply: bool = False, retry_key: bool = False) -> Result:
    """Map an error answer from LINE to an outcome."""
    detail = _error_detail(error)
    status = error.status or 0
    if status == 409 and retry_key:
        # LINE already accepted a request with this retry key: the message went out then.
        return Result(Outcome.SENT, detail)
    if status in (0, 429) or status >= 500:
        # Status 0 is the SDK's way of reporting an SSL failure: a network problem too. A 429
        # is refused before anything is done, unlike a 5xx, which may come after the sending.
        wait = _retry_after(error)
        return Result(Outcome.RETRY, detail, wait, reached=status != 429, status=status)
    if reply and status == 400 and "invalid reply token" in detail.lower():
        return Result(Outcome.TOKEN_INVALID, detail, status=status)
    return Result(Outcome.FAILED, detail, status=status)


class LineSender:
    """Sends replies, pushes and multicasts, and sets up rich menus, through the official SDK."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        timeout: float = 5.0,
        per_second: float = MESSAGES_PER_SECOND,
    ):
        self.timeout = timeout
        #: The pace of pushed and multicast messages (one per recipient), for every thread.
        self.rate = Rate(per_second)
        # The SDK sends every call to Configuration.host when one is set, including the
        # uploads it would otherwise send to api-data.line.me, so each host gets its own client.
        # Both are made once and shared by every thread: they hold no per-request state we read
        # (urllib3's pool manager is thread-safe), and reuse keeps connections alive.
        self._api_client = self._client(base_url.rstrip("/"), access_token)
        self._data_client = self._client(data_host_for(base_url), access_token)
        self._api = MessagingApi(self._api_client)
        self._blob = MessagingApiBlob(self._data_client)

    @staticmethod
    def _client(host: str, access_token: str) -> ApiClient:
        configuration = Configuration(host=host, access_token=access_token)
        # No hidden retries in urllib3: the outbox owns retrying, and a silent reconnect loop
        # would stretch one call well past its timeout.
        configuration.retries = False
        return ApiClient(configuration)

    def close(self) -> None:
        """Release the connection pools (optional; they also go with the object)."""
        for client in (self._api_client, self._data_client):
            client.rest_client.pool_manager.clear()
            client.close()

    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> Result:
        """Answer a webhook event; a used or expired token gives TOKEN_INVALID."""
        try:
            request = ReplyMessageRequest.from_dict(
                {"replyToken": reply_token, "messages": messages}
            )
        except (KeyError, TypeError, ValueError) as error:
            return _invalid(error)
        return self._send(
            lambda: self._api.reply_message(request, _request_timeout=self.timeout), reply=True
        )

    def push(self, to: str, messages: list[dict[str, Any]], retry_key: str) -> Result:
        """Push to one user; retry with the same key, and LINE delivers at most once."""
        try:
            request = PushMessageRequest.from_dict({"to": to, "messages": messages})
        except (KeyError, TypeError, ValueError) as error:
            return _invalid(error)
        return self._send(
            lambda: self._api.push_message(
                request, x_line_retry_key=retry_key, _request_timeout=self.timeout
            ),
            retry_key=True,
        )

    def multicast(self, to: list[str], messages: list[dict[str, Any]], retry_key: str) -> Result:
        """Send the same messages to several users; retry with the same key as for push."""
        try:
            request = MulticastRequest.from_dict({"to": to, "messages": messages})
        except (KeyError, TypeError, ValueError) as error:
            return _invalid(error)
        return self._send(
            lambda: self._api.multicast(
                request, x_line_retry_key=retry_key, _request_timeout=self.timeout
            ),
            retry_key=True,
        )

    def quota(self) -> tuple[int | None, int]:
        """This month's target limit of pushed and multicast messages (None: no limit) and how
        many are used; LineApiError when LINE cannot say."""
        limit = self._checked(lambda: self._api.get_message_quota(_request_timeout=self.timeout))
        used = self._checked(
            lambda: self._api.get_message_quota_consumption(_request_timeout=self.timeout)
        )
        return (limit.value if limit.type == QuotaType.LIMITED else None), used.total_usage

    def create_rich_menu(self, menu: dict[str, Any], image_png: bytes) -> str:
        """Create a rich menu, upload its PNG and make it every user's default; returns its id."""
        request = RichMenuRequest.from_dict(menu)
        menu_id = self._checked(
            lambda: self._api.create_rich_menu(request, _request_timeout=self.timeout)
        ).rich_menu_id
        try:
            self._checked(
                lambda: self._blob.set_rich_menu_image(
                    menu_id,
                    # The SDK sends only `bytes` as a raw body; it refuses a bytearray.
                    bytes(image_png),
                    _headers={"Content-Type": "image/png"},
                    _request_timeout=self.timeout,
                )
            )
            self._checked(
                lambda: self._api.set_default_rich_menu(menu_id, _request_timeout=self.timeout)
            )
        except LineApiError:
            # A menu without an image cannot be shown and counts against LINE's per-channel
            # limit, so do not leave it behind.
            self._send(lambda: self._api.delete_rich_menu(menu_id, _request_timeout=self.timeout))
            raise
        return menu_id

    def _attempt(
        self, call: Callable[[], Any], *, reply: bool = False, retry_key: bool = False
    ) -> tuple[Any, Result]:
        """Run one SDK call; return its answer and what happened, mapped to a Result."""
        try:
            answer = call()
        except ApiException as error:
            return None, _classify(error, reply=reply, retry_key=retry_key)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            # Timeouts and reset connections: LINE may or may not have the request. One never
            # connected (refused, or timed out connecting) surely did not reach it.
            reason = getattr(error, "reason", error)  # what a MaxRetryError wraps
            reached = not isinstance(reason, NOT_CONNECTED)
            detail = f"network: {type(error).__name__}: {error}"
            return None, Result(Outcome.RETRY, detail, reached=reached)
        return answer, Result(Outcome.SENT)

    def _send(
        self, call: Callable[[], Any], *, reply: bool = False, retry_key: bool = False
    ) -> Result:
        """Run one sending call and report only its Result."""
        return self._attempt(call, reply=reply, retry_key=retry_key)[1]

    def _checked(self, call: Callable[[], Any]) -> Any:
        """Run one setup call and return its answer, raising LineApiError on any failure."""
        answer, result = self._attempt(call)
        if result.outcome is not Outcome.SENT:
            raise LineApiError(result)
        return answer


def _invalid(error: Exception) -> Result:
    """Messages the SDK cannot even model would be refused by LINE too: fail without sending."""
    return Result(Outcome.FAILED, f"invalid message: {type(error).__name__}: {error}")
