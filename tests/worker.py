"""A worker process for the concurrency tests: threads calling kapi through one KakaoAuth.

It announces itself with ``ready.<pid>`` beside the token file, waits for the ``--go`` file so
that every worker meets the expired token at once, and prints a JSON report on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path

import requests
from kakao_auth import KakaoAuth


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--go", required=True)
    args = parser.parse_args()
    auth = KakaoAuth.from_file(args.file, retries=0)
    Path(args.file).with_name(f"ready.{os.getpid()}").touch()
    while not os.path.exists(args.go):
        time.sleep(0.002)
    ok: list[int] = []
    failed: list[str] = []

    def work() -> None:
        with requests.Session() as http:
            for _ in range(args.calls):
                try:
                    r = http.get(args.url, auth=auth, timeout=30)
                    (ok if r.status_code == 200 else failed).append(r.status_code)  # type: ignore[arg-type]
                except Exception as e:  # a failed call is the finding: report it
                    failed.append(f"{type(e).__name__}: {e}")

    workers = [threading.Thread(target=work) for _ in range(args.threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    print(json.dumps({"ok": len(ok), "failed": [str(f) for f in failed]}))


if __name__ == "__main__":
    main()
