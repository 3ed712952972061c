"""Shared fixtures: the fake Kakao comes from kakao_auth's own pytest plugin (``fake_kakao``)."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from kakao_auth.testing import FakeKakao, RedisServer, workers
from kakao_auth.testing.postgres_server import PostgresServer, find_postgres


class EchoServer:
    """A foreign HTTPS host that records what it is sent and answers Kakao's -401."""

    def __init__(self, fake: FakeKakao) -> None:
        self.authorizations: list[str | None] = []
        record = self.authorizations

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                record.append(self.headers.get("Authorization"))
                body = json.dumps({"code": -401, "msg": "this access token does not exist"}).encode()
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        fake.ca.issue_cert("127.0.0.1").configure_cert(context)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


REPORT: list[str] = []  # figures tests report rather than hide (printed after the run)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in REPORT:
        terminalreporter.write_line(f"kakao_auth report: {line}")


@pytest.fixture
def echo(fake_kakao: FakeKakao) -> Iterator[EchoServer]:
    server = EchoServer(fake_kakao)
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _no_keys_of_an_earlier_fake() -> None:
    """Forget the id_token keys cached by issuer URL: a new fake may get an earlier one's port."""
    module = sys.modules.get("kakao_auth.oauth.id_token")  # not imported here if not yet used
    if module is not None:
        with module._caches_lock:
            module._caches.clear()


def must_run(what: str) -> None:
    """Skip a test whose server is not installed, except in CI, which installs them all."""
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI must run the {what} tests: .ci/run installs it")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test module's own, started as the ``postgres`` user."""
    if find_postgres() is None:
        must_run("PostgreSQL")
    with PostgresServer() as server:
        yield server


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis-server of this test's own (test_redis.py shares one per module instead)."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            raise RuntimeError("CI must run the Redis tests: .ci/run installs Debian's redis-server")
        pytest.skip("redis-server is not installed")
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def token_file(fake_kakao: FakeKakao) -> Path:
    assert fake_kakao.token_file is not None
    return Path(fake_kakao.token_file)


def run_workers(
    fake: FakeKakao,
    path: Path | str,
    *,
    processes: int,
    threads: int,
    calls: int = 1,
    meeting_place: Path | None = None,
    before_go: Callable[[], object] | None = None,
) -> list[dict[str, Any]]:
    """Start worker processes that all meet the token in ``path`` (or a store URL) at once."""
    url = fake.kapi_url + "/v2/user/me"
    return workers.run_workers(
        str(path),
        url,
        processes=processes,
        threads=threads,
        calls=calls,
        env=fake.environ(),
        meeting_place=str(meeting_place) if meeting_place else None,
        before_go=before_go,
    )


class Recorder:
    """A plain-http loopback server that records every request it gets (method, path, body).

    ``authorizations`` holds each request's ``Authorization`` header (None when it had none).
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.authorizations: list[str | None] = []
        record, authorizations = self.requests, self.authorizations

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                record.append((self.command, self.path, self.rfile.read(length)))
                authorizations.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = _record

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


def exception_chain(error: BaseException) -> list[BaseException]:
    """``error`` and everything reachable through ``__cause__`` and ``__context__``."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__]
    return seen


def wait_child(pid: int, seconds: float) -> Optional[int]:
    """The exit code of the forked child ``pid``, or None when it still ran after ``seconds`` (killed)."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.01)
