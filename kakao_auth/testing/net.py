"""Loopback plumbing shared by the fakes."""

from __future__ import annotations

import http.server
import socket
import ssl
import struct
import time
from typing import Any, Optional
from urllib.parse import parse_qs

__all__ = ["WRITE", "Handler", "ResetConnection", "TLSServer", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# A header the handler consumes: write the body in a hostile way instead of at once.
WRITE = "X-Fake-Write"


class ResetConnection(Exception):
    """Raised by a handler to drop the connection without an answer (a TCP reset)."""


class TLSServer(http.server.ThreadingHTTPServer):
    """A threaded HTTPS server on a free loopback port, answering from ``owner``'s state.

    Without a ``context`` it serves plain HTTP: the fake's authorize page, which a real browser
    opens (it would refuse the test CA), and which carries no secret.
    """

    daemon_threads = True
    block_on_close = False  # keep-alive connections must not hold up stop()
    # socketserver's default backlog of 5 drops SYNs when dozens of workers connect at once,
    # and each dropped SYN costs its client a 1 s retransmit: a stall of the fake, not the client.
    request_queue_size = 256

    def __init__(self, handler: type[Handler], owner: Any, context: Optional[ssl.SSLContext]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.owner = owner  # the fake whose state the handlers answer from
        self.context = context

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` (``http://`` without a TLS context)."""
        scheme = "https" if self.context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.context is None:
            return sock, address
        # The TLS handshake happens in the handler's thread, so one slow client blocks no other.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


class Handler(http.server.BaseHTTPRequestHandler):
    """The fakes' request handler base: quiet, form parsing, and answers that can misbehave.

    An answer whose headers carry ``WRITE: "cut:..."`` is reset halfway through its body; one
    with ``WRITE: "drip:SECONDS"`` is sent a byte at a time.
    """

    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes; with Nagle on, the body waits for the
    # client's delayed ACK of the headers: 40 ms added to every other answer. Kakao's servers
    # do not do that, so neither does the fake.
    disable_nagle_algorithm = True
    server: TLSServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: request lines carry codes and tokens."""

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ssl.SSLError:
            self.close_connection = True
        except ResetConnection:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

    def _form(self) -> dict[str, str]:
        body = self._body().decode()
        return {k: v[0] for k, v in parse_qs(body).items()}

    def _body(self) -> bytes:
        """The request body, whole: by Content-Length, or chunk by chunk (a streamed upload)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
                if size == 0:
                    return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, answer: tuple[int, dict[str, str], bytes]) -> None:
        status, headers, body = answer
        headers = dict(headers)
        how = headers.pop(WRITE, None)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if how is None:
            self.wfile.write(body)
            return
        mode, _, pause = how.partition(":")
        if mode == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            raise ResetConnection
        for i in range(len(body)):  # drip: a byte at a time, each well inside a read timeout
            self.wfile.write(body[i : i + 1])
            self.wfile.flush()
            time.sleep(float(pause))
