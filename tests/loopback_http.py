"""A real HTTP server on 127.0.0.1 for the fakes of outside APIs that tests run against.

`LoopbackServer` owns the plumbing the fakes share: a free port, a daemon serving thread, HTTP/1.1
keep-alive connections that stop() closes, and JSON answers. A fake subclasses it and implements
`handle()`, which turns one request into a status, a JSON body and extra response headers.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class LoopbackServer(ABC):
    """An HTTP server on a free port of 127.0.0.1 that answers through `handle()`."""

    # The HTTP methods the server answers; any other one gets 501 Not Implemented.
    http_methods: ClassVar[tuple[str, ...]] = ("GET", "POST")

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        # port 0: a free one, as tests want; a benchmark names the port its processes are told
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        # A short poll interval keeps stop() quick: shutdown() waits for the next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @abstractmethod
    def handle(
        self, verb: str, target: str, headers: dict[str, str], body: bytes, received_at: float
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request (called by a handler thread): status, JSON body, extra headers.

        `verb` is the HTTP method, `target` the path with its query string; header names are
        lower-cased and `received_at` is time.monotonic() once the request's headers were read.
        """

    @property
    def url(self) -> str:
        """The server's root URL, such as http://127.0.0.1:43117."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        """Serve in a daemon thread; returns self so `Fake().start()` reads naturally."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake answers waiting on the stop event and close kept-alive connections."""
        self._stopping.set()
        if self._thread.is_alive():
            # shutdown() waits for serve_forever to end, so it would hang on a fake never started.
            self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            # Handler threads of kept-alive connections block on reading; shutting the socket
            # down ends them instead of leaving one idle thread per connection behind.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        """Start serving for the length of a with block."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop serving at the end of the with block."""
        self.stop()


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one LoopbackServer."""

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps connections alive, as the real APIs do, so the client's pool is used.
        protocol_version = "HTTP/1.1"
        # Headers and body go out as separate writes; with Nagle's algorithm on, the second
        # waits for the client's delayed ACK and every answer takes an extra 40 ms.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            """Track the connection so stop() can close it."""
            super().setup()
            with server._lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            """Forget the connection and flush what is left, if the client still listens."""
            with server._lock:
                server._connections.discard(self.connection)
            # A client that already hung up leaves nothing to flush.
            with contextlib.suppress(OSError):
                super().finish()

        def _answer(self) -> None:
            # Taken before reading the body, so an upload's length does not shift the arrival.
            received_at = time.monotonic()
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer, extra_headers = server.handle(
                self.command, self.path, headers, body, received_at
            )
            payload = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for name, value in extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                # A client that timed out closed the socket before a delayed answer was sent.
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: tests read the fake's requests instead of a log."""

    for verb in server.http_methods:
        setattr(Handler, f"do_{verb}", Handler._answer)
    return Handler
