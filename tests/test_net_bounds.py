"""What kakao_auth reads of an API host's 401 on its own, before deciding on a refresh: at most a
few KiB (issue #24, point 14a), with requests and httpx, the rest left to the caller."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import json
import ssl
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from kakao_auth import KakaoAuth, KakaoHttpxAuth, KakaoSession
from kakao_auth.clients import MAX_401
from kakao_auth.net import bound
from kakao_auth.testing import FakeKakao

HUGE = 32 << 20  # far more than the kernel's socket buffers hold: a client that stops, stops it


class Api401:
    """An HTTPS API host whose first answer is a 401 with a large body, then 200s.

    ``sent`` holds how many body bytes each 401 got out before the client hung up;
    ``invalid_token`` adds kapi's ``WWW-Authenticate`` header to the 401.
    """

    def __init__(self, fake: FakeKakao, size: int, *, invalid_token: bool) -> None:
        self.sent: list[int] = []
        self.done = threading.Event()
        owner = self
        body = b'{"code": -1, "msg": "' + b"x" * size + b'"}'
        self.body = body

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if owner.sent:  # after the first 401: a plain answer
                    ok = json.dumps({"id": 1}).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(ok)))
                    self.end_headers()
                    self.wfile.write(ok)
                    return
                self.send_response(401)
                if invalid_token:
                    self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                sent = 0
                try:
                    for start in range(0, len(body), 1 << 16):
                        self.wfile.write(body[start : start + (1 << 16)])
                        sent += len(body[start : start + (1 << 16)])
                except OSError:
                    self.close_connection = True
                finally:
                    owner.sent.append(sent)
                    owner.done.set()

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        fake.ca.issue_cert("127.0.0.1").configure_cert(context)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first_401_sent(self) -> int:
        assert self.done.wait(30)
        return self.sent[0]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api(fake_kakao: FakeKakao, request: pytest.FixtureRequest) -> Iterator[Api401]:
    size, invalid_token = request.param
    server = Api401(fake_kakao, size, invalid_token=invalid_token)
    yield server
    server.close()


@pytest.mark.parametrize("api", [(HUGE, False)], indirect=True)
def test_requests_peeks_at_a_huge_401_and_leaves_the_rest(
    fake_kakao: FakeKakao, token_file: Path, api: Api401
) -> None:
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file, kapi_url=api.url)
    with requests.get(api.url + "/v2/user/me", auth=auth, stream=True, timeout=30) as r:
        assert r.status_code == 401
        assert r.raw.tell() < 1 << 20  # before: all 32 MiB were read, then the decision made
    assert api.first_401_sent() < HUGE
    assert fake_kakao.token_calls == 0


@pytest.mark.parametrize("api", [(HUGE, True)], indirect=True)
def test_requests_refreshes_on_the_header_of_a_huge_401_without_reading_it(
    fake_kakao: FakeKakao, token_file: Path, api: Api401
) -> None:
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file, kapi_url=api.url)
    r = requests.get(api.url + "/v2/user/me", auth=auth, timeout=30)
    assert r.status_code == 200 and [h.status_code for h in r.history] == [401]
    assert api.first_401_sent() < HUGE
    assert fake_kakao.refresh_calls == 1


@pytest.mark.parametrize("api", [(MAX_401 * 8, False)], indirect=True)
def test_requests_callers_still_read_the_whole_401(
    fake_kakao: FakeKakao, token_file: Path, api: Api401
) -> None:
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file, kapi_url=api.url)
    r = requests.get(api.url + "/v2/user/me", auth=auth, timeout=30)
    assert r.status_code == 401 and r.content == api.body
    streamed = b"".join(
        requests.get(api.url + "/v2/user/me", auth=auth, stream=True, timeout=30).iter_content(999)
    )
    assert streamed == b'{"id": 1}'  # the next request got its own answer: no 401 left in the pool


def _httpx_get(
    auth: KakaoHttpxAuth, url: str, *, use_async: bool, read: bool
) -> tuple[int, list[int], bytes]:
    """GET ``url``: the status, the history's statuses and the body (b"" unless ``read``)."""

    async def aget() -> tuple[int, list[int], bytes]:
        async with httpx.AsyncClient(auth=auth, timeout=30) as client, client.stream("GET", url) as r:
            body = await r.aread() if read else b""
            return r.status_code, [h.status_code for h in r.history], body

    if use_async:
        return asyncio.run(aget())
    with httpx.Client(auth=auth, timeout=30) as client, client.stream("GET", url) as r:
        body = r.read() if read else b""
        return r.status_code, [h.status_code for h in r.history], body


@pytest.mark.parametrize("use_async", [False, True])
@pytest.mark.parametrize("api", [(HUGE, False)], indirect=True)
def test_httpx_peeks_at_a_huge_401_and_leaves_the_rest(
    fake_kakao: FakeKakao, token_file: Path, api: Api401, use_async: bool
) -> None:
    fake_kakao.write_token_file()
    auth = KakaoHttpxAuth.from_file(token_file, kapi_url=api.url)
    status, history, _ = _httpx_get(auth, api.url + "/v2/user/me", use_async=use_async, read=False)
    assert (status, history) == (401, [])
    assert api.first_401_sent() < HUGE
    assert fake_kakao.token_calls == 0


@pytest.mark.parametrize("use_async", [False, True])
@pytest.mark.parametrize("api", [(HUGE, True)], indirect=True)
def test_httpx_refreshes_on_the_header_of_a_huge_401_without_reading_it(
    fake_kakao: FakeKakao, token_file: Path, api: Api401, use_async: bool
) -> None:
    fake_kakao.write_token_file()
    auth = KakaoHttpxAuth.from_file(token_file, kapi_url=api.url)
    status, history, body = _httpx_get(auth, api.url + "/v2/user/me", use_async=use_async, read=True)
    assert (status, history, body) == (200, [401], b'{"id": 1}')
    assert api.first_401_sent() < HUGE
    assert fake_kakao.refresh_calls == 1


@pytest.mark.parametrize("use_async", [False, True])
@pytest.mark.parametrize("api", [(MAX_401 * 8, False)], indirect=True)
def test_httpx_callers_still_read_the_whole_401(
    fake_kakao: FakeKakao, token_file: Path, api: Api401, use_async: bool
) -> None:
    fake_kakao.write_token_file()
    auth = KakaoHttpxAuth.from_file(token_file, kapi_url=api.url)
    status, _, body = _httpx_get(auth, api.url + "/v2/user/me", use_async=use_async, read=True)
    assert status == 401 and body == api.body


def test_a_compressed_401_is_decoded_within_the_limit() -> None:
    from kakao_auth.clients.httpx_auth import _decoded

    minus_401 = b'{"code": -401, "msg": "this access token does not exist"}'
    assert _decoded("gzip", gzip.compress(minus_401)) == minus_401
    assert _decoded("deflate", zlib.compress(minus_401)) == minus_401
    assert _decoded("gzip", gzip.compress(b"0" * (64 << 20))) is None  # 64 KiB that inflate to 64 MiB
    assert _decoded("gzip", b"not gzip") is None and _decoded("br", b"...") is None


@pytest.mark.parametrize("api", [(100, False)], indirect=True)
def test_a_401_read_already_by_a_bounded_session_is_kept(
    fake_kakao: FakeKakao, token_file: Path, api: Api401
) -> None:
    # net.bound() (the CLI's sessions, send_memo's) reads the answer before the auth sees it.
    fake_kakao.write_token_file()
    session = KakaoSession.from_file(token_file, kapi_url=api.url)
    bound(session, 30, 1 << 20)
    r = session.get(api.url + "/v2/user/me")
    assert r.status_code == 401 and r.content == api.body
