"""Worker processes that meet the vault's users at once: for the vault's tests and benchmark.

``run_vault_workers(vault_url, api_url, users, threads=T)`` starts one process per entry of
``users`` (the same id many times for a same-user stampede, different ids for users that must
not wait for each other). Each builds ``TokenVault(vault_url).auth(user)``, warms its
connections, waits at the gate of :mod:`kakao_auth.testing.workers`, calls the API from
``threads`` threads, and reports as those workers do. An entry may name several users, comma
separated: the worker's threads take them in turn (32 users from 8 processes of 4 threads).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, Optional

from .workers import Caller, meet, serve, thread_sessions

__all__ = ["run_vault_workers"]

VAULT_WORKER = (sys.executable, "-m", "kakao_auth.testing.vault_workers")


def run_vault_workers(
    vault_url: str,
    api_url: str,
    users: Sequence[str],
    *,
    threads: int,
    meeting_place: str,
    calls: int = 1,
    env: Optional[Mapping[str, str]] = None,
    before_go: Optional[Callable[[], object]] = None,
    options: Sequence[str] = (),
    nice: int = 0,
) -> list[dict[str, Any]]:
    """Run one worker per entry of ``users``; their reports (``ok``, ``failed``, ``end``, ``released``).

    ``options``: ``name=value`` keyword options of the workers' ``TokenVault`` (numbers).
    ``nice`` lowers the workers' priority, as :func:`~kakao_auth.testing.workers.run_workers` does.
    """
    folder = Path(meeting_place) / f"rendezvous-{time.monotonic_ns()}"
    folder.mkdir()
    common = ["--vault", vault_url, "--url", api_url, "--threads", str(threads), "--calls", str(calls)]
    common += ["--rendezvous", str(folder), "--file", vault_url, "--nice", str(nice)]
    for option in options:
        common += ["--option", option]
    full_env = {**os.environ, **(env or {})}

    def start() -> list[subprocess.Popen[str]]:
        return [
            subprocess.Popen(
                [*VAULT_WORKER, "--user", user, *common], env=full_env, stdout=subprocess.PIPE, text=True
            )
            for user in users
        ]

    return meet(folder, start, before_go)


def vault_caller(vault_url: str, users: str, options: Mapping[str, float]) -> Caller:
    """One vault per process; each thread one of ``users`` (comma separated) and a requests.Session."""
    import itertools

    from ..vault import TokenVault

    vault = TokenVault(vault_url, retries=0, **options)  # type: ignore[arg-type]
    auths = [vault.auth(user) for user in users.split(",")]  # each read now, before the release
    turn = itertools.count()
    local = threading.local()

    def auth() -> Any:
        if not hasattr(local, "auth"):
            local.auth = auths[next(turn) % len(auths)]
        return local.auth

    session = thread_sessions()

    def call(url: str) -> int:
        status: int = session().get(url, auth=auth(), timeout=60).status_code
        return status

    return Caller(call, warm=lambda url: session().get(url, timeout=60))


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--user", required=True)
    parser.add_argument("--vault", required=True)
    parser.add_argument("--option", action="append", default=[])
    args, rest = parser.parse_known_args(argv)
    options = {name: float(value) for name, _, value in (o.partition("=") for o in args.option)}
    serve(lambda _file: vault_caller(args.vault, args.user, options), rest)


if __name__ == "__main__":
    main()
