"""``kakao-auth demo`` and ``kakao-auth fake``: the story, offline, against the bundled fake Kakao.

The demo runs each step, prints what it proved and the command (or line of Python) a user types
for it, and exits 0 only if every step held. ``kakao-auth fake`` runs the fake in the foreground
with a logged-in token file, so the real commands can be tried against it from another shell.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import signal
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Callable, Optional

import requests

from ..clients import KakaoAuth, KakaoSession
from ..stores import FileTokenStore, atomic_write
from ..testing import FakeKakao, free_port
from ..testing.workers import run_workers
from .callback import CallbackServer

__all__ = ["run_demo"]

MEMO_TEXT = "hello from a cron job"
NEXT_STEPS = """
To use your own app:
  1. Kakao Developers > My Application > Kakao Login: turn it on and add the Redirect URI
     http://localhost:8765/callback (and the consent item talk_message).
  2. export KAKAO_REST_API_KEY=your-rest-api-key    # and KAKAO_CLIENT_SECRET if it is on
  3. kakao-auth login --scope talk_message
  4. kakao-auth memo "hello"                         # or KakaoSession.from_file() in Python
To try the commands offline first: kakao-auth fake"""


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
    if not _has_the_fake("demo"):
        return 1
    started = time.monotonic()
    port = free_port()
    redirect_uri = f"http://localhost:{port}/callback"
    fake = FakeKakao(redirect_uris=[redirect_uri])
    with tempfile.TemporaryDirectory() as tmp, fake, _environ(fake.environ()):
        story = Story(fake, os.path.join(tmp, "kakao_token.json"), redirect_uri)
        print(f"Fake Kakao up: kauth {fake.kauth_url}, kapi {fake.kapi_url}\n")
        held = all(_step(n, step, story) for n, step in enumerate(STEPS, 1))
    seconds = time.monotonic() - started
    print(f"\n{'Every step held' if held else 'A step FAILED'} ({seconds:.1f}s).")
    print(NEXT_STEPS)
    return 0 if held else 1


def _has_the_fake(command: str) -> bool:
    try:
        import trustme  # noqa: F401 - the fake Kakao's certificates come from it
    except ImportError:
        print(
            f"kakao-auth {command} needs the fake Kakao's extra: pip install 'kakao-auth[testing]'",
            file=sys.stderr,
        )
        return False
    return True


def _step(number: int, step: Step, story: Story) -> bool:
    print(f"{number}. {step.title}", flush=True)
    try:
        print(f"   ok: {step.run(story)}", flush=True)
    except Exception as e:  # the demo reports any failure as a failed step and goes on
        print(f"   FAILED: {type(e).__name__}: {e}", flush=True)
        return False
    print(f"   yours: {step.yours}", flush=True)
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
    answer = story.session.send_memo(MEMO_TEXT)
    assert answer == {"result_code": 0}, answer
    assert story.fake.memos[-1]["text"] == MEMO_TEXT
    return f'"{MEMO_TEXT}" arrived in the fake user\'s KakaoTalk (result_code 0)'


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


def vault(story: Story) -> str:
    from ..vault import TokenVault  # SQLAlchemy: the testing extra brings it for this step

    users = [1001, 1002, 1003]
    me = story.fake.kapi_url + "/v2/user/me"
    with TokenVault(f"sqlite:///{os.path.dirname(story.path)}/kakao_tokens.db") as tokens:
        for user in users:  # each logged in on the website; their refresh token dies in 20 days
            tokens.save(user, story.fake.issue_tokens(user_id=user, refresh_ttl=20 * 86400))
        report = tokens.keep_alive()  # the daily job: Kakao rotates each in its last month
        assert sorted(report.renewed) == [str(user) for user in users], report.summary()
        for user in users:
            assert story.fake.refresh_token_alive(tokens.load(user).refresh_token), "rotation lost"
        story.fake.expire_access_tokens()
        ids = [tokens.session(user).get(me, timeout=30).json()["id"] for user in users]
        assert ids == users, ids
    return (
        f"3 users in a SQLite vault: keep-alive renewed {len(report.renewed)} refresh tokens in "
        f"their last month; after expiry each call refreshed as its user (/v2/user/me: {ids})"
    )


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of the story: what it shows, how it is proved, and what a user types for it."""

    title: str
    run: Callable[[Story], str]
    yours: str


STEPS = [
    Step("Log in (the fake Kakao consents by itself)", log_in, "kakao-auth login --scope talk_message"),
    Step(
        "Call /v2/user/me",
        who_am_i,
        'kakao-auth api /v2/user/me  |  KakaoSession.from_file().get("https://kapi.kakao.com/v2/user/me")',
    ),
    Step(
        "Send a KakaoTalk memo to self",
        send_memo,
        f'kakao-auth memo "{MEMO_TEXT}"  |  KakaoSession.from_file().send_memo("{MEMO_TEXT}")',
    ),
    Step(
        "Expire the access token and call again",
        expire_and_call,
        "nothing: every call refreshes before expiry, and once on Kakao's -401",
    ),
    Step(
        "Start several processes on an expired token",
        stampede,
        "nothing: any number of cron jobs may share one kakao_token.json",
    ),
    Step("Rotate the refresh token in its last month", rotate, "kakao-auth refresh (or just keep using it)"),
    Step(
        "Keep every user's login of a website in a vault",
        vault,
        'TokenVault("sqlite:///kakao_tokens.db").session(user_id)  |  kakao-auth vault keep-alive (daily)',
    ),
]


def run_fake(token_file: Optional[str], seconds: Optional[float]) -> int:
    """Run the fake Kakao until Ctrl-C (or ``seconds``), with a logged-in token file."""
    if not _has_the_fake("fake"):
        return 1
    with tempfile.TemporaryDirectory(prefix="kakao-auth-fake-") as tmp, FakeKakao() as fake:
        path = os.path.abspath(token_file or os.path.join(tmp, "kakao_token.json"))
        if os.path.lexists(path):
            print(f"kakao-auth: {path} exists; the fake will not overwrite a token file", file=sys.stderr)
            return 1
        fake.write_token_file(path)
        env = {**fake.environ(), "KAKAO_TOKEN_FILE": path}
        try:
            bundle = write_bundle(fake.ca_bundle, os.path.join(os.path.expanduser("~"), ".cache"))
        except OSError:  # no writable home: a bundle in the fake's folder, gone when it stops
            bundle = write_bundle(fake.ca_bundle, tmp)
        env.update(REQUESTS_CA_BUNDLE=bundle, SSL_CERT_FILE=bundle)
        _print_exports(env, bundle)
        # SIGTERM (a service manager, a test) ends it like Ctrl-C: the folder and file are removed.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(seconds if seconds is not None else 10**9)
        print(f"\nFake Kakao stopped: {fake.api_calls} API calls, {fake.token_calls} token calls.")
        print("Point that shell at Kakao again with:\n\n  unset " + " ".join(sorted(env)) + "\n", flush=True)
    return 0


def _print_exports(env: Mapping[str, str], bundle: str) -> None:
    print("Fake Kakao running (Ctrl-C stops it). In another shell, paste:\n")
    for name, value in env.items():
        print(f"  export {name}={shlex.quote(value)}")
    print(
        f"""
The CA bundle {bundle} holds this machine's CAs and the fake's,
so other HTTPS calls in that shell still work, and it stays after the fake stops. When the fake
stops, it prints the `unset` line that undoes these exports.

then try: kakao-auth status; kakao-auth api /v2/user/me; kakao-auth memo "hi"; kakao-auth refresh
     and: kakao-auth login    (your browser opens the fake's consent page, plain http on this
          machine only; it consents at once and sends the browser back to kakao-auth)""",
        flush=True,
    )


def write_bundle(fake_ca: str, cache: str) -> str:
    """A CA bundle of this machine's CAs and the fake's, at a path that outlives the fake.

    The machine's CAs are requests' own (certifi's), else the ones OpenSSL was built to use.
    The file is ``<cache>/kakao-auth/fake-ca-bundle.pem`` (``~/.cache``), rewritten by each run: a
    shell that still exports it after the fake stopped trusts what it trusted before, and the
    dead fake's CA.
    """
    with open(fake_ca, "rb") as f:
        fake_pem = f.read()
    folder = os.path.join(cache, "kakao-auth")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, "fake-ca-bundle.pem")
    atomic_write(path, _system_cas() + b"\n" + fake_pem)
    return path


def _system_cas() -> bytes:
    try:
        import certifi  # requests' own CA bundle, so requests trusts what it trusted before

        where = certifi.where()
    except ImportError:
        where = ssl.get_default_verify_paths().cafile or ""
    with contextlib.suppress(OSError), open(where, "rb") as f:
        return f.read()
    return b""


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
