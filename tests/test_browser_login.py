"""`kakao-auth login` against the fake Kakao in a real browser: Debian's Chromium, headless.

The browser is what `kakao-auth login` opens itself (through ``BROWSER``, as ``webbrowser``
does for a user): it must accept the fake's authorize page and follow Kakao's redirect to the
callback server. In CI (``CI`` set) a missing Chromium fails the test; elsewhere it skips.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kakao_auth.testing import FakeKakao, free_port

# Root needs --no-sandbox; the rest keeps a headless run from calling home or waiting for a GPU.
FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync --dump-dom"
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing: CI installs it (.ci/run), so this test must run there")
    pytest.skip("no Chromium here (apt-get install chromium)")


def test_login_completes_in_a_real_headless_chromium(fake_kakao: FakeKakao, tmp_path: Path) -> None:
    browser = chromium()
    redirect_uri = f"http://localhost:{free_port()}/callback"
    fake_kakao.redirect_uris.add(redirect_uri)
    profile = tmp_path / "profile"
    env = {
        **os.environ,
        **fake_kakao.environ(),
        "KAKAO_TOKEN_FILE": str(tmp_path / "kakao_token.json"),
        "BROWSER": f"{shlex.quote(browser)} {FLAGS} --user-data-dir={shlex.quote(str(profile))} %s",
    }
    argv = [sys.executable, "-m", "kakao_auth", "login", "--redirect-uri", redirect_uri, "--timeout", "45"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Logged in as 라이언 (id 4242424242)" in done.stdout
    assert "Kakao login complete" in done.stdout  # the page Chromium showed (--dump-dom)
    assert fake_kakao.code_calls == 1
    assert (tmp_path / "kakao_token.json").exists()
