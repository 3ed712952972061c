"""``kakao-auth demo``: the whole story, offline, against the bundled fake Kakao.

Each step prints what it did and what it proved; the demo exits 0 only if every step held.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Callable

import requests

from .auth import KakaoAuth
from .callback import CallbackServer
from .session import KakaoSession
from .store import FileTokenStore
from .testing import FakeKakao, free_port
from .testing.workers import run_workers

__all__ = ["run_demo"]

MEMO = {"object_type": "text", "text": "kakao_auth demo: hello from a cron job", "link": {}}


@dataclasses.dataclass
class Story:
    """What the steps share: the fake, the token file, and the session."""

    fake: FakeKakao
    path: str
    redirect_uri: str
    session: KakaoSession | None = None

    def me(self) -> requests.Response:
        assert self.session is not None
        return self.session.get(self.fake.kapi_url + "/v2/user/me", timeout=30)


def run_demo() -> int:
    """Run every step and print the story; return 0 only if every step held."""
    try:
        import trustme  # noqa: F401 - the fake Kakao's certificates come from it
    except ImportError:
        print(
            "kakao-auth demo needs the fake Kakao's extra: pip install 'kakao-auth[testing]'", file=sys.stderr
        )
        return 1
    started = time.monotonic()
    port = free_port()
    redirect_uri = f"http://localhost:{port}/callback"
    fake = FakeKakao(redirect_uris=[redirect_uri])
    with tempfile.TemporaryDirectory() as tmp, fake, _environ(fake.environ()):
        story = Story(fake, os.path.join(tmp, "kakao_token.json"), redirect_uri)
        print(f"Fake Kakao up: kauth {fake.kauth_url}, kapi {fake.kapi_url}\n")
        held = all(_step(n, title, step, story) for n, (title, step) in enumerate(STEPS, 1))
    seconds = time.monotonic() - started
    print(f"\n{'Every step held' if held else 'A step FAILED'} ({seconds:.1f}s).")
    return 0 if held else 1


def _step(number: int, title: str, step: Callable[[Story], str], story: Story) -> bool:
    print(f"{number}. {title}", flush=True)
    try:
        print(f"   ok: {step(story)}", flush=True)
    except Exception as e:  # the demo reports any failure as a failed step and goes on
        print(f"   FAILED: {type(e).__name__}: {e}", flush=True)
        return False
    return True


def log_in(story: Story) -> str:
    session = KakaoSession(redirect_uri=story.redirect_uri, token_file=story.path, scope=["talk_message"])
    url, state = session.authorization_url()
    with CallbackServer(story.redirect_uri, state) as server:
        threading.Thread(target=_browser, args=(story.fake, url), daemon=True).start()
        redirected = server.wait(30)
    session.fetch_token(authorization_response=redirected)
    story.session = session
    mode = oct(os.stat(story.path).st_mode & 0o777) if os.name != "nt" else "n/a"
    return f"browser redirected to {story.redirect_uri}; token file saved (mode {mode})"


def _browser(fake: FakeKakao, url: str) -> None:
    # Plays the user's browser: Kakao consents and redirects to the local callback server.
    requests.get(fake.authorize(url), timeout=30)


def who_am_i(story: Story) -> str:
    me = story.me().json()
    return f"/v2/user/me says id {me['id']}, nickname {me['properties']['nickname']}"


def send_memo(story: Story) -> str:
    assert story.session is not None
    url = story.fake.kapi_url + "/v2/api/talk/memo/default/send"
    answer = story.session.post(url, data={"template_object": json.dumps(MEMO)}, timeout=30).json()
    assert answer == {"result_code": 0}, answer
    assert story.fake.memos[-1] == MEMO
    return "memo delivered to self: {'result_code': 0}"


def expire_and_call(story: Story) -> str:
    before = story.fake.refresh_calls
    story.fake.expire_access_tokens()
    response = story.me()
    assert response.status_code == 200, response.text
    refreshes = story.fake.refresh_calls - before
    assert refreshes == 1, refreshes
    return f"kapi said -401, one refresh (fake counted {refreshes}), request retried: HTTP 200"


def stampede(story: Story) -> str:
    token = FileTokenStore(story.path).load()
    FileTokenStore(story.path).save(dataclasses.replace(token, expires_at=time.time() - 1))
    story.fake.expire_access_tokens()
    before = story.fake.token_calls
    url = story.fake.kapi_url + "/v2/user/me"
    reports = run_workers(story.path, url, processes=6, threads=2, env=story.fake.environ())
    failed = [f for r in reports for f in r["failed"]]
    ok = sum(r["ok"] for r in reports)
    calls = story.fake.token_calls - before
    assert not failed, failed
    assert ok == 12, ok
    assert calls == 1, calls
    return f"6 processes x 2 threads on one expired token: {ok} calls ok, {calls} refresh between them"


def rotate(story: Story) -> str:
    old = FileTokenStore(story.path).load().refresh_token
    story.fake.shorten_refresh_tokens(20 * 86400)  # the last month: Kakao now rotates
    KakaoAuth.from_file(story.path).refresh()
    new = FileTokenStore(story.path).load().refresh_token
    assert new != old, "the refresh token was not rotated"
    assert not story.fake.refresh_token_alive(old), "the old refresh token still works"
    assert story.fake.refresh_token_alive(new), "the saved refresh token is dead"
    return "Kakao rotated the refresh token; the new one is in the file and the old one is dead"


STEPS: list[tuple[str, Callable[[Story], str]]] = [
    ("Log in (the fake Kakao consents by itself)", log_in),
    ("Call /v2/user/me", who_am_i),
    ("Send a KakaoTalk memo to self", send_memo),
    ("Expire the access token and call again", expire_and_call),
    ("Start several processes on an expired token", stampede),
    ("Rotate the refresh token in its last month", rotate),
]


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
