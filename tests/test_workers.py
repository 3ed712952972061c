"""The worker harness that the stress tests, the demo and the benchmarks share."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kakao_auth.testing import workers

# A worker whose call answers 200 only if its client was built at the niceness the worker was
# started at plus NICE_ASKED: the harness lowers the priority before the client is built.
NICE_WORKER = """
import os
from kakao_auth.testing.workers import Caller, serve

def make_caller(_file):
    built_at = os.nice(0)
    return Caller(lambda _url: 200 if built_at == int(os.environ["NICE_EXPECTED"]) else 500)

serve(make_caller)
"""
NICE_ASKED = 3


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no niceness on this platform")
@pytest.mark.skipif(hasattr(os, "nice") and os.nice(0) > 19 - NICE_ASKED, reason="already at the lowest")
def test_workers_yield_the_processor_to_the_servers_when_asked(tmp_path: Path) -> None:
    env = {"NICE_EXPECTED": str(os.nice(0) + NICE_ASKED)}
    reports = _run(tmp_path, NICE_WORKER, processes=2, threads=1, env=env, nice=NICE_ASKED)
    assert [(r["ok"], r["failed"]) for r in reports] == [(1, []), (1, [])]


def test_no_worker_calls_before_the_release_and_each_reports_its_last_answer(tmp_path: Path) -> None:
    reports = _run(
        tmp_path,
        "from kakao_auth.testing.workers import Caller, serve\nserve(lambda _file: Caller(lambda _url: 200))",
        processes=3,
        threads=4,
        before_go=lambda: time.sleep(0.3),  # every worker is ready and waiting at the gate
    )
    assert [r["ok"] for r in reports] == [4, 4, 4]
    assert all(r["end"] >= r["released"] for r in reports)  # held until the release, all of them


def _run(tmp_path: Path, worker_code: str, **options: Any) -> list[dict[str, Any]]:
    """Run workers made of ``worker_code``, which need no token file and reach no server."""
    return workers.run_workers(
        str(tmp_path / "unused.json"),
        "https://127.0.0.1:9/unused",
        worker=(sys.executable, "-c", worker_code),
        meeting_place=str(tmp_path),
        **options,
    )


# The first worker to call answers after 0.5 s; every worker writes when its interpreter exits.
STAYING_WORKER = """
import atexit, os, time
from pathlib import Path
from kakao_auth.testing.workers import Caller, serve

folder = Path(os.environ["EXITS"])
atexit.register(lambda: (folder / f"exit.{os.getpid()}").write_text(repr(time.monotonic())))

def call(_url):
    try:
        os.close(os.open(folder / "slow", os.O_CREAT | os.O_EXCL))
        time.sleep(0.5)
    except FileExistsError:
        pass
    return 200

serve(lambda _file: Caller(call))
"""


def test_a_worker_stays_until_every_worker_has_answered(tmp_path: Path) -> None:
    # A finished worker's teardown must not run beside the workers still being measured.
    exits = tmp_path / "exits"
    exits.mkdir()
    reports = _run(tmp_path, STAYING_WORKER, processes=3, threads=1, env={"EXITS": str(exits)})
    assert [r["ok"] for r in reports] == [1, 1, 1]
    last_answer = max(r["end"] for r in reports)
    assert min(float(f.read_text()) for f in exits.glob("exit.*")) >= last_answer


def test_a_report_larger_than_the_pipe_does_not_hold_up_the_others(tmp_path: Path) -> None:
    started = time.monotonic()
    reports = _run(
        tmp_path,
        "from kakao_auth.testing.workers import Caller, serve\n"
        "def fail(_url):\n    raise RuntimeError('x' * 4000)\n"
        "serve(lambda _file: Caller(fail))",
        processes=2,
        threads=1,
        calls=40,  # a report of 160 KB: over a pipe's 64 KiB
    )
    assert [len(r["failed"]) for r in reports] == [40, 40]
    assert time.monotonic() - started < 60  # the parent waited for "done" until its 300 s cap
