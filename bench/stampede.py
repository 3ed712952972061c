"""Stampede: P processes x T threads meet one expired token. How many refreshes, how many failures?

Compares kakao_auth (file store, and Redis store with a local redis-server) with the
requests-oauthlib file pattern (auto_refresh_url + a token_updater
that saves the JSON file), against the fake Kakao on loopback, with Kakao's issuance limits on,
with a fresh refresh token and in the rotation window (where Kakao kills the old refresh token).
The "(no expiry: floor)" rows serve the same calls with a valid token: the time the fake server
itself needs (TLS handshakes in a Python server), which every other row includes.

    python bench/stampede.py            # P in 1 4 16 32, T in 1 4
    python bench/stampede.py --quick    # P in 1 16, T in 4
    python bench/stampede.py --no-redis # without the Redis store (no redis-server needed)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kakao_auth import FileTokenStore, RedisTokenStore
from kakao_auth.testing import FakeKakao, RedisServer
from kakao_auth.testing.workers import KAKAO_AUTH_WORKER, run_workers

from common import table

CLIENTS = {
    "kakao_auth": KAKAO_AUTH_WORKER,
    "kakao_auth (redis)": KAKAO_AUTH_WORKER,
    "requests-oauthlib": (
        sys.executable,
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "oauthlib_worker.py"),
    ),
}


def run(client: str, processes: int, threads: int, rotation: bool, expired: bool = True) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp, FakeKakao() as fake:
        path = os.path.join(tmp, "kakao_token.json")
        fake.write_token_file(
            path, access_ttl=0 if expired else None, refresh_ttl=20 * 86400 if rotation else None
        )
        reports = run_workers(
            path,
            fake.kapi_url + "/v2/user/me",
            processes=processes,
            threads=threads,
            env=fake.environ(),
            worker=CLIENTS[client],
        )
        failed = sum(len(r["failed"]) for r in reports)
        slowest = max((r["seconds"] or 0.0) for r in reports)
        window = ("rotation" if rotation else "fresh") if expired else "(no expiry: floor)"
        total = processes * threads
        return [
            client,
            window,
            str(processes),
            str(threads),
            str(fake.token_calls),
            f"{failed}/{total}",
            f"{slowest:.3f}",
        ]


REDIS: list[RedisServer] = []


def _into_redis(path: str, client_id: str) -> str:
    """Move the token file into the benchmark's redis-server; return the store URL."""
    if not REDIS:
        REDIS.append(RedisServer().start())
    store = RedisTokenStore(REDIS[0].url, client_id=client_id)
    store.save(FileTokenStore(path).load())
    os.remove(path)
    return REDIS[0].url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-redis", dest="redis", action="store_false", help="skip the Redis store")
    args = parser.parse_args()
    ps, ts = ([1, 16], [4]) if args.quick else ([1, 4, 16, 32], [1, 4])
    rows = [["client", "refresh token", "P", "T", "token calls", "failed", "all answered (s)"]]
    for rotation in (False, True):
        for p in ps:
            for t in ts:
                runs = [(client, True) for client in CLIENTS] + (
                    [("kakao_auth", False)] if not rotation else []
                )
                for client, expired in runs:
                    rows.append(run(client, p, t, rotation, expired))
                    print(" ".join(rows[-1]), file=sys.stderr, flush=True)
    for server in REDIS:
        server.stop()
    print(table(rows))


if __name__ == "__main__":
    main()
