"""The one-shot local server that receives Kakao's redirect, so nobody pastes a code.

It listens on 127.0.0.1 at the redirect URI's port (the URI registered in the Kakao console,
``http://localhost:8765/callback`` by default), answers the browser with a short page, and
returns the redirected URL. It serves one login only and always stops, after the redirect or at
its deadline, whatever else reaches the port:

- each connection is served by a thread of its own with a socket timeout, so an idle connection
  (a browser's preconnect, a port scanner) stalls nothing;
- a request that is not Kakao's redirect (``/favicon.ico``, a bare ``/callback``, or one whose
  ``state`` is not this login's: any web page can make the browser send one) is answered with an
  error page and the login keeps waiting for the real redirect;
- Kakao's own error redirect (``access_denied``) ends the login; Kakao may omit ``state`` on an
  error, so one without ``state`` is taken, one with another login's ``state`` is not;
- for a ``localhost`` redirect URI it listens on ``::1`` too: browsers try IPv6 first for
  ``localhost``, and another program listening there would receive the redirect (RFC 8252,
  8.3). A port taken on either address is refused before the browser opens.
"""

from __future__ import annotations

import errno
import html
import http.server
import selectors
import socket
import socketserver
import threading
import time
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigurationError, KakaoAuthError
from ..oauth import parse_redirect

# Seconds one connection may sit idle before its thread drops it.
CONNECTION_TIMEOUT = 10.0

__all__ = ["CallbackServer", "is_local_redirect"]

_PAGE = """<!doctype html><meta charset="utf-8"><title>kakao-auth</title>
<body style="font-family:sans-serif;margin:3em"><h2>{title}</h2><p>{text}</p></body>"""


def is_local_redirect(redirect_uri: str) -> bool:
    """Whether this machine can receive ``redirect_uri`` itself (http on localhost/127.0.0.1)."""
    parts = urlsplit(redirect_uri)
    return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1") and bool(parts.port)


class CallbackServer:
    """Receive one redirect to ``redirect_uri``; use as a context manager around the login."""

    def __init__(self, redirect_uri: str, expected_state: str) -> None:
        parts = urlsplit(redirect_uri)
        self.port = int(parts.port or 80)
        self.path = parts.path or "/"
        self.expected_state = expected_state
        self._result: Optional[str] = None
        self._error: Optional[KakaoAuthError] = None
        self._done = threading.Event()
        self._receiving = threading.Lock()
        self._servers = [self._bind(_Server)]
        if parts.hostname == "localhost":
            try:
                ipv6 = self._bind(_Server6)
            except _NoIPv6:
                pass  # no IPv6 here: no browser can reach ::1 either
            except BaseException:
                self.close()
                raise
            else:
                self._servers.append(ipv6)

    def _bind(self, kind: type[_Server]) -> _Server:
        try:
            server = kind((kind.loopback, self.port), _handler_for(self))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES, 10048, 10013):  # 100xx: Windows
                raise ConfigurationError(
                    f"port {self.port} is busy on {kind.loopback} (another program, or another "
                    "`kakao-auth login`, uses it): close that program, or register another port as "
                    "a Redirect URI and pass --redirect-uri http://localhost:PORT/callback"
                ) from None
            if kind is _Server6:
                raise _NoIPv6 from None
            raise ConfigurationError(f"cannot listen on 127.0.0.1:{self.port} ({e.strerror})") from None
        server.timeout = 0  # wait() waits on every server's socket at once
        return server

    def __enter__(self) -> CallbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening."""
        for server in self._servers:
            server.server_close()

    def wait(self, timeout: float, advice: str = "") -> str:
        """Serve until the redirect arrives; return its URL, or raise on error or timeout.

        The deadline always holds: requests are served by threads of their own.
        """
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as waiting:
            for server in self._servers:
                waiting.register(server, selectors.EVENT_READ)
            while not self._done.is_set():
                if time.monotonic() >= deadline:
                    raise KakaoAuthError(
                        f"no redirect from Kakao within {timeout:g}s: finish the login in the browser "
                        "sooner (--timeout), or use --no-browser to paste the redirected URL" + advice
                    )
                for ready, _ in waiting.select(0.2):
                    ready.fileobj.handle_request()  # type: ignore[union-attr]  # a _Server
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def _receive(self, path: str) -> tuple[int, str]:
        """Handle one request path; return the status and page to show the browser."""
        parts = urlsplit(path)
        if parts.path != self.path:
            return 404, _PAGE.format(title="Not found", text="This server only receives the Kakao login.")
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if "code" not in params and "error" not in params:
            return 400, _PAGE.format(title="Waiting", text="Still waiting for Kakao's redirect.")
        if not self._state_fits(params):
            text = "This redirect is not from this login (its state differs); still waiting for Kakao's."
            return 400, _PAGE.format(title="Not this login", text=text)
        return self._finish(f"http://127.0.0.1:{self.port}{path}")

    def _state_fits(self, params: dict[str, str]) -> bool:
        # Kakao may leave state out of an error redirect (../shared/KAKAO.md, "Login").
        state = params.get("state")
        if "code" in params:
            return state == self.expected_state
        return state is None or state == self.expected_state

    def _finish(self, url: str) -> tuple[int, str]:
        with self._receiving:
            if self._done.is_set():
                return 409, _PAGE.format(title="Done", text="This login has already finished.")
            try:
                parse_redirect(url, self.expected_state)
            except KakaoAuthError as e:
                self._error = e
                self._done.set()
                return 400, _PAGE.format(title="Login failed", text=html.escape(str(e)))
            self._result = url
            self._done.set()
        text = "You can close this window and return to the terminal."
        return 200, _PAGE.format(title="Kakao login complete", text=text)


class _Server(http.server.ThreadingHTTPServer):
    loopback = "127.0.0.1"
    daemon_threads = True
    block_on_close = False  # an idle connection's thread must not hold up the login's end

    def server_bind(self) -> None:
        # Not HTTPServer's: its socket.getfqdn() asks DNS for the loopback address's name, and a
        # resolver that does not answer held the login for as long as it retries.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


class _Server6(_Server):
    loopback = "::1"
    address_family = socket.AF_INET6


class _NoIPv6(Exception):
    pass


def _handler_for(owner: CallbackServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = CONNECTION_TIMEOUT

        def do_GET(self) -> None:
            status, page = owner._receive(self.path)
            body = page.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: the request line carries the authorization code."""

    return Handler
