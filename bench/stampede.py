"""Stampede: P processes x T threads meet one token just after it expired. Who answers everyone first?

Every worker is started, has built its client and warmed each thread's connection (a TLS
handshake without the token) before the release, so the figure is what the library controls:
the time from the release until the last of the P x T calls is answered. Every worker thread
waits at one gate (a file lock this process lets go of), so all are woken at the same moment,
and the time runs from that moment on the machine's monotonic clock. The token endpoint of
the fake Kakao takes 50 ms (``--latency``), like Kakao from Korea. Rows:

- floor: the same calls with a valid token (what the fake server itself needs);
- kakao_auth (file) and kakao_auth (redis): one refresh, every waiter adopts the saved token;
- requests-oauthlib: its documented auto-refresh with a token_updater saving the JSON file (every
  thread of every process refreshes; Kakao's issuance limits are off here, else most of its
  calls would fail fast with KOE237 and look quick);
- with ``--handover``, hand-over alone (file) and (redis): kakao_auth's workers, but the refresh
  is made by a perfect refresher, a thread of this process (default priority) that holds the
  store's lock from before the release and saves a fresh token exactly the token endpoint's
  latency after it, with no request and no processor time of the workers'. The workers find the
  lock held, wait and adopt, as they do behind a real refresher: the row is what the waiting side
  costs, and its gap to the store's own row is what the refresh itself costs, on cores the
  callers are using.

The workers run at nice 10 (``--nice``), the fake Kakao and Redis at the default priority: a real
Kakao does not share the client's cores, and the fake in this process must not be starved of them
by the very clients it answers. Without it, at 32 x 4 the 128 threads of the workers took the two
cores from the fake's handler threads, and its answers came out hundreds of milliseconds late in
every client's run, the floor's included (`--nice 0` shows it).

Runs are interleaved (each repeat runs every client once, in turn); each row shows the median
and the max over the repeats, the median worker (each process's last answer: the typical caller,
where the median is the last caller), token calls and failures, and the median as a ratio to
(floor + latency), the physical limit.

``--due`` releases the workers on a token that is due instead (50 s of life left, inside the
60-second leeway): still valid, so nobody needs to wait. kakao_auth refreshes it ahead, once,
and the ratio is to the floor alone; the refresher's own call, which waits for its refresh, is
the one that can end after the floor. requests-oauthlib refreshes only once expired.

    python bench/stampede.py                    # 32x1, 16x4, 32x4; 5 repeats
    python bench/stampede.py --repeats 3 --configs 16x4
    python bench/stampede.py --due
    python bench/stampede.py --handover         # + the hand-over behind a perfect refresher
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kakao_auth import FileTokenStore, RedisTokenStore, TokenStore
from kakao_auth.stores import atomic_write
from kakao_auth.testing import FakeKakao, RedisServer
from kakao_auth.testing.workers import KAKAO_AUTH_WORKER, run_workers

from common import table

OAUTHLIB_WORKER = (
    sys.executable,
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "oauthlib_worker.py"),
)
CLIENTS = ("floor", "kakao_auth (file)", "kakao_auth (redis)", "requests-oauthlib")
HANDOVERS = ("hand-over alone (file)", "hand-over alone (redis)")
DUE_LEFT = 50.0  # --due: seconds of life the token has left when written (the leeway is 60)


def run(
    client: str, processes: int, threads: int, latency: float, redis: RedisServer, nice: int, due: bool
) -> dict[str, Any]:
    """One stampede; returns the seconds until every worker was answered, token calls, failures."""
    with tempfile.TemporaryDirectory() as tmp, FakeKakao() as fake:
        fake.token_delay = latency
        fake.access_limit = fake.refresh_limit = None
        path = os.path.join(tmp, "kakao_token.json")
        fake.write_token_file(path, access_ttl=None if client == "floor" or due else 0)
        if due and client != "floor":
            _make_due(path)
        in_redis = client.endswith("(redis)")
        where = _into_redis(path, fake.client_id, redis) if in_redis else path
        worker = OAUTHLIB_WORKER if client == "requests-oauthlib" else KAKAO_AUTH_WORKER
        refresher = None
        if client in HANDOVERS:
            store = RedisTokenStore(where, client_id=fake.client_id) if in_redis else FileTokenStore(path)
            refresher = _PerfectRefresher(fake, store, tmp, latency)
        reports = run_workers(
            where,
            fake.kapi_url + "/v2/user/me",
            processes=processes,
            threads=threads,
            env=fake.environ(),
            worker=worker,
            meeting_place=tmp,
            nice=nice,
            before_go=refresher.hold if refresher is not None else None,
        )
        if refresher is not None:
            refresher.join()
        each = [(r["end"] or float("inf")) - r["released"] for r in reports]
        failed = sum(len(r["failed"]) for r in reports)
        worker = statistics.median(each)
        return {"seconds": max(each), "worker": worker, "calls": fake.token_calls, "failed": failed}


class _PerfectRefresher:
    """Holds the store's lock from before the release; saves a fresh token ``latency`` after it.

    A thread of this process: it blocks at the workers' gate like them, so it is released with
    them, and the save comes exactly one token round trip after the release.
    """

    def __init__(self, fake: FakeKakao, store: TokenStore, meeting_place: str, latency: float) -> None:
        self._token = fake.write_token_file(os.path.join(meeting_place, "fresh.json"), access_ttl=None)
        self._store = store
        self._meeting_place = Path(meeting_place)
        self._latency = latency
        self._held = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def hold(self) -> None:
        """Take the lock and wait at the gate (run_workers' before_go: the gate exists, still shut)."""
        (gate,) = self._meeting_place.glob("rendezvous-*/gate")
        self._thread = threading.Thread(target=self._refresh, args=(gate, self._held.set))
        self._thread.start()
        if not self._held.wait(10):
            raise RuntimeError("the perfect refresher did not take the lock")
        time.sleep(0.05)  # blocked at the gate by then (else released as it gets there: later, not sooner)

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(30)

    def _refresh(self, gate: Path, held: Callable[[], None]) -> None:
        import fcntl

        with self._store.lock():
            held()
            fd = os.open(gate, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)  # granted at the release
            finally:
                os.close(fd)
            time.sleep(self._latency)
            self._store.save(self._token)  # the Redis store's save lets go of its lock too


def _make_due(path: str) -> None:
    """The file as it is DUE_LEFT seconds before its token expires (the fake's grant lasts longer).

    Written as a login leaves it, issued long ago: ``expires_in`` is the token's lifetime.
    """
    with open(path) as f:
        saved = json.load(f)
    saved["expires_at"] = time.time() + DUE_LEFT
    atomic_write(path, json.dumps(saved).encode())


def _into_redis(path: str, client_id: str, redis: RedisServer) -> str:
    import redis as redis_py

    store = RedisTokenStore(redis.url, client_id=client_id)
    store.save(FileTokenStore(path).load())
    with open(path, "rb") as f, redis_py.Redis.from_url(redis.url) as client:
        client.set(store.key, f.read())  # the file's JSON as it is (a save rewrites expires_in)
    os.remove(path)
    return redis.url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05, help="the token endpoint's delay (s)")
    parser.add_argument("--configs", nargs="+", default=["32x1", "16x4", "32x4"], metavar="PxT")
    parser.add_argument(
        "--nice", type=int, default=10, help="the workers' niceness, above the fake's and Redis's (0: none)"
    )
    parser.add_argument("--due", action="store_true", help="a due token (still valid), not an expired one")
    parser.add_argument(
        "--handover", action="store_true", help="also each store's hand-over behind a perfect refresher"
    )
    args = parser.parse_args()
    if args.handover and args.due:
        parser.error("--handover is for an expired token")
    clients = (*CLIENTS, *HANDOVERS) if args.handover else CLIENTS
    limit_name = "median / floor" if args.due else "median / (floor + latency)"
    head = ["P x T", "client", "median (s)", "max (s)", "median worker (s)", "token calls", "failed"]
    rows = [[*head, limit_name]]
    with RedisServer() as redis:
        for config in args.configs:
            p, t = (int(n) for n in config.split("x"))
            runs: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
            for _ in range(args.repeats):
                for client in clients:
                    runs[client].append(run(client, p, t, args.latency, redis, args.nice, args.due))
                    print(config, client, runs[client][-1], file=sys.stderr, flush=True)
            limit = statistics.median(r["seconds"] for r in runs["floor"]) + (0 if args.due else args.latency)
            rows += [_row(config, client, results, limit) for client, results in runs.items()]
    print(
        f"{'a due token, ' if args.due else ''}"
        f"{args.repeats} interleaved repeats, token endpoint latency {args.latency * 1000:.0f} ms, "
        f"workers at nice {args.nice}, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    print(table(rows))


def _row(config: str, client: str, results: list[dict[str, Any]], limit: float) -> list[str]:
    seconds = [r["seconds"] for r in results]
    median = statistics.median(seconds)
    calls = sorted({r["calls"] for r in results})
    ratio = "-" if client == "floor" else f"{median / limit:.3f}"
    return [
        config,
        client,
        f"{median:.3f}",
        f"{max(seconds):.3f}",
        f"{statistics.median(r['worker'] for r in results):.3f}",
        "/".join(map(str, calls)),
        str(sum(r["failed"] for r in results)),
        ratio,
    ]


if __name__ == "__main__":
    main()
