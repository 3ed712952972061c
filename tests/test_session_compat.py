"""KakaoSession keeps OAuth2Session's promises (issue #26), one test per promise, against the fake.

requests-oauthlib's own tests, run with KakaoSession in OAuth2Session's place, are in
tests/oauthlib_compat/run.py (CI); these are the project's own, over HTTPS on loopback.
"""

from __future__ import annotations

import inspect
import pickle
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from kakao_auth import (
    ConfigurationError,
    KakaoAuthError,
    KakaoSession,
    KakaoUnavailable,
    LoginRequired,
    TokenStoreError,
)
from kakao_auth.testing import DEFAULT_REDIRECT_URI, FakeKakao
from oauthlib.oauth2 import BackendApplicationClient, MismatchingStateError, WebApplicationClient
from requests_oauthlib import OAuth2Session

ME = "/v2/user/me"


def _me(session: KakaoSession, fake: FakeKakao, **kwargs: Any) -> requests.Response:
    response = session.get(fake.kapi_url + ME, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    return response


def _login(fake: FakeKakao, session: KakaoSession, **kwargs: Any) -> dict[str, Any]:
    url, _ = session.authorization_url()
    return session.fetch_token(authorization_response=fake.authorize(url), **kwargs)


# -- 1. OAuth2Session's signature ------------------------------------------------------------


def test_the_constructor_takes_oauth2sessions_arguments_in_its_order(fake_kakao: FakeKakao) -> None:
    theirs = [
        n for n, p in inspect.signature(OAuth2Session).parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    assert list(inspect.signature(KakaoSession).parameters)[: len(theirs)] == theirs
    saved: list[dict[str, Any]] = []
    answer = fake_kakao.issue_tokens(access_ttl=0)  # expired: the first request refreshes
    session = KakaoSession(
        fake_kakao.client_id,
        WebApplicationClient(fake_kakao.client_id),
        fake_kakao.kauth_url + "/oauth/token",
        {"client_id": fake_kakao.client_id},
        ["talk_message"],
        DEFAULT_REDIRECT_URI,
        answer,
        "my-state",
        saved.append,
        "S256",
    )
    _me(session, fake_kakao)
    assert fake_kakao.refresh_calls == 1 and len(saved) == 1
    assert session.scope == ["talk_message"] and session.redirect_uri == DEFAULT_REDIRECT_URI


def test_kakaos_own_arguments_are_keyword_only_and_unknown_ones_a_type_error(fake_kakao: FakeKakao) -> None:
    with pytest.raises(ConfigurationError, match="client_secret="):
        KakaoSession(fake_kakao.client_id, "the-secret-given-as-in-older-releases")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        KakaoSession(fake_kakao.client_id, tokn={})  # type: ignore[call-arg]
    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI)
    with pytest.raises(TypeError):
        session.fetch_token(code="c", code_verfier="v")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        session.refresh_token(scope="x")  # type: ignore[call-arg]


# -- 2. token_updater --------------------------------------------------------------------------


def test_token_in_memory_is_refreshed_and_handed_to_token_updater(
    fake_kakao: FakeKakao, tmp_path: Path
) -> None:
    saved: list[dict[str, Any]] = []
    old = fake_kakao.issue_tokens(access_ttl=0)
    session = KakaoSession(token=old, token_updater=saved.append)
    _me(session, fake_kakao)
    _me(session, fake_kakao)
    assert fake_kakao.refresh_calls == 1
    assert [t["access_token"] for t in saved] == [session.access_token]
    assert (
        saved[0]["access_token"] != old["access_token"] and saved[0]["refresh_token"] == old["refresh_token"]
    )
    assert "client_secret" not in saved[0]
    assert not Path(fake_kakao.token_file or "").exists()  # in memory: token_updater persists it


def test_token_updater_is_called_after_a_login(fake_kakao: FakeKakao) -> None:
    saved: list[dict[str, Any]] = []
    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, token_updater=saved.append)
    token = _login(fake_kakao, session)
    assert [t["access_token"] for t in saved] == [token["access_token"]]


def test_with_a_store_token_updater_runs_once_per_refresh_and_on_adoption(fake_kakao: FakeKakao) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    first: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []
    # Both read the expired token now, as two processes on one file would.
    one = KakaoSession.from_file(fake_kakao.token_file, token_updater=first.append)
    two = KakaoSession.from_file(fake_kakao.token_file, token_updater=second.append)
    _me(one, fake_kakao)
    _me(one, fake_kakao)
    _me(two, fake_kakao)  # adopts the refresh the first made: no second call to Kakao
    assert fake_kakao.refresh_calls == 1
    assert [t["access_token"] for t in first] == [t["access_token"] for t in second] == [one.access_token]


def _failing_updater(error: Exception) -> Any:
    def updater(token: dict[str, Any]) -> None:
        raise error

    return updater


def _check_updater_failure(caught: BaseException, secret: str) -> None:
    assert isinstance(caught, TokenStoreError) and "token_updater failed (RuntimeError)" in str(caught)
    assert secret not in str(caught)  # the updater's own text is not kept
    assert caught.__cause__ is None and caught.__context__ is None


def test_a_failing_token_updater_is_a_typed_error_after_the_refresh(fake_kakao: FakeKakao) -> None:
    secret = "db down; dsn=postgres://app:hunter2@db"
    session = KakaoSession(
        token=fake_kakao.issue_tokens(access_ttl=0), token_updater=_failing_updater(RuntimeError(secret))
    )
    with pytest.raises(KakaoAuthError) as caught:
        session.get(fake_kakao.kapi_url + ME, timeout=10)
    _check_updater_failure(caught.value, secret)
    assert "only in this session" in str(caught.value)
    _me(session, fake_kakao)  # the refreshed token is in hand: no second refresh
    assert fake_kakao.refresh_calls == 1


def test_a_failing_token_updater_with_a_store_says_the_store_has_the_token(fake_kakao: FakeKakao) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    updater = _failing_updater(RuntimeError("hunter2"))
    session = KakaoSession.from_file(fake_kakao.token_file, token_updater=updater)
    with pytest.raises(TokenStoreError, match=r"was saved to .* but not passed to your updater") as caught:
        session.refresh_token()
    _check_updater_failure(caught.value, "hunter2")
    assert KakaoSession.from_file(fake_kakao.token_file).access_token == session.access_token


def test_a_failing_token_updater_after_a_refresh_ahead_reaches_a_request(fake_kakao: FakeKakao) -> None:
    offset = [0.0]
    session = KakaoSession(
        token=fake_kakao.issue_tokens(),
        token_updater=_failing_updater(RuntimeError("secret text")),
        clock=lambda: time.time() + offset[0],
    )
    offset[0] = fake_kakao.access_ttl - 60  # due (inside the leeway), still valid
    raised = []
    for attempt in range(3):
        try:
            _me(session, fake_kakao)
        except TokenStoreError as e:
            raised.append(e)
        if attempt == 0:  # a refresh ahead that outlived the first request's wait: let it end
            ends = time.monotonic() + 60
            while session.kakao_auth.core._ahead and time.monotonic() < ends:
                time.sleep(0.01)
    assert fake_kakao.refresh_calls == 1 and len(raised) == 1  # raised once, not only logged
    _check_updater_failure(raised[0], "secret text")


def test_a_failing_token_updater_is_not_an_outage_for_send_memo(fake_kakao: FakeKakao) -> None:
    session = KakaoSession(
        token=fake_kakao.issue_tokens(access_ttl=0),
        token_updater=_failing_updater(OSError(28, "No space left on device")),
    )
    with pytest.raises(TokenStoreError, match=r"token_updater failed \(OSError\)") as caught:
        session.send_memo("hi")
    assert not isinstance(caught.value, KakaoUnavailable) and "No space" not in str(caught.value)


# -- 3. a token set by hand -------------------------------------------------------------------


def test_a_token_set_by_hand_is_used_refreshed_and_saved(fake_kakao: FakeKakao, tmp_path: Path) -> None:
    path = tmp_path / "empty" / "kakao_token.json"
    path.parent.mkdir()
    session = KakaoSession(token_file=path)  # an empty store
    mine = fake_kakao.issue_tokens()
    session.token = mine
    assert _me(session, fake_kakao).request.headers["Authorization"] == "Bearer " + mine["access_token"]
    new = session.refresh_token()
    assert new["access_token"] != mine["access_token"] and fake_kakao.refresh_calls == 1
    assert KakaoSession.from_file(path).access_token == new["access_token"]  # saved through the store


def test_a_token_set_by_hand_is_what_the_next_refresh_starts_from(fake_kakao: FakeKakao) -> None:
    stored = fake_kakao.write_token_file()
    session = KakaoSession.from_file(fake_kakao.token_file)
    mine = {"access_token": "expired-by-hand", "expires_in": 0, "refresh_token": stored.refresh_token}
    session.token = mine  # the store's refresh token: saved
    response = _me(session, fake_kakao)
    assert fake_kakao.refresh_calls == 1  # the token set, expired, was refreshed before the call
    assert response.request.headers["Authorization"] == "Bearer " + session.access_token
    assert KakaoSession.from_file(fake_kakao.token_file).access_token == session.access_token


def test_a_stale_token_set_by_hand_never_overwrites_the_stores_rotated_one(fake_kakao: FakeKakao) -> None:
    # Two sessions on one file; one refreshes in Kakao's rotation month, and the other is given
    # back the copy it had (an app's own cache): the file must keep the live refresh token.
    fake_kakao.write_token_file(refresh_ttl=86400)
    stale = KakaoSession.from_file(fake_kakao.token_file)
    old = stale.token
    KakaoSession.from_file(fake_kakao.token_file).refresh_token()
    rotated = Path(fake_kakao.token_file or "").read_bytes()
    assert not fake_kakao.refresh_token_alive(old["refresh_token"])
    with pytest.raises(ConfigurationError, match="holds another refresh token") as caught:
        stale.token = old
    assert "\n" not in str(caught.value) and old["refresh_token"] not in str(caught.value)
    with pytest.raises(ConfigurationError):
        stale.access_token = "a-new-access-token"  # on the stale token in hand: refused too
    with pytest.raises(ConfigurationError):
        stale.token = {"access_token": "no-refresh-token"}  # would drop the stored one
    assert Path(fake_kakao.token_file or "").read_bytes() == rotated  # untouched
    kept = KakaoSession.from_file(fake_kakao.token_file).token["refresh_token"]
    assert fake_kakao.refresh_token_alive(kept)


def test_another_login_replaces_the_stores_once_kakao_accepts_it(fake_kakao: FakeKakao) -> None:
    fake_kakao.write_token_file()
    session = KakaoSession.from_file(fake_kakao.token_file)
    other = fake_kakao.issue_tokens()
    with pytest.raises(ConfigurationError):
        session.token = other  # which refresh token is newer cannot be told here
    session.refresh_token(refresh_token=other["refresh_token"])  # Kakao checks it, then it is saved
    assert KakaoSession.from_file(fake_kakao.token_file).token["refresh_token"] == other["refresh_token"]


def test_access_token_is_settable_and_deletable(fake_kakao: FakeKakao) -> None:
    session = KakaoSession(fake_kakao.client_id, token={"access_token": "first"})
    real = fake_kakao.issue_tokens()["access_token"]
    session.access_token = real
    assert session.access_token == real and session.authorized
    assert _me(session, fake_kakao).request.headers["Authorization"] == "Bearer " + real
    del session.access_token
    assert session.access_token is None and not session.authorized and session.token == {}
    with pytest.raises(TokenStoreError):
        session.get(fake_kakao.kapi_url + ME, timeout=10)  # never sent without a token


def test_the_oauthlib_client_holds_the_sessions_token(fake_kakao: FakeKakao) -> None:
    # OAuth2Session code reaches the token through session._client; it is the session's.
    session = KakaoSession(fake_kakao.client_id)
    real = fake_kakao.issue_tokens()["access_token"]
    session._client.access_token = real
    assert session.access_token == real and session._client.token["access_token"] == real
    assert _me(session, fake_kakao).request.headers["Authorization"] == "Bearer " + real
    client = WebApplicationClient(fake_kakao.client_id, token={"access_token": real})
    assert KakaoSession(client=client).access_token == real


def test_an_access_token_set_keeps_the_stores_refresh_token(fake_kakao: FakeKakao) -> None:
    stored = fake_kakao.write_token_file()
    session = KakaoSession(token_file=fake_kakao.token_file)  # the file not read yet
    session.access_token = fake_kakao.issue_tokens()["access_token"]
    assert KakaoSession.from_file(fake_kakao.token_file).token["refresh_token"] == stored.refresh_token


def test_the_token_round_trips(fake_kakao: FakeKakao) -> None:
    given = {"access_token": "abc", "token_type": "Bearer", "expires_at": time.time() + 3600.123456, "x": 1}
    session = KakaoSession(token=given)
    assert session.token == given
    given["access_token"] = "def"
    session.token = given
    assert session.token == given and session.access_token == "def"


# -- 4. explicit arguments --------------------------------------------------------------------


def test_fetch_token_uses_the_client_secret_given() -> None:
    with FakeKakao(client_secret="app-secret-0123456789") as fake, pytest.MonkeyPatch.context() as env:
        for name, value in fake.environ().items():
            env.setenv(name, value)
        env.delenv("KAKAO_CLIENT_SECRET", raising=False)
        saved: list[dict[str, Any]] = []
        session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, token_updater=saved.append)
        _login(fake, session, client_secret="app-secret-0123456789")
        fake.expire_access_tokens()
        session.token = {**session.token, "expires_at": time.time() - 1}
        new = session.refresh_token(client_secret="app-secret-0123456789")
        assert new["access_token"] == saved[-1]["access_token"] and fake.refresh_calls == 1


def test_verify_given_is_used_for_the_token_request(
    fake_kakao: FakeKakao, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, token_file=tmp_path / "t.json")
    url, _ = session.authorization_url()
    redirected = fake_kakao.authorize(url)
    with pytest.raises(ConfigurationError, match="not trusted here"):  # the system's CAs lack the fake's
        session.fetch_token(authorization_response=redirected, verify=True)
    with pytest.raises(ConfigurationError, match="CA bundle"):
        session.fetch_token(authorization_response=redirected, verify=str(tmp_path / "none.pem"))
    assert session.fetch_token(authorization_response=redirected, verify=fake_kakao.ca_bundle)["access_token"]
    session.token = {**session.token, "expires_at": time.time() - 1}
    with pytest.raises(ConfigurationError, match="not trusted here"):
        session.refresh_token(verify=True)
    assert session.refresh_token(verify=fake_kakao.ca_bundle)["access_token"]


def test_proxies_and_timeout_given_are_used_for_the_token_request(fake_kakao: FakeKakao) -> None:
    session = KakaoSession(token=fake_kakao.issue_tokens())
    nowhere = {"https": "http://127.0.0.1:9"}  # a proxy nothing listens on
    with pytest.raises(KakaoUnavailable):
        session.refresh_token(proxies=nowhere, timeout=2)
    fake_kakao.token_delay = 1.5
    started = time.monotonic()
    with pytest.raises(KakaoUnavailable, match=r"no answer within 0\.2s"):
        session.refresh_token(timeout=0.2)
    assert time.monotonic() - started < 1.5 * 3  # each attempt ended at its deadline, not Kakao's answer
    fake_kakao.token_delay = 0
    assert session.refresh_token(include_client_id=True)["access_token"]


@pytest.mark.parametrize(
    "bad",
    [
        {"timeout": "soon"},
        {"timeout": -1},
        {"verify": 1},
        {"proxies": "http://proxy"},
        {"cert": ["a", "b"]},
        {"include_client_id": False},
        {"include_client_id": "yes"},
        {"client_secret": 42},
        {"client_secret": "two words"},
        {"auth": ("id", "secret")},
        {"username": "u", "password": "p"},
        {"method": "GET"},
        {"force_querystring": True},
        {"body": "scope=x"},
        {"headers": {"X": 1}},
        {"token_url": "http://127.0.0.1:9/oauth/token"},
    ],
)
def test_explicit_arguments_are_checked(fake_kakao: FakeKakao, bad: dict[str, Any]) -> None:
    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI)
    with pytest.raises(ConfigurationError) as caught:
        session.fetch_token(code="a-code", **bad)
    assert "two words" not in str(caught.value)
    assert fake_kakao.token_calls == 0


def test_the_token_url_given_is_used_and_must_be_https(fake_kakao: FakeKakao) -> None:
    session = KakaoSession(token=fake_kakao.issue_tokens())
    with pytest.raises(KakaoUnavailable, match=r"127\.0\.0\.1:9\b"):
        session.refresh_token("https://127.0.0.1:9/oauth/token", timeout=2)
    with pytest.raises(ConfigurationError, match="https"):
        session.refresh_token("http://" + fake_kakao.kauth_url.partition("://")[2] + "/oauth/token")
    with pytest.raises(ConfigurationError, match="auto_refresh_url"):
        KakaoSession(token={"access_token": "a"}, auto_refresh_url="http://example.com/token")
    assert session.refresh_token(fake_kakao.kauth_url + "/oauth/token")["access_token"]
    assert fake_kakao.refresh_calls == 1


@pytest.mark.parametrize("in_memory", [False, True])
def test_an_explicit_refresh_during_an_automatic_one_never_posts_a_refresh_token_twice(
    fake_kakao: FakeKakao, in_memory: bool
) -> None:
    # refresh_token() is not the automatic refresh's flight, but takes the same store lock and
    # reads the store under it: in Kakao's rotation month it refreshes the rotated token.
    if in_memory:
        session = KakaoSession(token=fake_kakao.issue_tokens(access_ttl=0, refresh_ttl=86400))
    else:
        fake_kakao.write_token_file(access_ttl=0, refresh_ttl=86400)
        session = KakaoSession.from_file(fake_kakao.token_file)
    gate = fake_kakao.token_gate = threading.Event()
    errors: list[BaseException] = []

    def run(work: Any) -> threading.Thread:
        def body() -> None:
            try:
                work()
            except BaseException as e:  # asserted below
                errors.append(e)

        thread = threading.Thread(target=body)
        thread.start()
        return thread

    automatic = run(lambda: _me(session, fake_kakao))
    ends = time.monotonic() + 30
    while fake_kakao.token_calls < 1 and time.monotonic() < ends:  # its refresh is at Kakao
        time.sleep(0.01)
    explicit = run(session.refresh_token)
    time.sleep(0.2)  # the explicit refresh is waiting for the lock (were it not, it posts now)
    gate.set()
    automatic.join(60)
    explicit.join(60)
    assert not errors
    assert fake_kakao.token_calls == fake_kakao.refresh_calls == 2  # no refresh token refused
    assert fake_kakao.refresh_token_alive(session.token["refresh_token"])


def test_refresh_token_given_is_the_one_refreshed(fake_kakao: FakeKakao) -> None:
    first, second = fake_kakao.issue_tokens(), fake_kakao.issue_tokens()
    session = KakaoSession(token=first)
    session.refresh_token(refresh_token=second["refresh_token"])
    assert session.token["refresh_token"] == second["refresh_token"]


def test_a_refresh_token_kakao_refuses_leaves_the_store_as_it_was(fake_kakao: FakeKakao) -> None:
    stored = fake_kakao.write_token_file()
    session = KakaoSession.from_file(fake_kakao.token_file)
    with pytest.raises(LoginRequired):
        session.refresh_token(refresh_token="not-a-live-refresh-token")
    assert KakaoSession.from_file(fake_kakao.token_file).token["refresh_token"] == stored.refresh_token


def test_a_refresh_token_alone_logs_a_new_session_in(fake_kakao: FakeKakao) -> None:
    # OAuth2Session(client_id).refresh_token(url, refresh_token=saved): the default token file.
    refresh = fake_kakao.issue_tokens()["refresh_token"]
    token = KakaoSession(fake_kakao.client_id).refresh_token(refresh_token=refresh)
    assert token["refresh_token"] == refresh and fake_kakao.refresh_calls == 1
    assert KakaoSession.from_file().access_token == token["access_token"]


def test_a_requests_arguments_never_reach_the_automatic_refresh() -> None:
    with FakeKakao(client_secret="app-secret-0123456789") as fake, pytest.MonkeyPatch.context() as env:
        for name, value in fake.environ().items():
            env.setenv(name, value)
        session = KakaoSession(token=fake.issue_tokens(access_ttl=0), client_secret="app-secret-0123456789")
        # OAuth2Session would send these (as Basic auth) to the token endpoint: never here.
        _me(session, fake, client_id="another-app", client_secret="a-wrong-secret")
        assert fake.refresh_calls == 1


# -- 5. compliance hooks ----------------------------------------------------------------------


def test_compliance_hooks_run_where_oauth2session_runs_them(fake_kakao: FakeKakao) -> None:
    ran: list[str] = []

    def request_hook(kind: str) -> Any:
        def hook(url: str, headers: dict[str, str], data: Any) -> Any:
            ran.append(kind)
            return url, {**(headers or {}), "X-Hooked": kind}, data

        return hook

    def response_hook(kind: str) -> Any:
        def hook(response: requests.Response) -> requests.Response:
            ran.append(kind)
            return response

        return hook

    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, token_updater=lambda t: None)
    for kind in ("access_token_request", "refresh_token_request", "protected_request"):
        session.register_compliance_hook(kind, request_hook(kind))
    for kind in ("access_token_response", "refresh_token_response"):
        session.register_compliance_hook(kind, response_hook(kind))
    _login(fake_kakao, session)
    assert ran == ["access_token_request", "access_token_response"]
    sent = _me(session, fake_kakao)
    assert ran[2:] == ["protected_request"] and sent.request.headers["X-Hooked"] == "protected_request"
    session.token = {**session.token, "expires_at": time.time() - 1}
    _me(session, fake_kakao)  # the automatic refresh runs them too
    assert ran[3:] == ["protected_request", "refresh_token_request", "refresh_token_response"]
    session.refresh_token()
    assert ran[6:] == ["refresh_token_request", "refresh_token_response"]


# -- 6. authorization_url ---------------------------------------------------------------------


def test_authorization_url_keeps_the_endpoints_query_and_the_constructors_state(
    fake_kakao: FakeKakao,
) -> None:
    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, state="from-the-constructor")
    url, state = session.authorization_url(fake_kakao.kauth_url + "/oauth/authorize?prompt=login")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == "/oauth/authorize" and query["prompt"] == ["login"]
    assert state == "from-the-constructor" and query["state"] == [state]
    assert session.fetch_token(authorization_response=fake_kakao.authorize(url))["access_token"]
    calls = iter(["one", "two"])
    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, state=lambda: next(calls))
    assert session.authorization_url()[1] == "one"


# -- 7. tokens as oauthlib reads them; every error typed ---------------------------------------


def test_a_token_with_numbers_as_text_is_taken(fake_kakao: FakeKakao) -> None:
    answer = fake_kakao.issue_tokens()
    session = KakaoSession(token={**answer, "expires_in": "3600"})
    assert _me(session, fake_kakao)
    expired = KakaoSession(token={**answer, "expires_in": "-1"}, token_updater=lambda t: None)
    _me(expired, fake_kakao)
    assert fake_kakao.refresh_calls == 1


@pytest.mark.parametrize(
    "token",
    [
        {"access_token": "has a space"},
        {"access_token": "a", "expires_in": "soon"},
        {"access_token": "a", "token_type": "mac"},
        {"access_token": 12},
        ["access_token"],
    ],
)
def test_an_unusable_token_is_a_configuration_error_that_does_not_show_it(token: Any) -> None:
    session = KakaoSession(token={"access_token": "kept"})
    with pytest.raises(ConfigurationError) as caught:
        session.token = token
    assert "has a space" not in str(caught.value) and caught.value.__cause__ is None
    assert session.access_token == "kept"


def test_every_error_is_a_kakao_auth_error(fake_kakao: FakeKakao) -> None:
    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, state="mine")
    with pytest.raises(KakaoAuthError) as caught:
        session.fetch_token(authorization_response=DEFAULT_REDIRECT_URI + "?code=abc&state=forged")
    assert isinstance(caught.value, MismatchingStateError)  # what OAuth2Session's callers catch
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)
    for bad in (
        lambda: KakaoSession(pkce="plain"),
        lambda: KakaoSession(scope=[1]),
        lambda: session.register_compliance_hook("before_everything", print),
        lambda: session.refresh_token(include_client_id=False),
        lambda: KakaoSession(client=BackendApplicationClient(fake_kakao.client_id)),
        lambda: KakaoSession(token_updater="save"),  # type: ignore[arg-type]
        lambda: KakaoSession(auto_refresh_kwargs={"scope": "x"}),
        lambda: KakaoSession("a", auto_refresh_kwargs={"client_id": "b"}),
        lambda: KakaoSession(token={"access_token": "a"}, token_file="t.json"),
        lambda: session.token_from_fragment("https://x/#access_token=a"),
        lambda: session.authorization_url("http://kauth.example/oauth/authorize"),
        lambda: KakaoSession().authorization_url(),  # no redirect URI
    ):
        with pytest.raises(ConfigurationError):
            bad()


def test_no_token_in_the_repr(fake_kakao: FakeKakao) -> None:
    answer = fake_kakao.issue_tokens()
    session = KakaoSession(token=answer)
    assert answer["access_token"] not in repr(session) and answer["refresh_token"] not in repr(session)


# -- issue #27, point 10: a web app's callback with public names -------------------------------


def test_a_web_apps_callback_gets_the_verifier_by_its_public_name(fake_kakao: FakeKakao) -> None:
    first = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI)
    url, state = first.authorization_url()
    verifier = first.code_verifier
    assert verifier and len(verifier) >= 43
    redirected = fake_kakao.authorize(url)
    callback = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI)
    token = callback.fetch_token(authorization_response=redirected, state=state, code_verifier=verifier)
    assert token["access_token"] and fake_kakao.code_calls == 1
