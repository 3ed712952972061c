"""KakaoHttpxAuth against the fake Kakao over real HTTPS: sync, asyncio, trio, and processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import httpx
import pytest
from kakao_auth import ConfigurationError, FileTokenStore, KakaoHttpxAuth, KakaoUnavailable, LoginRequired
from kakao_auth.testing import FakeKakao
from kakao_auth.testing.workers import KAKAO_AUTH_WORKER

from tests.conftest import REPORT, EchoServer

ME = "/v2/user/me"
MEMO = "/v2/api/talk/memo/default/send"


def test_sync_client_attaches_and_refreshes(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    auth = KakaoHttpxAuth.from_file(token_file)
    with httpx.Client(auth=auth) as client:
        assert client.get(fake_kakao.kapi_url + ME).json()["id"] == fake_kakao.user_id
        assert client.get("https://kapi.kakao.com" + ME).status_code == 200  # KAKAO_KAPI_URL routing
    assert fake_kakao.refresh_calls == 1
    assert json.loads(token_file.read_text())["access_token"] == auth.token.access_token


def test_sync_minus_401_refreshes_once_and_resends_the_body(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    fake_kakao.expire_access_tokens()  # the file still believes its token is fresh: kapi decides
    template = json.dumps({"object_type": "text", "text": "hello", "link": {}})
    with httpx.Client(auth=KakaoHttpxAuth.from_file(token_file)) as client:
        r = client.post(fake_kakao.kapi_url + MEMO, data={"template_object": template})
    assert r.status_code == 200 and r.json() == {"result_code": 0}
    assert [h.status_code for h in r.history] == [401]
    assert fake_kakao.memos == [json.loads(template)]
    assert fake_kakao.refresh_calls == 1


def test_a_second_401_is_returned_as_is(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    fake_kakao.reject_all_tokens = True
    with httpx.Client(auth=KakaoHttpxAuth.from_file(token_file)) as client:
        r = client.get(fake_kakao.kapi_url + ME)
    assert r.status_code == 401
    assert fake_kakao.refresh_calls == 1 and fake_kakao.api_calls == 2


def test_refused_for_foreign_hosts_and_plain_http(
    fake_kakao: FakeKakao, token_file: Path, echo: EchoServer
) -> None:
    fake_kakao.write_token_file()
    auth = KakaoHttpxAuth.from_file(token_file)
    plain = fake_kakao.kapi_url.replace("https://", "http://")
    with httpx.Client(auth=auth) as client:
        for url in (echo.url + ME, plain + ME, fake_kakao.kauth_url + ME):
            with pytest.raises(ConfigurationError, match="refusing to send the Kakao access token"):
                client.get(url)
    assert echo.authorizations == [] and fake_kakao.api_calls == 0


@pytest.mark.parametrize("use_async", [False, True])
def test_no_token_follows_a_redirect_to_another_host(
    fake_kakao: FakeKakao, token_file: Path, echo: EchoServer, use_async: bool
) -> None:
    fake_kakao.write_token_file()
    fake_kakao.redirects["/v2/elsewhere"] = echo.url + "/steal"
    auth = KakaoHttpxAuth.from_file(token_file)
    url = fake_kakao.kapi_url + "/v2/elsewhere"
    if use_async:

        async def get() -> httpx.Response:
            async with httpx.AsyncClient(auth=auth, follow_redirects=True) as client:
                return await client.get(url)

        r = asyncio.run(get())
    else:
        with httpx.Client(auth=auth, follow_redirects=True) as client:
            r = client.get(url)
    assert echo.authorizations == [None]  # reached, without the token
    assert r.status_code == 401  # the foreign host's -401 is not answered with a refresh
    assert fake_kakao.token_calls == 0


def test_typed_errors_come_through_httpx(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    fake_kakao.fail_token("500", times=3)
    with httpx.Client(auth=KakaoHttpxAuth.from_file(token_file, backoff=0.01)) as client:
        with pytest.raises(KakaoUnavailable):
            client.get(fake_kakao.kapi_url + ME)
        fake_kakao.fail_token("KOE322")
        with pytest.raises(LoginRequired):
            client.get(fake_kakao.kapi_url + ME)
    assert token_file.read_bytes() == before


def test_200_tasks_on_one_expired_token_make_one_refresh(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    fake_kakao.token_delay = 0.05
    auth = KakaoHttpxAuth.from_file(token_file)
    threads = []  # one worker thread per refresh, not one per waiting task
    blocking_refresh = auth.core.refresh
    auth.core.refresh = lambda *a, **k: threads.append(1) or blocking_refresh(*a, **k)  # type: ignore[method-assign]

    async def main() -> list[int]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(auth=auth, limits=limits, timeout=60) as client:
            responses = await asyncio.gather(*(client.get(fake_kakao.kapi_url + ME) for _ in range(200)))
        return [r.status_code for r in responses]

    assert asyncio.run(main()) == [200] * 200
    assert fake_kakao.token_calls == 1
    assert len(threads) == 1


def test_under_trio_too(fake_kakao: FakeKakao, token_file: Path) -> None:
    pytest.importorskip("trio")
    fake_kakao.write_token_file(access_ttl=0)
    auth = KakaoHttpxAuth.from_file(token_file)
    statuses: list[int] = []

    async def main() -> None:
        async with httpx.AsyncClient(auth=auth) as client, anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(lambda: _get(client, statuses))

    async def _get(client: httpx.AsyncClient, into: list[int]) -> None:
        into.append((await client.get(fake_kakao.kapi_url + ME)).status_code)

    anyio.run(main, backend="trio")
    assert statuses == [200] * 20
    assert fake_kakao.token_calls == 1


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_refresh_is_not_queued_behind_the_apps_threads(
    fake_kakao: FakeKakao, token_file: Path, backend: str
) -> None:
    # FastAPI runs sync endpoints on anyio's default threads: all of them taken (here the one
    # there is), by threads that may well wait on this very loop, a refresh must still run.
    fake_kakao.write_token_file(access_ttl=0)
    auth = KakaoHttpxAuth.from_file(token_file)
    release = threading.Event()

    async def main() -> int:
        default = anyio.to_thread.current_default_thread_limiter()
        default.total_tokens = 1
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(anyio.to_thread.run_sync, release.wait, 60.0)
            while default.borrowed_tokens < 1:
                await anyio.sleep(0.01)
            try:
                with anyio.fail_after(20):
                    async with httpx.AsyncClient(auth=auth) as client:
                        status = (await client.get(fake_kakao.kapi_url + ME)).status_code
            finally:
                release.set()
        return status

    assert anyio.run(main, backend=backend) == 200
    assert fake_kakao.refresh_calls == 1


def test_the_loop_keeps_ticking_during_a_slow_refresh(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    fake_kakao.token_delay = 0.2
    auth = KakaoHttpxAuth.from_file(token_file)

    async def main() -> float:
        lags: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                started = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - started - 0.005)

        tick = asyncio.create_task(ticker())
        async with httpx.AsyncClient(auth=auth) as client:
            await asyncio.sleep(0.05)
            assert (await client.get(fake_kakao.kapi_url + ME)).status_code == 200
        done.set()
        await tick
        return max(lags)

    lag = asyncio.run(main())
    REPORT.append(f"httpx async: worst event-loop lag {lag * 1000:.1f} ms during a 200 ms refresh")
    # A blocked loop would lag the whole 200 ms token round trip; what is left is scheduling.
    assert lag < 0.15
    assert fake_kakao.refresh_calls == 1


def test_8_processes_of_50_tasks_make_one_refresh(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    reports = run_workers_async(fake_kakao, token_file, processes=8, tasks=50)
    assert [f for r in reports for f in r["failed"]] == []
    assert sum(r["ok"] for r in reports) == 400
    assert fake_kakao.token_calls == 1


def run_workers_async(fake: FakeKakao, path: Path, *, processes: int, tasks: int) -> list[dict[str, object]]:
    from kakao_auth.testing import workers

    return workers.run_workers(
        str(path),
        fake.kapi_url + ME,
        processes=processes,
        threads=tasks,
        env=fake.environ(),
        worker=(*KAKAO_AUTH_WORKER, "--async"),
    )


def test_building_one_without_httpx_says_which_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['httpx'] = None\n"
        "import kakao_auth\n"
        "from kakao_auth import KakaoHttpxAuth\n"
        "try:\n"
        "    KakaoHttpxAuth(kakao_auth.FileTokenStore('x.json'))\n"
        "except kakao_auth.ConfigurationError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert "pip install 'kakao-auth[httpx]'" in out.stdout


def test_same_options_and_no_secret_in_repr(fake_kakao: FakeKakao, token_file: Path) -> None:
    token = fake_kakao.write_token_file()
    auth = KakaoHttpxAuth.from_store(FileTokenStore(token_file), leeway=5, timeout=3, retries=1, backoff=0.1)
    assert auth.core.refresher.endpoint.timeout == 3
    text = repr(auth) + repr(auth.core) + repr(auth.token)
    assert token.access_token not in text and str(token.refresh_token) not in text


@pytest.mark.parametrize("use_async", [False, True])
def test_a_streamed_body_is_resent_after_a_minus_401(
    fake_kakao: FakeKakao, token_file: Path, use_async: bool
) -> None:
    # A generator body can be sent once: the auth flow reads it first (httpx's advice for an
    # auth flow that re-sends), or the re-send raised httpx.StreamConsumed.
    fake_kakao.write_token_file()
    fake_kakao.expire_access_tokens()
    template = json.dumps({"object_type": "text", "text": "streamed", "link": {}})
    body = ("template_object=" + urllib.parse.quote(template)).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    auth = KakaoHttpxAuth.from_file(token_file)

    def chunks() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    async def achunks() -> AsyncIterator[bytes]:
        for chunk in chunks():
            yield chunk

    if use_async:

        async def post() -> httpx.Response:
            async with httpx.AsyncClient(auth=auth) as client:
                return await client.post(fake_kakao.kapi_url + MEMO, content=achunks(), headers=headers)

        r = asyncio.run(post())
    else:
        with httpx.Client(auth=auth) as client:
            r = client.post(fake_kakao.kapi_url + MEMO, content=chunks(), headers=headers)
    assert r.status_code == 200 and [h.status_code for h in r.history] == [401]
    assert fake_kakao.memos == [json.loads(template)]
    assert fake_kakao.refresh_calls == 1
