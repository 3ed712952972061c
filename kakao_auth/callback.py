"""The one-shot local server that receives Kakao's redirect, so nobody pastes a code.

It listens on 127.0.0.1 at the redirect URI's port (the URI registered in the Kakao console,
``http://localhost:8765/callback`` by default), ignores stray requests such as ``/favicon.ico``,
answers the browser with a short page, and returns the redirected URL. It serves one login only
and always stops, after the redirect or at its deadline.
"""

from __future__ import annotations

import errno
import html
import http.server
import threading
import time
from typing import Any, Optional
from urllib.parse import urlsplit

from .errors import KakaoAuthError
from .login import parse_redirect

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
        self._server = self._bind()

    def _bind(self) -> http.server.HTTPServer:
        try:
            server = http.server.HTTPServer(("127.0.0.1", self.port), _handler_for(self))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES, 10048, 10013):  # 100xx: Windows
                raise KakaoAuthError(
                    f"port {self.port} is busy (another program, or another `kakao-auth login`, uses "
                    "it): close that program, or register another port as a Redirect URI and pass "
                    "--redirect-uri http://localhost:PORT/callback"
                ) from None
            raise
        server.timeout = 0.2
        return server

    def __enter__(self) -> CallbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.server_close()

    def wait(self, timeout: float) -> str:
        """Serve until the redirect arrives; return its URL, or raise on error or timeout."""
        deadline = time.monotonic() + timeout
        while not self._done.is_set():
            if time.monotonic() >= deadline:
                raise KakaoAuthError(
                    f"no redirect from Kakao within {timeout:g}s: finish the login in the browser "
                    "sooner (--timeout), or use --no-browser to paste the redirected URL"
                )
            self._server.handle_request()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def _receive(self, path: str) -> tuple[int, str]:
        """Handle one request path; return the status and page to show the browser."""
        if urlsplit(path).path != self.path or self._done.is_set():
            return 404, _PAGE.format(title="Not found", text="This server only receives the Kakao login.")
        url = f"http://127.0.0.1:{self.port}{path}"
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


def _handler_for(owner: CallbackServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
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
