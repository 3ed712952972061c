"""A due token (inside the leeway, still valid) is refreshed ahead, and nobody waits for it.

Only an expired token (or Kakao's -401) makes a request wait for a refresh. Inside the leeway
the request that finds the token due starts its refresh in a thread of its own and waits for it
at most AHEAD_WAIT; every other request goes out with the token in hand (and no thread starts
where another process holds the store's lock). Kakao or the store out of reach then costs
nothing but a warning; a dead login, or a token issued but not saved, is raised to the request
that waits, or else to the next one. The order of events is asserted, not speed: a refresh is
held under way at the fake's token gate, or a holder process keeps the store's lock, for as
long as the test needs.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
import requests
from kakao_auth import (
    KakaoAuth,
    KakaoHttpxAuth,
    KakaoOAuthError,
    KakaoUnavailable,
    LoginRequired,
    RedisTokenStore,
    Token,
    core,
)
from kakao_auth.core import AHEAD_THREAD
from kakao_auth.stores import FileTokenStore, StoreBusy
from kakao_auth.testing import FakeKakao

from tests.conftest import wait_child

ME = "/v2/user/me"
LEFT = 30.0  # seconds of life the due token has left: inside the 60-second leeway


class Clock:
    """``time.time`` moved to ``left`` seconds before ``token`` expires; ``expire()`` moves past it."""

    def __init__(self, token: Token, left: float = LEFT) -> None:
        assert token.expires_at is not None
        self.shift = token.expires_at - left - time.time()

    def __call__(self) -> float:
        return time.time() + self.shift

    def expire(self) -> None:
        self.shift += LEFT + 1


@pytest.fixture
def gate(fake_kakao: FakeKakao) -> Iterator[threading.Event]:
    """Token answers wait until the test sets the gate."""
    event = fake_kakao.token_gate = threading.Event()
    yield event
    event.set()


def _sent(r: requests.Response) -> str:
    return str(r.request.headers["Authorization"]).removeprefix("Bearer ")


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the refresh to reach the fake"
        time.sleep(0.005)


def _in_thread(call: Callable[[], requests.Response]) -> tuple[threading.Thread, list[requests.Response]]:
    answers: list[requests.Response] = []
    thread = threading.Thread(target=lambda: answers.append(call()))
    thread.start()
    return thread, answers


def _join_ahead() -> None:
    """Wait for this process's refreshes ahead to end (they run in threads of their own)."""
    for thread in threading.enumerate():
        if thread.name == AHEAD_THREAD:
            thread.join(30)
            assert not thread.is_alive(), "a refresh ahead of expiry never ended"


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The request that starts a refresh ahead waits 0.2 s for it, not AHEAD_WAIT's 2 s."""
    monkeypatch.setattr(core, "AHEAD_WAIT", 0.2)


@pytest.fixture
def long_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The request that starts a refresh ahead waits for it to the end: on a busy machine the
    refresh may take longer than AHEAD_WAIT, and these tests are about what that request sends."""
    monkeypatch.setattr(core, "AHEAD_WAIT", 60.0)


def test_the_request_that_finds_the_token_due_sends_the_refreshed_one(
    fake_kakao: FakeKakao, token_file: Path, long_wait: None
) -> None:
    old = fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file, clock=Clock(old))
    r = requests.get(fake_kakao.kapi_url + ME, auth=auth)
    new = FileTokenStore(token_file).load()
    assert r.status_code == 200 and _sent(r) == new.access_token != old.access_token
    assert fake_kakao.token_calls == 1


def test_no_request_waits_long_for_the_refresh_of_a_due_token(
    fake_kakao: FakeKakao, token_file: Path, gate: threading.Event, short_wait: None
) -> None:
    old = fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file, clock=Clock(old))

    def get() -> requests.Response:
        return requests.get(fake_kakao.kapi_url + ME, auth=auth)

    callers, answers = _in_thread(lambda: [get() for _ in range(6)])
    callers.join(30)
    assert not callers.is_alive(), "a request waited for a refresh its valid token did not need"
    assert [(r.status_code, _sent(r)) for r in answers[0]] == [(200, old.access_token)] * 6
    _until(lambda: fake_kakao.token_calls == 1)  # the one refresh, held under way at the gate
    assert any(t.name == AHEAD_THREAD for t in threading.enumerate())
    gate.set()
    _join_ahead()
    new = FileTokenStore(token_file).load()
    assert new.access_token != old.access_token
    assert _sent(get()) == new.access_token
    assert fake_kakao.token_calls == 1


DUE_SCRIPT = """
import json, sys, time
import requests
import kakao_auth.core
from kakao_auth import KakaoAuth
kakao_auth.core.AHEAD_WAIT = 0.0  # the request goes out at once: the script ends first
path, url = sys.argv[1:]
with open(path) as f:
    saved = json.load(f)
saved["expires_at"] = time.time() + 30  # as the file is 30 s before its token expires
with open(path, "w") as f:
    json.dump(saved, f)
print(requests.get(url, auth=KakaoAuth.from_file(path)).status_code, flush=True)
"""


def test_a_script_that_ends_during_a_refresh_ahead_still_saves_it(
    fake_kakao: FakeKakao, token_file: Path
) -> None:
    # The script's request is answered at once; the interpreter then waits for the refresh
    # thread, whose answer would carry a rotated refresh token in the last month.
    old = fake_kakao.write_token_file(refresh_ttl=20 * 86400)
    fake_kakao.token_delay = 0.5
    env = {**os.environ, **fake_kakao.environ()}
    argv = [sys.executable, "-c", DUE_SCRIPT, str(token_file), fake_kakao.kapi_url + ME]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "200"), done.stderr
    new = FileTokenStore(token_file).load()
    assert new.access_token != old.access_token and new.refresh_token != old.refresh_token
    assert fake_kakao.refresh_token_alive(new.refresh_token)
    assert fake_kakao.token_calls == 1


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child")
def test_ctrl_c_while_the_exit_waits_for_a_refresh_ahead_is_quiet(
    fake_kakao: FakeKakao, token_file: Path, gate: threading.Event
) -> None:
    # The script is done; the interpreter waits for the refresh, held at the fake's gate. Ctrl-C
    # then printed threading's "Exception ignored ... Traceback ... KeyboardInterrupt".
    fake_kakao.write_token_file()
    env = {**os.environ, **fake_kakao.environ()}
    argv = [sys.executable, "-c", DUE_SCRIPT, str(token_file), fake_kakao.kapi_url + ME]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "200"
        _until(lambda: fake_kakao.token_calls == 1)  # the refresh, held at the gate
        time.sleep(1.0)  # past the script's last line: the interpreter is at its exit
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.count("\n") <= 1  # at most the one line that says what was cut short


HOLD_LOCK = """
import sys, time
from kakao_auth.stores import open_store
with open_store(sys.argv[1]).lock():
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def hold_lock(fake_kakao: FakeKakao) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    """Another process that holds a store's lock (and refreshes nothing) until the test ends."""
    held: list[subprocess.Popen[str]] = []

    def hold(where: str) -> subprocess.Popen[str]:
        env = {**os.environ, **fake_kakao.environ()}
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, where], env=env, stdout=subprocess.PIPE, text=True
        )
        held.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in held:
        proc.kill()
        proc.wait()


def _store(backend: str, token_file: Path, fake: FakeKakao, request: pytest.FixtureRequest) -> str:
    if backend == "file":
        return str(token_file)
    url: str = request.getfixturevalue("redis_url")
    RedisTokenStore(url, client_id=fake.client_id).save(FileTokenStore(token_file).load())
    return url


@pytest.mark.parametrize("backend", ["file", "redis"])
def test_a_due_token_is_sent_while_another_process_holds_the_lock(
    fake_kakao: FakeKakao,
    token_file: Path,
    backend: str,
    request: pytest.FixtureRequest,
    hold_lock: Callable[[str], subprocess.Popen[str]],
) -> None:
    old = fake_kakao.write_token_file()
    where = _store(backend, token_file, fake_kakao, request)
    holder = hold_lock(where)
    from kakao_auth.stores import open_store

    auth = KakaoAuth.from_store(open_store(where, client_id=fake_kakao.client_id), clock=Clock(old))
    for _ in range(3):
        r = requests.get(fake_kakao.kapi_url + ME, auth=auth)
        assert r.status_code == 200 and _sent(r) == old.access_token
    _join_ahead()  # it found the lock held, and left the refresh to its holder
    assert holder.poll() is None  # answered while the lock was held, not after
    assert fake_kakao.token_calls == 0  # the holder is on it; nobody else asks Kakao


def test_a_due_token_is_sent_by_httpx_tasks_while_another_process_holds_the_lock(
    fake_kakao: FakeKakao, token_file: Path, hold_lock: Callable[[str], subprocess.Popen[str]]
) -> None:
    import asyncio

    import httpx

    old = fake_kakao.write_token_file()
    holder = hold_lock(str(token_file))
    auth = KakaoHttpxAuth.from_file(token_file, clock=Clock(old))

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(auth=auth) as client:
            return await asyncio.gather(*(client.get(fake_kakao.kapi_url + ME) for _ in range(20)))

    answers = asyncio.run(main())
    assert {r.status_code for r in answers} == {200}
    assert {r.request.headers["Authorization"] for r in answers} == {f"Bearer {old.access_token}"}
    _join_ahead()
    assert holder.poll() is None
    assert fake_kakao.token_calls == 0


@pytest.mark.parametrize("fault", ["500", "KOE237"])
def test_kakao_failing_ahead_of_expiry_costs_a_warning_not_the_call(
    fake_kakao: FakeKakao,
    token_file: Path,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core, "AHEAD_PAUSE", 600.0)  # no second try within this test
    old = fake_kakao.write_token_file()
    saved = token_file.read_bytes()
    clock = Clock(old)
    auth = KakaoAuth.from_file(token_file, clock=clock, retries=0)
    fake_kakao.fail_token(fault, times=10)
    with caplog.at_level(logging.WARNING, logger="kakao_auth"):
        for _ in range(3):  # one try, then a pause: Kakao is not hammered
            r = requests.get(fake_kakao.kapi_url + ME, auth=auth)
            assert r.status_code == 200 and _sent(r) == old.access_token
            _join_ahead()
    assert fake_kakao.token_calls == 1
    assert token_file.read_bytes() == saved  # the store is as it was
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1 and "ahead of expiry" in warnings[0]
    assert old.access_token not in warnings[0] and old.refresh_token not in warnings[0]
    # valid_token() promises a fresh token, so it does not settle for the due one ...
    with pytest.raises((KakaoUnavailable, KakaoOAuthError)):
        auth.valid_token()
    # ... and once the token has expired, a request waits for the refresh and fails with it.
    clock.expire()
    with pytest.raises((KakaoUnavailable, KakaoOAuthError)):
        requests.get(fake_kakao.kapi_url + ME, auth=auth)
    assert token_file.read_bytes() == saved


def test_a_token_that_expires_during_a_refresh_ahead_waits_for_it(
    fake_kakao: FakeKakao, token_file: Path, gate: threading.Event, short_wait: None
) -> None:
    old = fake_kakao.write_token_file()
    clock = Clock(old)
    auth = KakaoAuth.from_file(token_file, clock=clock)

    def get() -> requests.Response:
        return requests.get(fake_kakao.kapi_url + ME, auth=auth)

    assert _sent(get()) == old.access_token  # due: sent once the wait is over, the refresh goes on
    _until(lambda: fake_kakao.token_calls == 1)
    clock.expire()  # now the token in hand may not be sent: this call must wait for the refresh
    waiter, answers = _in_thread(get)
    waiter.join(0.5)
    assert waiter.is_alive() and not answers  # it waits (it would have answered by now otherwise)
    gate.set()
    waiter.join(30)
    _join_ahead()
    new = FileTokenStore(token_file).load()
    assert answers[0].status_code == 200 and _sent(answers[0]) == new.access_token != old.access_token
    assert fake_kakao.token_calls == 1  # it adopted the refresh ahead's token


@pytest.mark.parametrize("backend", ["file", "redis"])
def test_try_lock_or_adopt_never_waits(
    fake_kakao: FakeKakao,
    token_file: Path,
    backend: str,
    request: pytest.FixtureRequest,
    hold_lock: Callable[[str], subprocess.Popen[str]],
) -> None:
    fake_kakao.write_token_file()
    where = _store(backend, token_file, fake_kakao, request)
    from kakao_auth.stores import open_store

    store = open_store(where, client_id=fake_kakao.client_id)
    with store.try_lock_or_adopt(None) as adopted:  # free: taken
        assert adopted is None
    holder = hold_lock(where)
    with pytest.raises(StoreBusy), store.try_lock_or_adopt(None):
        pass
    assert holder.poll() is None


def _getter(client: str, token_file: Path, fake: FakeKakao, clock: Clock) -> Callable[[], int]:
    """One GET of /v2/user/me through ``client``'s auth (requests, httpx sync, httpx async)."""
    import asyncio

    import httpx

    url = fake.kapi_url + ME
    if client == "requests":
        auth = KakaoAuth.from_file(token_file, clock=clock)
        return lambda: requests.get(url, auth=auth).status_code
    hauth = KakaoHttpxAuth.from_file(token_file, clock=clock)
    if client == "httpx":
        return lambda: httpx.get(url, auth=hauth).status_code

    async def aget() -> int:
        async with httpx.AsyncClient(auth=hauth) as http:
            return (await http.get(url)).status_code

    return lambda: asyncio.run(aget())


def test_a_dead_login_found_ahead_of_expiry_is_raised_to_the_request_that_waits(
    fake_kakao: FakeKakao, token_file: Path, long_wait: None
) -> None:
    old = fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file, clock=Clock(old))
    fake_kakao.fail_token("KOE322")  # the refresh token was revoked; the access token still works
    with pytest.raises(LoginRequired):
        requests.get(fake_kakao.kapi_url + ME, auth=auth)
    assert fake_kakao.token_calls == 1


@pytest.mark.parametrize("client", ["requests", "httpx", "httpx-async"])
def test_a_dead_login_found_after_the_wait_is_said_to_the_next_request(
    fake_kakao: FakeKakao,
    token_file: Path,
    caplog: pytest.LogCaptureFixture,
    client: str,
    gate: threading.Event,
    short_wait: None,
) -> None:
    old = fake_kakao.write_token_file()
    get = _getter(client, token_file, fake_kakao, Clock(old))
    fake_kakao.fail_token("KOE322")
    assert get() == 200  # the refresh is held at the gate past the wait: the request went on
    gate.set()
    _join_ahead()
    assert any("failed" in rec.getMessage() and rec.levelno == logging.ERROR for rec in caplog.records)
    with pytest.raises(LoginRequired):
        get()
    assert get() == 200  # said once; the token in hand is still valid meanwhile
    assert fake_kakao.token_calls == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork only")
def test_a_child_forked_during_a_refresh_does_not_wait_for_the_parents_thread(
    fake_kakao: FakeKakao, token_file: Path, gate: threading.Event
) -> None:
    # A server that forks workers (multiprocessing, gunicorn --preload) while a thread of it is
    # refreshing: the child has the parent's flight in memory but not the thread to finish it.
    fake_kakao.write_token_file(access_ttl=0)
    auth = KakaoAuth.from_file(token_file)
    parent, _ = _in_thread(lambda: requests.get(fake_kakao.kapi_url + ME, auth=auth))
    _until(lambda: fake_kakao.token_calls == 1)  # the parent's refresh, held at the gate
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own refresh path, which adopts what the parent saves
        try:
            os.write(write, auth.valid_token().access_token.encode())
        finally:
            os._exit(0)
    os.close(write)
    gate.set()
    parent.join(30)
    if wait_child(pid, 20) is None:
        pytest.fail("the forked child waited for the parent's refresh, which no thread of it runs")
    with os.fdopen(read, "rb") as pipe:
        assert pipe.read().decode() == FileTokenStore(token_file).load().access_token
    assert fake_kakao.token_calls == 1


def test_a_store_out_of_reach_ahead_of_expiry_costs_a_warning_not_the_call(
    fake_kakao: FakeKakao, token_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file, clock=Clock(old))
    lock = token_file.with_name(token_file.name + ".lock")
    lock.mkdir()  # the lock cannot be opened: the store cannot be refreshed now
    for _ in range(2):  # nothing is raised later either: the store is as it was
        r = requests.get(fake_kakao.kapi_url + ME, auth=auth)
        assert r.status_code == 200 and _sent(r) == old.access_token
        _join_ahead()
    assert fake_kakao.token_calls == 0
    assert any("ahead of expiry" in rec.getMessage() for rec in caplog.records)


def test_a_token_issued_ahead_of_expiry_but_not_saved_is_raised(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch, long_wait: None
) -> None:
    import errno

    from kakao_auth import TokenStoreError
    from kakao_auth.stores import file as store_module

    old = fake_kakao.write_token_file()
    saved = token_file.read_bytes()
    auth = KakaoAuth.from_file(token_file, clock=Clock(old))

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "atomic_write", disk_full)
    with pytest.raises(TokenStoreError, match="could not be saved"):
        requests.get(fake_kakao.kapi_url + ME, auth=auth)
    assert fake_kakao.token_calls == 1 and token_file.read_bytes() == saved
