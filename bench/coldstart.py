"""A whole cron-style run: start Python, import, load the token file, one call to the fake Kakao.

kakao_auth (KakaoSession.from_file) against the requests-oauthlib file pattern, run alternately
N times each; medians and their ratio. Also the import time of kakao_auth alone, beside
requests-oauthlib's and requests'.

    python bench/coldstart.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kakao_auth.testing import FakeKakao

from common import median, table

BENCH = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = {
    "kakao_auth": (
        "import sys\n"
        "from kakao_auth import KakaoSession\n"
        "r = KakaoSession.from_file(sys.argv[1]).get('https://kapi.kakao.com/v2/user/me', timeout=30)\n"
        "assert r.status_code == 200, r.status_code\n"
    ),
    "requests-oauthlib pattern": (
        f"import os, sys\nsys.path.insert(0, {BENCH!r})\n"
        "from common import oauthlib_file_session\n"
        "url = os.environ['KAKAO_KAPI_URL'] + '/v2/user/me'\n"
        "r = oauthlib_file_session(sys.argv[1]).get(url, timeout=30)\n"
        "assert r.status_code == 200, r.status_code\n"
    ),
}
IMPORTS = {"python -c pass": "pass", "import requests": "import requests"}
IMPORTS |= {"import requests_oauthlib": "import requests_oauthlib", "import kakao_auth": "import kakao_auth"}


def once(code: str, *args: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeKakao() as fake:
        path = os.path.join(tmp, "kakao_token.json")
        fake.write_token_file(path)
        env = {**os.environ, **fake.environ()}
        runs: dict[str, list[float]] = {name: [] for name in SCRIPTS}
        imports: dict[str, list[float]] = {name: [] for name in IMPORTS}
        for _ in range(args.runs):
            for name, code in SCRIPTS.items():
                runs[name].append(once(code, path, env=env))
            for name, code in IMPORTS.items():
                imports[name].append(once(code))
    base = median(runs["requests-oauthlib pattern"])
    rows = [["whole run", "median (ms)", "ratio to requests-oauthlib"]]
    rows += [[name, f"{median(v) * 1000:.0f}", f"{median(v) / base:.3f}"] for name, v in runs.items()]
    print(f"{args.runs} runs each, alternating, Python {sys.version.split()[0]}")
    print(table(rows))
    floor = median(imports["python -c pass"])
    rows = [["import", "median (ms)", "over bare python (ms)"]]
    rows += [
        [name, f"{median(v) * 1000:.0f}", f"{(median(v) - floor) * 1000:.0f}"] for name, v in imports.items()
    ]
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
