"""Stress, crash and soak: many processes, one file, exactly one refresh, nothing lost.

Real processes and real threads against the fake Kakao; every test is bounded in time.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
import requests
from kakao_auth import FileTokenStore, KakaoAuth
from kakao_auth.testing import FakeKakao

from tests.conftest import REPORT, run_workers

ME = "/v2/user/me"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


def _live_file(fake: FakeKakao, path: Path) -> dict[str, object]:
    saved: dict[str, object] = json.loads(path.read_text())
    assert fake.access_token_alive(str(saved["access_token"]))
    assert fake.refresh_token_alive(str(saved["refresh_token"]))
    return saved


@pytest.mark.parametrize("rotation", [False, True], ids=["fresh-refresh-token", "rotation-window"])
@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("processes", [1, 4, 16])
def test_stampede_matrix(
    fake_kakao: FakeKakao, token_file: Path, processes: int, threads: int, rotation: bool
) -> None:
    old = fake_kakao.write_token_file(access_ttl=0, refresh_ttl=20 * 86400 if rotation else None)
    reports = run_workers(fake_kakao, token_file, processes=processes, threads=threads)
    assert [f for r in reports for f in r["failed"]] == []
    assert sum(r["ok"] for r in reports) == processes * threads
    assert fake_kakao.token_calls == 1
    saved = _live_file(fake_kakao, token_file)
    assert (saved["refresh_token"] != old.refresh_token) is rotation
    assert fake_kakao.refresh_token_alive(old.refresh_token) is not rotation


@pytest.mark.long
def test_soak_8_threads_20_seconds_of_2_second_tokens(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.access_ttl = 2
    fake_kakao.access_limit = None  # 20 s of 2 s tokens is more than Kakao's 20 per 10 minutes
    fake_kakao.write_token_file(access_ttl=2)
    auths = [KakaoAuth.from_file(token_file) for _ in range(2)]  # two holders in one process
    failures: list[str] = []
    calls = [0]
    duration = 20.0
    stop = time.monotonic() + duration

    def work(auth: KakaoAuth) -> None:
        with requests.Session() as http:
            while time.monotonic() < stop:
                r = http.get(fake_kakao.kapi_url + ME, auth=auth)
                calls[0] += 1
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text}")

    threads = [threading.Thread(target=work, args=(auths[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    REPORT.append(f"soak: {calls[0]} requests, {fake_kakao.refresh_calls} refreshes in {duration:g}s")
    assert failures == []
    assert calls[0] > 0
    # A 2-second token is refreshed 0.2 s before it expires: at most one refresh per 1.8 s, however
    # many threads and holders meet it (a slow machine makes fewer, never more).
    assert 1 <= fake_kakao.refresh_calls <= duration / 1.8 + 2
    assert fake_kakao.token_calls == fake_kakao.refresh_calls


def _refreshed_since(fake_kakao: FakeKakao, calls: int, *, within: float) -> None:
    deadline = time.monotonic() + within
    while fake_kakao.refresh_calls <= calls:
        assert time.monotonic() < deadline, f"no refresh in {within:g}s: the workers are stuck"
        time.sleep(0.005)


REFRESH_LOOP = """
import sys, time
from kakao_auth import KakaoAuth, LoginRequired
auth = KakaoAuth.from_file(sys.argv[1], retries=0)
while True:
    try:
        auth.refresh()
    except LoginRequired:  # the login was lost to a kill in the rotation window; re-seeded soon
        auth.reload()
    time.sleep(0.01)
"""


@pytest.mark.long
@posix_only
def test_sigkill_at_random_moments_never_tears_the_file(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.access_limit = fake_kakao.refresh_limit = None
    fake_kakao.write_token_file()
    env = {**os.environ, **fake_kakao.environ()}
    spawn = lambda: subprocess.Popen([sys.executable, "-c", REFRESH_LOOP, str(token_file)], env=env)  # noqa: E731
    workers = [spawn() for _ in range(3)]
    reader = _Reader(token_file)
    reader.start()
    rng = random.Random(20261121)
    kills = lost = rotations = 0
    try:
        while kills < 100:
            if kills % 10 == 5:  # Kakao rotates in the refresh token's last month: now and then
                fake_kakao.shorten_refresh_tokens(20 * 86400)
                rotations += 1
            # Each kill lands among refreshes: on a slow machine, workers still starting up would
            # otherwise be killed before they ever refresh, and the test would prove nothing.
            _refreshed_since(fake_kakao, fake_kakao.refresh_calls, within=60)
            time.sleep(rng.uniform(0.0, 0.1))
            victim = rng.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            kills += 1
            lost += _reseed_if_lost(fake_kakao, token_file)
            workers[victim] = spawn()
    finally:
        for w in workers:
            w.kill()
            w.wait()
        reader.stop()
    # The last kills can land in a rotation too: before the final refresh, as after every kill.
    lost += _reseed_if_lost(fake_kakao, token_file)
    refreshes = fake_kakao.refresh_calls
    REPORT.append(
        f"crash test: {kills} SIGKILLs, {refreshes} refreshes, {rotations} rotations, "
        f"{lost} logins lost in the rotation window, {reader.reads} unlocked reads, {len(reader.torn)} torn"
    )
    assert reader.torn == []
    assert reader.reads > 0
    assert refreshes >= kills  # at least one refresh before each kill
    assert lost <= rotations  # only a kill inside a rotation can lose the login
    # No dead holder blocks the survivors: after the last kill a refresh still goes through, within
    # a deadline that separates "blocked" (never) from "slow machine" (seconds).
    before = fake_kakao.refresh_calls
    after_kills = KakaoAuth.from_file(token_file, retries=0, timeout=30)
    assert _within(60, after_kills.refresh)
    assert fake_kakao.refresh_calls == before + 1
    assert fake_kakao.refresh_token_alive(FileTokenStore(token_file).load().refresh_token)


def _reseed_if_lost(fake: FakeKakao, token_file: Path) -> int:
    """1 if a kill after Kakao rotated, before the save, lost the login (then logged in again)."""
    with FileTokenStore(token_file).lock():  # a dead holder's lock is free again
        token = FileTokenStore(token_file).load()
        if fake.refresh_token_alive(token.refresh_token):
            return 0
        fake.write_token_file()
        return 1


def _within(seconds: float, func: Callable[[], object]) -> bool:
    """Run ``func`` in a thread; True when it returned (without raising) within ``seconds``."""
    done: list[bool] = []

    def run() -> None:
        func()
        done.append(True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return done == [True]


class _Reader(threading.Thread):
    """Reads the token file without the lock, as a tutorial script would, all the while."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.reads = 0
        self.torn: list[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            raw = self.path.read_bytes()
            try:
                data = json.loads(raw)
                assert data["access_token"] and data["refresh_token"]
            except (ValueError, KeyError, AssertionError):
                self.torn.append(raw[:60].decode(errors="replace"))
            self.reads += 1

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


HOLD_LOCK = """
import sys, time
from kakao_auth import FileTokenStore
with FileTokenStore(sys.argv[1]).lock():
    print("held", flush=True)
    time.sleep(60)
"""


@posix_only
def test_a_dead_lock_holder_never_blocks_the_others(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(token_file)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    # The lock wait is 120 s: a dead holder's lock that blocked would fail this deadline by far.
    auth = KakaoAuth.from_store(FileTokenStore(token_file, lock_timeout=120))
    assert _within(60, lambda: requests.get(fake_kakao.kapi_url + ME, auth=auth).raise_for_status())
    assert fake_kakao.refresh_calls == 1
