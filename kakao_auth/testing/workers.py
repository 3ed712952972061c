"""Worker processes that meet one token at once: for the demo, the tests and the benchmarks.

``run_workers`` starts P processes of T threads each. A worker builds one client on the shared
token, warms each thread's connection (a TLS handshake, without the token), announces itself
with ``ready.<pid>`` in a rendezvous folder, waits at the gate (see :class:`_Gate`) so that every
worker meets the token at the same moment, calls the API, prints a JSON report on its last
line (its ``seconds`` run from its release to its last answer, ``end`` is that last answer's
``time.monotonic()``), and leaves once every worker has answered. ``python -m kakao_auth.testing.workers``
is the kakao_auth worker (``--async``: httpx tasks); a benchmark can start its own worker module
for another client, built with :func:`serve`.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, Optional

fcntl: Any
try:
    import fcntl
except ImportError:  # Windows: the workers poll for the go file
    fcntl = None

__all__ = ["Caller", "meet", "run_workers", "serve", "thread_sessions"]


class Caller:
    """One authenticated GET of a URL, safe to call from many threads; returns the HTTP status.

    ``warm(url)`` opens the calling thread's connection without sending the token, so that a
    measurement starts with warm connections.
    """

    def __init__(self, call: Callable[[str], int], warm: Optional[Callable[[str], object]] = None) -> None:
        self._call = call
        self._warm = warm

    def __call__(self, url: str) -> int:
        return self._call(url)

    def warm(self, url: str) -> None:
        """Open this thread's connection to ``url``'s host."""
        if self._warm is not None:
            self._warm(url)


KAKAO_AUTH_WORKER = (sys.executable, "-m", "kakao_auth.testing.workers")


def run_workers(
    token_file: str,
    url: str,
    *,
    processes: int,
    threads: int,
    calls: int = 1,
    env: Optional[Mapping[str, str]] = None,
    worker: Sequence[str] = KAKAO_AUTH_WORKER,
    meeting_place: Optional[str] = None,
    before_go: Optional[Callable[[], object]] = None,
    nice: int = 0,
) -> list[dict[str, Any]]:
    """Run the workers and return their reports (``ok``, ``failed``, ``seconds``, ``end``).

    ``token_file`` may be a store URL; the rendezvous folder is then made in ``meeting_place``.
    ``before_go`` runs once every worker is ready (its client built on the token it read),
    just before they are released. ``nice`` lowers the workers' scheduling priority, so that a
    fake server in this process is not starved of the processor by its own clients. Each report
    also carries ``released``, the ``time.monotonic()`` of the release (a clock every process of
    the machine shares): ``max(end) - released`` is the time until the last answer.
    """
    folder = Path(meeting_place or Path(token_file).parent) / f"rendezvous-{time.monotonic_ns()}"
    folder.mkdir()
    argv = [*worker, "--file", token_file, "--url", url, "--threads", str(threads)]
    argv += ["--calls", str(calls), "--rendezvous", str(folder), "--nice", str(nice)]
    full_env = {**os.environ, **(env or {})}

    def start() -> list[subprocess.Popen[str]]:
        return [
            subprocess.Popen(argv, env=full_env, stdout=subprocess.PIPE, text=True) for _ in range(processes)
        ]

    return meet(folder, start, before_go)


def meet(
    folder: Path,
    start: Callable[[], list[subprocess.Popen[str]]],
    before_go: Optional[Callable[[], object]] = None,
) -> list[dict[str, Any]]:
    """Start the workers in ``folder``, release them at one moment, and collect their reports.

    Each worker stays until every one has answered: a finished interpreter's teardown (about
    100 ms of processor time with SQLAlchemy loaded) would otherwise run beside the workers
    still being measured, and count against them.
    """
    with _Gate(folder) as gate, _Gate(folder, "leave") as leave:
        procs = start()
        _wait_for(folder, "ready", procs, 120)
        if before_go is not None:
            before_go()
        released = gate.open()
        _wait_for(folder, "done", procs, 300)
        leave.open()
    return [dict(_report(p), released=released) for p in procs]


def _wait_for(folder: Path, mark: str, procs: list[subprocess.Popen[str]], seconds: float) -> None:
    """Until every worker has left its ``mark`` file, one has exited, or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while len(list(folder.glob(f"{mark}.*"))) < len(procs) and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return
        time.sleep(0.01)


class _Gate:
    """What holds the workers until their release, and lets them all go at one moment.

    The gate is a file this process holds an exclusive ``flock`` on: every worker thread blocks
    in ``flock(LOCK_SH)`` on it, and the kernel wakes them all when it is let go, with no
    polling and no thread of the worker in between. Where there is no ``flock`` (Windows) the
    workers look for the ``go`` file every 2 ms instead. If this process dies, so does its lock.
    """

    def __init__(self, folder: Path, name: str = "gate") -> None:
        self._folder = folder
        self._name = name
        self._fd: Optional[int] = None

    def __enter__(self) -> _Gate:
        if fcntl is not None:
            self._fd = os.open(self._folder / self._name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def open(self) -> float:
        """Release the workers; the ``time.monotonic()`` of the release."""
        released = time.monotonic()
        (self._folder / f"{self._name}.go").touch()
        self._let_go()
        return released

    def __exit__(self, *exc: object) -> None:
        self._let_go()  # never leave the workers waiting, whatever happened

    def _let_go(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor lets go of its lock
            self._fd = None


def _report(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=300)
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"ok": 0, "failed": [f"worker exited {proc.returncode}"], "seconds": None, "end": None}
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def _arguments(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    for name in ("--file", "--url", "--rendezvous"):
        parser.add_argument(name, required=True)
    parser.add_argument("--threads", type=int, default=1, help="threads (or tasks, with --async)")
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--nice", type=int, default=0, help="lower this worker's priority by N")
    parser.add_argument("--async", dest="use_async", action="store_true", help="httpx.AsyncClient tasks")
    return parser.parse_args(argv)


def _lower_priority(nice: int) -> None:
    """Yield the processor to the servers under test: a real Kakao does not share the client's cores."""
    if nice > 0 and hasattr(os, "nice"):
        os.nice(nice)


def _ready(rendezvous: str, mark: str = "ready") -> None:
    (Path(rendezvous) / f"{mark}.{os.getpid()}").touch()


def _released(rendezvous: str, gate: str = "gate") -> None:
    """Return at the release: when the gate is let go (or, without flock, its go file appears)."""
    folder = Path(rendezvous)
    if fcntl is not None and (folder / gate).exists():
        fd = os.open(folder / gate, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # granted the moment the releasing process lets go
        finally:
            os.close(fd)
        return
    deadline = time.monotonic() + 600  # a releaser that died leaves no worker polling for ever
    while not (folder / f"{gate}.go").exists() and time.monotonic() < deadline:
        time.sleep(0.002)


def _report_and_leave(tally: _Tally, rendezvous: str) -> None:
    """Say done, report, and stay until every worker has answered (see :func:`meet`)."""
    # Done before the report: a report over the pipe's buffer blocks until the parent reads
    # it, which it does once every worker is done.
    _ready(rendezvous, "done")
    tally.report()
    sys.stdout.flush()
    _released(rendezvous, "leave")


class _Tally:
    """What one worker's calls came to, reported as JSON on its last line."""

    def __init__(self) -> None:
        self.ok = 0
        self.failed: list[str] = []
        self.start, self.end = float("inf"), -float("inf")  # the first release, the last answer
        self._lock = threading.Lock()  # threads record at once: no lost count, no earlier end

    def released(self) -> None:
        """A caller of this worker was released."""
        with self._lock:
            self.start = min(self.start, time.monotonic())

    def record(self, status: Optional[int], error: Optional[BaseException] = None) -> None:
        with self._lock:
            # The last answer, not the report: joining the threads waits for the scheduler too.
            self.end = max(self.end, time.monotonic())
            if error is not None:  # a failed call is the finding: report it, do not die
                self.failed.append(f"{type(error).__name__}: {error}")
            elif status == 200:
                self.ok += 1
            else:
                self.failed.append(f"HTTP {status}")

    def report(self) -> None:
        if self.end == -float("inf"):  # no call was made
            self.start = self.end = time.monotonic()
        seconds = self.end - self.start
        print(json.dumps({"ok": self.ok, "failed": self.failed, "seconds": seconds, "end": self.end}))


def serve(make_caller: Callable[[str], Caller], argv: Optional[Sequence[str]] = None) -> None:
    """The worker's side: build the caller on ``--file``, meet the others, call, report."""
    args = _arguments(argv)
    _lower_priority(args.nice)
    call = make_caller(args.file)
    warmed = threading.Barrier(args.threads + 1)
    tally = _Tally()

    def work() -> None:
        with contextlib.suppress(Exception):  # a cold connection only makes the figure worse
            call.warm(args.url)
        warmed.wait()
        _released(args.rendezvous)  # each thread at the gate itself: woken by the kernel
        tally.released()
        for _ in range(args.calls):
            try:
                tally.record(call(args.url))
            except Exception as e:
                tally.record(None, e)

    pool = [threading.Thread(target=work) for _ in range(args.threads)]
    for t in pool:
        t.start()
    warmed.wait()
    # The full collection a fresh interpreter makes once its imports are done (20 to 40 ms of
    # processor time with SQLAlchemy loaded) is made now, as a worker that has served a while
    # has made it: else it lands inside whichever measured run allocates the most.
    gc.collect()
    _ready(args.rendezvous)
    for t in pool:
        t.join()
    _report_and_leave(tally, args.rendezvous)


def serve_async(argv: Optional[Sequence[str]] = None) -> None:
    """The async worker: one KakaoHttpxAuth, one httpx.AsyncClient, ``--threads`` tasks."""
    import asyncio

    import httpx

    from ..clients import KakaoHttpxAuth

    args = _arguments(argv)
    _lower_priority(args.nice)
    auth = KakaoHttpxAuth.from_file(args.file, retries=0)

    async def main() -> None:
        async with httpx.AsyncClient(auth=auth, timeout=60) as client:
            await client.get(args.url, auth=None)  # the TLS handshake, not timed; no token used
            _ready(args.rendezvous)
            _released(args.rendezvous)  # blocks the loop: nothing else runs on it yet
            tally = _Tally()
            tally.released()

            async def work() -> None:
                for _ in range(args.calls):
                    try:
                        tally.record((await client.get(args.url)).status_code)
                    except Exception as e:
                        tally.record(None, e)

            await asyncio.gather(*(work() for _ in range(args.threads)))
            _report_and_leave(tally, args.rendezvous)

    asyncio.run(main())


def thread_sessions() -> Callable[[], Any]:
    """A function that gives each calling thread a ``requests.Session`` of its own."""
    import requests

    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        http: requests.Session = local.http
        return http

    return session


def kakao_auth_caller(token_file: str) -> Caller:
    """One KakaoAuth per process, one requests.Session per thread."""
    from ..clients import KakaoAuth

    auth = KakaoAuth.from_file(token_file, retries=0)
    session = thread_sessions()

    def call(url: str) -> int:
        status: int = session().get(url, auth=auth, timeout=60).status_code
        return status

    return Caller(call, warm=lambda url: session().get(url, timeout=60))


if __name__ == "__main__":
    if "--async" in sys.argv:
        serve_async()
    else:
        serve(kakao_auth_caller)
