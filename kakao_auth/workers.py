"""Worker processes that meet one token at once: for the demo, the tests and the benchmarks.

``run_workers`` starts P processes of T threads each (``python -m kakao_auth.workers``); each
process builds one ``KakaoAuth`` on the shared token, announces itself with ``ready.<pid>`` in the
rendezvous folder, waits for the ``go`` file so every worker meets the token at the same moment,
calls the API, and prints a JSON report on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

__all__ = ["run_workers"]


def run_workers(
    token_file: str,
    url: str,
    *,
    processes: int,
    threads: int,
    calls: int = 1,
    env: Optional[Mapping[str, str]] = None,
    rendezvous: Optional[str] = None,
    extra: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Run the workers and return their reports (``ok``, ``failed``, ``seconds``)."""
    folder = Path(rendezvous or Path(token_file).parent) / f"rendezvous-{time.monotonic_ns()}"
    folder.mkdir()
    argv = [sys.executable, "-m", "kakao_auth.workers", "--file", token_file, "--url", url]
    argv += ["--threads", str(threads), "--calls", str(calls), "--rendezvous", str(folder), *extra]
    full_env = {**os.environ, **(env or {})}
    procs = [
        subprocess.Popen(argv, env=full_env, stdout=subprocess.PIPE, text=True) for _ in range(processes)
    ]
    deadline = time.monotonic() + 120
    while len(list(folder.glob("ready.*"))) < processes and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.01)
    (folder / "go").touch()
    return [_report(p) for p in procs]


def _report(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=300)
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"ok": 0, "failed": [f"worker exited {proc.returncode}"], "seconds": None}
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--rendezvous", required=True)
    args = parser.parse_args()

    import requests

    from .auth import KakaoAuth

    auth = KakaoAuth.from_file(args.file, retries=0)
    folder = Path(args.rendezvous)
    (folder / f"ready.{os.getpid()}").touch()
    while not (folder / "go").exists():
        time.sleep(0.002)
    start = time.monotonic()
    ok: list[bool] = []
    failed: list[str] = []

    def work() -> None:
        with requests.Session() as http:
            for _ in range(args.calls):
                try:
                    r = http.get(args.url, auth=auth, timeout=60)
                except Exception as e:  # a failed call is the finding: report it, do not die
                    failed.append(f"{type(e).__name__}: {e}")
                    continue
                if r.status_code == 200:
                    ok.append(True)
                else:
                    failed.append(f"HTTP {r.status_code}")

    pool = [threading.Thread(target=work) for _ in range(args.threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print(json.dumps({"ok": len(ok), "failed": failed, "seconds": time.monotonic() - start}))


if __name__ == "__main__":
    _main()
