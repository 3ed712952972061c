"""TokenVault on each backend: per-request cost, both stampedes, and a keep-alive over many users.

Four figures per backend (SQLite file, PostgreSQL and Redis servers started here):

- per request: ``vault.session(user).get(URL)`` with a valid token, through an adapter that
  answers at once (bench/overhead.py's), with ``--users`` users in the vault, as a ratio to a
  plain requests.Session with a static Authorization header (the best of ``--rounds``
  interleaved rounds of ``--requests`` each, the garbage collector off while timed, as timeit
  does). The token in hand is used from memory: a database read per request would not make it.
- same user: 32 processes x 4 threads meet one user's expired token (``run_vault_workers``, the
  fake token endpoint at 50 ms): token calls, and the time until the last answer as a ratio to
  (floor + 50 ms), the floor being the same run on a valid token.
- distinct users: 32 processes, each on its own expired user: time / (floor + 50 ms); and as a
  ratio to the same 32 refreshes without a vault (32 single logins, a token file each: nothing
  shared, nothing waited for), what 32 refreshes cost this machine whatever keeps the tokens.
- keep-alive: ``--keepalive-users`` users of which ``--due`` are in their refresh token's last
  month, the token endpoint at 50 ms: wall time, peak Python memory (tracemalloc) and rows read.

Workers run at nice 10, as in bench/stampede.py (a real Kakao does not share the callers' cores).

    python bench/vault.py [--backends sqlite,postgresql,redis] [--users 10000] [--keepalive-users 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kakao_auth import Token, TokenVault
from kakao_auth.testing import FakeKakao, RedisServer
from kakao_auth.testing.postgres_server import PostgresServer
from kakao_auth.testing.vault_workers import run_vault_workers
from kakao_auth.testing.workers import KAKAO_AUTH_WORKER, meet

from common import table
from overhead import URL, InstantAdapter

LATENCY = 0.05
DAY = 86400.0


def seed(vault: TokenVault, tokens: list[tuple[str, Token]]) -> None:
    """Many users at once: one statement (or pipeline) per thousand, not one save each."""
    backend: Any = vault.backend
    for start in range(0, len(tokens), 1000):
        chunk = tokens[start : start + 1000]
        if hasattr(backend, "engine"):
            from sqlalchemy import insert

            now = time.time()
            rows = [dict(backend.to_fields(t), user_id=u, version=1, updated_at=now) for u, t in chunk]
            backend.read("warm-up")  # creates the table
            with backend.engine.begin() as c:
                c.execute(insert(backend.table), rows)
        elif hasattr(backend, "client"):
            pipe = backend.client.pipeline(transaction=False)
            for user, token in chunk:
                pipe.set(backend.key(user), json.dumps(token.to_dict(time.time())))
                pipe.zadd(backend.index, {user: token.refresh_token_expires_at})
            pipe.execute()
        else:
            for user, token in chunk:
                vault.save(user, token)


def synthetic(n: int, first: int, refresh_days: float) -> list[tuple[str, Token]]:
    now = time.time()
    return [
        (
            str(u),
            Token(
                f"access{u:08d}x" * 4,
                expires_in=21599,
                expires_at=now + 21599,
                refresh_token=f"refresh{u:08d}y" * 4,
                refresh_token_expires_at=now + refresh_days * DAY,
                scope="talk_message",
                client_id="fake-rest-api-key",
            ),
        )
        for u in range(first, first + n)
    ]


def per_request(url: str, users: int, requests_n: int, rounds: int) -> tuple[float, float]:
    """(microseconds per request through vault.session(user).get, ratio to a static header)."""
    vault = TokenVault(url)
    tokens = synthetic(users, 1, 50)
    seed(vault, tokens)
    user = tokens[users // 2][0]
    session = vault.session(user)
    session.mount("https://", InstantAdapter())
    floor = requests.Session()
    floor.mount("https://", InstantAdapter())
    floor.trust_env = session.trust_env = False
    floor.headers["Authorization"] = f"Bearer {tokens[users // 2][1].access_token}"
    best = {"vault": float("inf"), "floor": float("inf")}
    gc.collect()
    gc.disable()  # as timeit does: a collection lands in one round or the other, not in both
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(requests_n):
                vault.session(user).get(URL)
            best["vault"] = min(best["vault"], time.perf_counter() - started)
            started = time.perf_counter()
            for _ in range(requests_n):
                floor.get(URL)
            best["floor"] = min(best["floor"], time.perf_counter() - started)
    finally:
        gc.enable()
    vault.close()
    return best["vault"] / requests_n * 1e6, best["vault"] / best["floor"]


def stampede(url: str, users: list[str], threads: int, expired: bool, tmp: str) -> dict[str, Any]:
    with FakeKakao() as fake:
        fake.token_delay = LATENCY
        fake.access_limit = fake.refresh_limit = None
        os.environ.update(fake.environ())
        vault = TokenVault(url)
        for user in set(users):
            vault.save(user, fake.issue_tokens(user_id=int(user), access_ttl=0 if expired else None))
        reports = run_vault_workers(
            url,
            fake.kapi_url + "/v2/user/me",
            users,
            threads=threads,
            meeting_place=tmp,
            env=fake.environ(),
            options=(),
            nice=10,
        )
        vault.close()
        each = [(r["end"] or float("inf")) - r["released"] for r in reports]
        return {
            "seconds": max(each),
            "calls": fake.token_calls,
            "failed": sum(len(r["failed"]) for r in reports),
        }


def single_logins(processes: int, expired: bool, tmp: str) -> float:
    """The distinct-user stampede without a vault: each process its own login, in a token file.

    Nothing is shared, so nothing is waited for: what is left is what 32 refreshes cost this
    machine (a TLS handshake each, the fake's answers, the saves), the bound of any vault here.
    """
    with FakeKakao() as fake:
        fake.token_delay = LATENCY
        fake.access_limit = fake.refresh_limit = None
        folder = Path(tmp) / f"single-{time.monotonic_ns()}"
        folder.mkdir()
        files = [str(folder / f"token{n}.json") for n in range(processes)]
        for path in files:
            fake.write_token_file(path, access_ttl=0 if expired else None)
        argv = ["--url", fake.kapi_url + "/v2/user/me", "--threads", "1", "--calls", "1"]
        argv += ["--rendezvous", str(folder), "--nice", "10"]
        env = {**os.environ, **fake.environ()}

        def start() -> list[subprocess.Popen[str]]:
            return [
                subprocess.Popen(
                    [*KAKAO_AUTH_WORKER, "--file", path, *argv], env=env, stdout=subprocess.PIPE, text=True
                )
                for path in files
            ]

        reports = meet(folder, start)
        assert fake.token_calls == (processes if expired else 0)
        return max((r["end"] or float("inf")) - r["released"] for r in reports)


def keep_alive(url: str, users: int, due: int) -> dict[str, Any]:
    with FakeKakao() as fake:
        fake.token_delay = LATENCY
        fake.access_limit = fake.refresh_limit = None
        os.environ.update(fake.environ())
        vault = TokenVault(url)
        seed(vault, synthetic(users - due, 10**7, 50))
        answers = [
            (str(u), fake.issue_tokens(user_id=u, refresh_ttl=int(10 * DAY))) for u in range(1, due + 1)
        ]
        seed(vault, [(u, Token.from_response(a, time.time(), client_id=fake.client_id)) for u, a in answers])
        read_before = vault.backend.rows_read
        tracemalloc.start()
        started = time.perf_counter()
        report = vault.keep_alive()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        vault.close()
        return {
            "seconds": seconds,
            "peak_mib": peak / 2**20,
            "rows": vault.backend.rows_read - read_before,
            "renewed": len(report.renewed),
            "refreshes": fake.refresh_calls,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql,redis")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (the best of each)")
    parser.add_argument("--repeats", type=int, default=3, help="stampede runs per row (median)")
    parser.add_argument("--keepalive-users", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()
    rows = [["backend", "per request", "same user 32x4", "distinct users 32", "keep-alive"]]
    with tempfile.TemporaryDirectory() as tmp, PostgresServer() as pg, RedisServer() as redis:
        alone = statistics.median(single_logins(32, True, tmp) for _ in range(args.repeats))
        alone_floor = statistics.median(single_logins(32, False, tmp) for _ in range(args.repeats))
        reference = f"{alone * 1000:.0f} ms, {alone / (alone_floor + LATENCY):.2f}x"
        rows.append(["no vault: 32 logins, a token file each", "", "", reference, ""])
        print(" | ".join(rows[-1]), flush=True)
        databases = iter(range(1, 1000))

        def fresh(kind: str) -> str:
            n = next(databases)
            if kind == "sqlite":
                return f"sqlite:///{tmp}/vault{n}.db"
            if kind == "postgresql":
                return pg.create_database(f"bench{n}")
            import redis as redis_py

            url = redis.url.rsplit("/", 1)[0] + f"/{n % 16}"
            redis_py.Redis.from_url(url).flushdb()
            return url

        for kind in args.backends.split(","):
            micros, ratio = per_request(fresh(kind), args.users, args.requests, args.rounds)
            cells = [kind, f"{micros:.0f} us, {ratio:.3f}x static"]
            for users, threads in ((["77"] * 32, 4), ([str(u) for u in range(100, 132)], 1)):
                floor = statistics.median(
                    stampede(fresh(kind), users, threads, False, tmp)["seconds"] for _ in range(args.repeats)
                )
                runs = [stampede(fresh(kind), users, threads, True, tmp) for _ in range(args.repeats)]
                seconds = statistics.median(r["seconds"] for r in runs)
                calls = max(r["calls"] for r in runs)
                failed = sum(r["failed"] for r in runs)
                ratio = seconds / (floor + LATENCY)
                cell = f"{seconds * 1000:.0f} ms, {ratio:.2f}x, {calls} calls, {failed} failed"
                if threads == 1:
                    cell += f"; {seconds / alone:.2f}x no vault"
                cells.append(cell)
            ka = keep_alive(fresh(kind), args.keepalive_users, args.due)
            cells.append(
                f"{ka['seconds']:.1f} s, {ka['peak_mib']:.1f} MiB, {ka['rows']} rows, "
                f"{ka['renewed']} renewed, {ka['refreshes']} refreshes"
            )
            rows.append(cells)
            print(" | ".join(cells), flush=True)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
