"""The unlink webhook, served by a real WSGI server (wsgiref) and driven as ASGI (httpx and by hand)."""

from __future__ import annotations

import asyncio
import http.client
import logging
import threading
import time
import wsgiref.simple_server
from collections.abc import Iterator
from typing import Any, Callable, Optional

import httpx
import pytest
from kakao_auth import ConfigurationError, Token
from kakao_auth.testing import FakeKakao
from kakao_auth.web import UnlinkWebhook, unlink_asgi_app, unlink_wsgi_app

from tests.web_vault import DictVault

ADMIN_KEY = "admin-key-0123456789abcdef0123456789"
APP_ID = 1


class _Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def vault() -> DictVault:
    vault = DictVault()
    for user in ("123", "456"):
        vault.save(user, Token(access_token=f"access-{user}", refresh_token=f"refresh-{user}"))
    vault.writes = 0
    return vault


@pytest.fixture
def hooked() -> list[tuple[str, Optional[str]]]:
    return []


def _serve(app: Any) -> Iterator[str]:
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/kakao/unlink"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def wsgi_url(vault: DictVault, hooked: list[tuple[str, Optional[str]]]) -> Iterator[str]:
    app = unlink_wsgi_app(
        vault, admin_key=ADMIN_KEY, app_id=APP_ID, on_unlink=lambda u, r: hooked.append((u, r))
    )
    yield from _serve(app)


def _raw(url: str, method: str, headers: dict[str, str], body: bytes = b"") -> int:
    """A request as written, for what requests would not send (a lying Content-Length...)."""
    host, _, rest = url.removeprefix("http://").partition("/")
    connection = http.client.HTTPConnection(host, timeout=5)
    try:
        connection.request(method, "/" + rest, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_kakaos_call_deletes_the_user_and_runs_the_hook(
    fake_kakao: FakeKakao, vault: DictVault, hooked: list[Any], wsgi_url: str, method: str
) -> None:
    status = fake_kakao.send_unlink(
        wsgi_url, 123, admin_key=ADMIN_KEY, referrer_type="ACCOUNT_DELETE", method=method
    )
    assert status == 200
    assert "123" not in vault.tokens and "456" in vault.tokens
    assert hooked == [("123", "ACCOUNT_DELETE")]


def test_an_unknown_user_is_200_too(fake_kakao: FakeKakao, vault: DictVault, wsgi_url: str) -> None:
    assert fake_kakao.send_unlink(wsgi_url, 999, admin_key=ADMIN_KEY) == 200
    assert sorted(vault.tokens) == ["123", "456"]


def test_a_missing_or_wrong_key_is_401_and_deletes_nothing(
    fake_kakao: FakeKakao, vault: DictVault, hooked: list[Any], wsgi_url: str
) -> None:
    for key in ("wrong", ADMIN_KEY + "x", ADMIN_KEY[:-1], ""):
        assert fake_kakao.send_unlink(wsgi_url, 123, admin_key=key) == 401
    form = "app_id=1&user_id=123&referrer_type=UNLINK_FROM_APPS"
    for auth in ({}, {"Authorization": f"Bearer {ADMIN_KEY}"}, {"Authorization": ADMIN_KEY}):
        headers = {"Content-Type": "application/x-www-form-urlencoded", **auth}
        assert _raw(wsgi_url, "POST", headers, form.encode()) == 401
    assert vault.writes == 0 and hooked == []
    # The scheme's case does not matter (RFC 9110), the key's does.
    headers = {"Authorization": f"kakaoak {ADMIN_KEY}", "Content-Type": "application/x-www-form-urlencoded"}
    assert _raw(wsgi_url, "POST", headers, form.encode()) == 200


def test_another_app_or_a_bad_field_is_400_and_deletes_nothing(
    fake_kakao: FakeKakao, vault: DictVault, wsgi_url: str
) -> None:
    assert fake_kakao.send_unlink(wsgi_url, 123, admin_key=ADMIN_KEY, app_id=2) == 400
    assert fake_kakao.send_unlink(wsgi_url, "12a", admin_key=ADMIN_KEY) == 400
    assert fake_kakao.send_unlink(wsgi_url, 123, admin_key=ADMIN_KEY, referrer_type="x\ny") == 400
    headers = {"Authorization": f"KakaoAK {ADMIN_KEY}", "Content-Type": "application/x-www-form-urlencoded"}
    assert _raw(wsgi_url + "?user_id=456", "POST", headers, b"app_id=1&user_id=123") == 400  # which user?
    assert _raw(wsgi_url, "POST", headers, b"app_id=1&user_id=%ff") == 400
    assert vault.writes == 0


def test_a_large_body_is_413_and_no_answer_is_a_redirect(vault: DictVault, wsgi_url: str) -> None:
    headers = {"Authorization": f"KakaoAK {ADMIN_KEY}", "Content-Type": "application/x-www-form-urlencoded"}
    big = b"app_id=1&user_id=123&pad=" + b"x" * 10_000
    assert _raw(wsgi_url, "POST", headers, big) == 413
    assert _raw(wsgi_url, "PUT", headers, b"app_id=1&user_id=123") == 405
    assert vault.writes == 0


def test_a_slow_or_failing_hook_does_not_hold_the_answer(
    fake_kakao: FakeKakao, vault: DictVault, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    def slow(user_id: str, referrer: Optional[str]) -> None:
        release.wait(10)

    def failing(user_id: str, referrer: Optional[str]) -> None:
        raise RuntimeError("secret detail")

    try:
        for hook in (slow, failing):
            app = unlink_wsgi_app(vault, admin_key=ADMIN_KEY, app_id=APP_ID, on_unlink=hook, hook_timeout=0.2)
            for url in _serve(app):
                started = time.monotonic()
                with caplog.at_level(logging.WARNING, logger="kakao_auth"):
                    assert fake_kakao.send_unlink(url, 123, admin_key=ADMIN_KEY) == 200  # within Kakao's 3 s
                assert time.monotonic() - started < 2.5
    finally:
        release.set()
    assert (
        "still runs" in caplog.text and "RuntimeError" in caplog.text and "secret detail" not in caplog.text
    )


def test_a_vault_that_fails_is_503_so_kakao_calls_again(
    fake_kakao: FakeKakao, vault: DictVault, wsgi_url: str
) -> None:
    vault.fail_delete = OSError("database is down")
    assert fake_kakao.send_unlink(wsgi_url, 123, admin_key=ADMIN_KEY) == 503


def test_the_settings_are_checked(vault: DictVault) -> None:
    for kwargs in (
        {"admin_key": "", "app_id": 1},
        {"admin_key": "a b", "app_id": 1},
        {"admin_key": "k", "app_id": "x"},
    ):
        with pytest.raises(ConfigurationError):
            unlink_wsgi_app(vault, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "setting",
    [
        {"hook_timeout": None},  # would wait for the hook without end, past Kakao's 3 s
        {"hook_timeout": float("nan")},
        {"hook_timeout": float("inf")},
        {"hook_timeout": -1},
        {"hook_timeout": 0},
        {"hook_timeout": 3},
        {"hook_timeout": "1"},
        {"max_body": "4096"},  # would be a TypeError, a 500, at the first call
        {"max_body": -5},
        {"max_body": 4096.0},
        {"max_body": True},
        {"max_body": 10**9},
    ],
)
def test_the_hook_timeout_and_body_limit_are_checked_at_once(
    vault: DictVault, setting: dict[str, Any]
) -> None:
    for make in (UnlinkWebhook, unlink_wsgi_app, unlink_asgi_app):
        with pytest.raises(ConfigurationError, match=next(iter(setting))):
            make(vault, admin_key=ADMIN_KEY, app_id=APP_ID, **setting)


# -- ASGI -------------------------------------------------------------------------------------


def _asgi_call(app: Any, method: str, headers: dict[str, str], **request: Any) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app.example") as client:
            return await client.request(method, "/kakao/unlink", headers=headers, **request)

    return asyncio.run(call())


def test_asgi_deletes_with_the_right_key_only(vault: DictVault, hooked: list[Any]) -> None:
    app = unlink_asgi_app(
        vault, admin_key=ADMIN_KEY, app_id=APP_ID, on_unlink=lambda u, r: hooked.append((u, r))
    )
    fields = {"app_id": "1", "user_id": "123", "referrer_type": "UNLINK_FROM_ADMIN"}
    assert _asgi_call(app, "POST", {"Authorization": "KakaoAK wrong"}, data=fields).status_code == 401
    assert _asgi_call(app, "POST", {}, data=fields).status_code == 401
    assert (
        _asgi_call(
            app, "GET", {"Authorization": f"KakaoAK {ADMIN_KEY}"}, params={**fields, "app_id": "7"}
        ).status_code
        == 400
    )
    assert vault.writes == 0
    answer = _asgi_call(app, "POST", {"Authorization": f"KakaoAK {ADMIN_KEY}"}, data=fields)
    assert answer.status_code == 200 and answer.text == "OK"
    assert "123" not in vault.tokens and hooked == [("123", "UNLINK_FROM_ADMIN")]
    assert (
        _asgi_call(
            app, "GET", {"Authorization": f"KakaoAK {ADMIN_KEY}"}, params={**fields, "user_id": "456"}
        ).status_code
        == 200
    )
    assert sorted(vault.tokens) == []


class _Driver:
    """A minimal ASGI server: one request, its body in chunks, the answer collected."""

    def __init__(self, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> None:
        self.chunks = chunks
        self.headers = headers
        self.sent: list[dict[str, Any]] = []
        self.received = 0

    async def run(self, app: Callable[..., Any]) -> int:
        scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": self.headers}
        await app(scope, self.receive, self.send)
        return int(self.sent[0]["status"])

    async def receive(self) -> dict[str, Any]:
        chunk = self.chunks[self.received]
        self.received += 1
        return {"type": "http.request", "body": chunk, "more_body": self.received < len(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def test_asgi_stops_reading_a_streamed_body_past_the_limit(vault: DictVault) -> None:
    app = unlink_asgi_app(vault, admin_key=ADMIN_KEY, app_id=APP_ID)
    auth = [(b"authorization", f"KakaoAK {ADMIN_KEY}".encode())]
    driver = _Driver([b"app_id=1&user_id=123&pad="] + [b"x" * 1024] * 1000, auth)
    assert asyncio.run(driver.run(app)) == 413
    assert driver.received < 10 and vault.writes == 0  # refused at the limit, not after 1 MB
    announced = _Driver([b""], [*auth, (b"content-length", b"999999")])
    assert asyncio.run(announced.run(app)) == 413 and announced.received == 0
    whole = _Driver([b"app_id=1&", b"user_id=123"], auth)
    assert asyncio.run(whole.run(app)) == 200 and "123" not in vault.tokens


def test_asgi_serves_the_lifespan_protocol(vault: DictVault) -> None:
    app = unlink_asgi_app(vault, admin_key=ADMIN_KEY, app_id=APP_ID)
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
