"""The lock watch (lockwatch.py) ends, whatever the holder of the lock does (issue #24, point 14e)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kakao_auth import TokenStoreError
from kakao_auth.stores import FileTokenStore, lockwatch
from kakao_auth.testing import FakeKakao

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock and SIGSTOP")

HOLD_LOCK = """
import sys, time
from kakao_auth.stores import open_store
with open_store(sys.argv[1]).lock():
    print("held", flush=True)
    time.sleep(120)
"""


def _open_on(path: str) -> list[str]:
    """This process's descriptors open on ``path``."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == path:
                found.append(fd)
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_the_watch_ends_behind_a_stopped_holder(fake_kakao: FakeKakao, token_file: Path) -> None:
    # A holder stopped with SIGSTOP never lets go: the watch blocked in flock(LOCK_SH) for as
    # long, a thread and a descriptor left behind by waiters that had all given up.
    fake_kakao.write_token_file()
    env = {**os.environ, **fake_kakao.environ()}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(token_file)], env=env, stdout=subprocess.PIPE, text=True
    )
    lock = os.path.realpath(str(token_file)) + ".lock"
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        holder.send_signal(signal.SIGSTOP)
        with (
            pytest.raises(TokenStoreError, match="timed out"),
            FileTokenStore(token_file, lock_timeout=0.5).lock(),
        ):
            pass
        deadline = time.monotonic() + 30
        while lock in lockwatch._watches or _open_on(lock):
            assert time.monotonic() < deadline, "the lock watch was left behind the stopped holder"
            time.sleep(0.05)
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait()


def test_the_watch_still_wakes_a_waiter_when_the_holder_lets_go(
    fake_kakao: FakeKakao, token_file: Path
) -> None:
    fake_kakao.write_token_file()
    env = {**os.environ, **fake_kakao.environ()}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(token_file)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = os.path.realpath(str(token_file)) + ".lock"
        released = lockwatch.released(lock, lambda: os.open(lock, os.O_RDWR | os.O_CLOEXEC))
        assert not released.wait(0.2)
        holder.kill()  # lets go of the lock
        assert released.wait(30)
    finally:
        holder.kill()
        holder.wait()
