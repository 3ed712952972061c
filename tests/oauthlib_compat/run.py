"""Run requests-oauthlib's own OAuth2Session tests with KakaoSession in its place.

The test file comes from requests-oauthlib's sdist at a pinned version, downloaded by
``pip download`` into a temporary folder at each run (never copied into this repository). The
API host is set to the one those tests call (``https://i.b``) and the token endpoint to a port
nothing listens on, so no test can reach a real host. Every test must pass except those named in
README.md's table of deliberate differences; one of those that passes is an error too (the table
would be out of date). Prints the pass count.

    .venv/bin/python tests/oauthlib_compat/run.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

VERSION = "2.0.0"  # requests-oauthlib's release whose tests are run
TEST_FILE = "tests/test_oauth2_session.py"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# The README's table of deliberate differences names the upstream tests it excludes like this.
_EXCLUDED = re.compile(r"`(test_[a-z0-9_]+)`")
_TABLE_START = "<!-- oauthlib-differences -->"
_TABLE_END = "<!-- /oauthlib-differences -->"


def excluded_tests(readme: Path = ROOT / "README.md") -> set[str]:
    """The upstream test names README.md's table of deliberate differences names."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(_TABLE_START), text.index(_TABLE_END)
    return set(_EXCLUDED.findall(text[start:end]))


def fetch_tests(into: Path) -> Path:
    """Download the pinned sdist and unpack its OAuth2Session test file into ``into``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         f"requests-oauthlib=={VERSION}", "-d", str(into)],
        check=True,
    )  # fmt: skip
    (sdist,) = into.glob("requests*oauthlib-*.tar.gz")
    with tarfile.open(sdist) as archive:
        (member,) = [m for m in archive.getmembers() if m.name.endswith("/" + TEST_FILE)]
        data = archive.extractfile(member)
        assert data is not None
        target = into / "test_oauth2_session.py"
        target.write_bytes(data.read())
    return target


def run(tests: Path) -> dict[str, bool]:
    """Run ``tests`` with the shim; each test's id (Class::name) -> whether it passed."""
    work = tests.parent
    (work / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # not this project's config
    report = work / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAKAO_")}
    env.update(
        KAKAO_KAPI_URL="https://i.b",  # the API host requests-oauthlib's tests call
        KAKAO_KAUTH_URL="https://127.0.0.1:9",  # nothing listens there: no token leaves the machine
        KAKAO_TOKEN_FILE=str(work / "kakao_token.json"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
    )
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--tb=line", "-p", "shim", "-p", "no:cacheprovider",
         "-c", str(work / "pytest.ini"), "--rootdir", str(work), f"--junitxml={report}", str(tests)],
        cwd=work, env=env, check=False,
    )  # fmt: skip
    outcome = {}

    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314
        name = f"{case.get('classname', '').rpartition('.')[2]}::{case.get('name')}"
        outcome[name] = not any(child.tag in ("failure", "error", "skipped") for child in case)
    return outcome


def main() -> int:
    """Run, compare with the README's table, print the count; 0 when they agree."""
    excluded = excluded_tests()
    with tempfile.TemporaryDirectory(prefix="oauthlib-compat-") as folder:
        outcome = run(fetch_tests(Path(folder)))
    passed = sorted(name for name, ok in outcome.items() if ok)
    failed = sorted(name for name, ok in outcome.items() if not ok)
    unexpected = [name for name in failed if name.partition("::")[2] not in excluded]
    stale = [name for name in passed if name.partition("::")[2] in excluded]
    print(
        f"requests-oauthlib {VERSION}'s {TEST_FILE} with KakaoSession: {len(passed)} of "
        f"{len(outcome)} pass; {len(failed)} fail, README names {len(failed) - len(unexpected)}"
    )
    for name in unexpected:
        print(f"  FAILS, not a deliberate difference: {name}")
    for name in stale:
        print(f"  PASSES, yet the README's table names it: {name}")
    return 1 if unexpected or stale or not outcome else 0


if __name__ == "__main__":
    sys.exit(main())
