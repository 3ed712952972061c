"""Compare versions of kakao_auth on one stampede, interleaved: is a change worth keeping?

Each repeat runs the floor, then every version in turn (its folder put first on the workers'
``PYTHONPATH``), so that a busy moment of the machine falls on all of them alike. The workers
start in a neutral folder: run as ``python -m`` they would otherwise import the kakao_auth of
the folder they were started from, whatever ``PYTHONPATH`` says.

    git worktree add /tmp/before HEAD~3
    python bench/compare.py --config 32x1 --repeats 9 before=/tmp/before after=.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kakao_auth.testing import RedisServer

from common import table
from stampede import CLIENTS, run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("versions", nargs="+", metavar="NAME=FOLDER", help="a checkout of kakao_auth")
    parser.add_argument("--config", default="32x1", metavar="PxT")
    parser.add_argument("--client", default="kakao_auth (file)", choices=CLIENTS[1:3])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--latency", type=float, default=0.05, help="the token endpoint's delay (s)")
    parser.add_argument("--nice", type=int, default=10)
    args = parser.parse_args()
    versions = dict(_version(v) for v in args.versions)
    p, t = (int(n) for n in args.config.split("x"))
    seconds: dict[str, list[float]] = {name: [] for name in ["floor", *versions]}
    os.chdir(tempfile.gettempdir())
    with RedisServer() as redis:
        for _ in range(args.repeats):
            for name in seconds:
                os.environ["PYTHONPATH"] = versions.get(name, next(iter(versions.values())))
                client = "floor" if name == "floor" else args.client
                result = run(client, p, t, args.latency, redis, args.nice, False)
                if result["failed"] or (name != "floor" and result["calls"] != 1):
                    sys.exit(f"{name}: {result['failed']} failed calls, {result['calls']} token calls")
                seconds[name].append(result["seconds"])
                print(name, f"{result['seconds']:.3f}", file=sys.stderr, flush=True)
    limit = statistics.median(seconds["floor"]) + args.latency
    rows = [["version", "median (s)", "max (s)", "median / (floor + latency)"]]
    for name, values in seconds.items():
        ratio = "-" if name == "floor" else f"{statistics.median(values) / limit:.3f}"
        rows.append([name, f"{statistics.median(values):.3f}", f"{max(values):.3f}", ratio])
    print(f"{args.config} {args.client}, {args.repeats} interleaved repeats, Python {sys.version.split()[0]}")
    print(table(rows))


def _version(spec: str) -> tuple[str, str]:
    name, _, folder = spec.partition("=")
    if not folder or not os.path.isdir(os.path.join(folder, "kakao_auth")):
        sys.exit(f"{spec}: give NAME=FOLDER, a folder holding kakao_auth/")
    return name, os.path.abspath(folder)


if __name__ == "__main__":
    main()
