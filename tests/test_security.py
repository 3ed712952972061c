"""Secrets stay secret, and the token only ever travels over HTTPS to the API host."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from kakao_auth import KakaoAuth, KakaoAuthError, KakaoOAuthError, KakaoSession
from kakao_auth.testing import DEFAULT_REDIRECT_URI, FakeKakao

from tests.conftest import EchoServer

SECRET = "app-secret-0123456789abcdef"


def test_token_refused_for_foreign_hosts_and_plain_http(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file)
    api = urlsplit(fake_kakao.kapi_url)
    for url in (
        "https://example.com/v2/user/me",
        f"http://{api.netloc}/v2/user/me",
        fake_kakao.kauth_url + "/v2/user/me",
        f"https://{api.hostname}:1/v2/user/me",
    ):
        with pytest.raises(KakaoAuthError, match="refusing to send the Kakao access token") as info:
            requests.get(url, auth=auth)
        assert urlsplit(url).netloc in str(info.value)
    assert fake_kakao.api_calls == 0


def test_kapi_urls_follow_kakao_kapi_url(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    r = requests.get("https://kapi.kakao.com/v2/user/me", auth=KakaoAuth.from_file(token_file))
    assert r.url == fake_kakao.kapi_url + "/v2/user/me"
    assert r.json()["id"] == fake_kakao.user_id


def test_a_redirect_to_another_host_never_gets_the_token(
    fake_kakao: FakeKakao, token_file: Path, echo: EchoServer
) -> None:
    fake_kakao.write_token_file()
    fake_kakao.redirects["/v2/elsewhere"] = echo.url + "/steal"
    r = requests.get(fake_kakao.kapi_url + "/v2/elsewhere", auth=KakaoAuth.from_file(token_file))
    assert r.status_code == 401  # the foreign host's -401 is not answered with a refresh + re-send
    assert echo.authorizations == [None]
    assert fake_kakao.token_calls == 0


def test_no_secret_in_logs_reprs_or_errors_across_a_full_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: kakao_auth, requests_oauthlib, urllib3
    shown: list[str] = []
    with FakeKakao(client_secret=SECRET) as fake:
        for name, value in fake.environ().items():
            monkeypatch.setenv(name, value)
        path = tmp_path / "kakao_token.json"
        login = KakaoSession(
            fake.client_id, client_secret=SECRET, redirect_uri=DEFAULT_REDIRECT_URI, token_file=path
        )
        url, _ = login.authorization_url()
        redirected = fake.authorize(url)
        code = parse_qs(urlsplit(redirected).query)["code"][0]
        secrets = {SECRET, code, login._code_verifier or ""}
        secrets.update(_tokens(login.fetch_token(authorization_response=redirected)))
        session = KakaoSession.from_file(path, client_secret=SECRET)
        fake.expire_access_tokens()  # reactive refresh
        session.get(fake.kapi_url + "/v2/user/me")
        secrets.update(_tokens(session.token))
        session.refresh_token()  # forced refresh
        secrets.update(_tokens(session.token))
        shown += [
            repr(session),
            repr(session.kakao_auth),
            repr(session.kakao_auth.token),
            str(session.kakao_auth.token),
        ]
        core = session.kakao_auth.core
        shown += [repr(session.kakao_auth.store), repr(core), repr(core.refresher), repr(fake)]
        fake.fail_token("KOE322")
        with pytest.raises(KakaoOAuthError) as info:
            session.refresh_token()
        shown += [str(info.value), repr(info.value), str(pickle.loads(pickle.dumps(info.value)))]
        with pytest.raises(KakaoOAuthError) as reused:
            login.fetch_token(authorization_response=redirected)
        shown += [str(reused.value), repr(reused.value), str(reused.value.description)]
    shown += [record.getMessage() for record in caplog.records]
    shown += [str(record.args) for record in caplog.records]
    assert len(caplog.records) > 5
    assert len(secrets) >= 7
    for text in shown:
        for secret in secrets:
            assert secret not in text, f"a secret leaked into: {text[:80]}"


def _tokens(token: dict[str, object]) -> set[str]:
    return {str(token[k]) for k in ("access_token", "refresh_token") if token.get(k)}


# -- passwords in URLs never reach a message (issue 24) -----------------------------------------

PASSWORD = "Pw0rdPiece"  # short: printable() hides only token-long runs, this must be kept out


def _chain_text(error: BaseException) -> str:
    """``error``'s message and repr, and those of every exception its cause/context chain holds."""
    seen: list[str] = []
    node: BaseException | None = error
    while node is not None and len(seen) < 20:
        seen.append(f"{type(node).__name__}: {node} {node!r}")
        node = node.__cause__ or node.__context__
    return "\n".join(seen)


def _github_write_check() -> None:
    from kakao_auth import GitHubSecretStore

    store = GitHubSecretStore("KAKAO_REFRESH_TOKEN", repository="octo/kakao-cron", token="ghp_" + "a" * 36)
    store.load()
    store.check_writable()  # the write check reaches the API URL


@pytest.mark.parametrize("userinfo", [f"user:{PASSWORD}@", f"user:a/{PASSWORD}@", f"{PASSWORD}@"])
def test_no_password_from_the_github_api_url_in_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, userinfo: str
) -> None:
    pytest.importorskip("nacl")
    monkeypatch.setenv("GITHUB_API_URL", f"https://{userinfo}127.0.0.1:1")
    monkeypatch.setenv("KAKAO_REFRESH_TOKEN", "a-refresh-token-from-the-secret-0123456789")
    with pytest.raises(KakaoAuthError) as info:
        _github_write_check()
    assert PASSWORD not in _chain_text(info.value)


@pytest.mark.parametrize("userinfo", [f"user:{PASSWORD}@", f"user:a/{PASSWORD}@", f"user:a?{PASSWORD}@"])
def test_no_password_from_kakao_kauth_url_in_a_message(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch, userinfo: str
) -> None:
    fake_kakao.write_token_file(access_ttl=0)  # expired: the first use refreshes
    monkeypatch.setenv("KAKAO_KAUTH_URL", f"https://{userinfo}127.0.0.1:1")
    with pytest.raises(KakaoAuthError) as info:
        KakaoAuth.from_file(token_file, retries=0).valid_token()
    assert PASSWORD not in _chain_text(info.value)
    assert fake_kakao.token_calls == 0


@pytest.mark.parametrize(
    "url",
    [
        f"github://user:{PASSWORD}@octo/kakao-cron/KAKAO_REFRESH_TOKEN",
        f"github://user:a/{PASSWORD}@octo/kakao-cron/KAKAO_REFRESH_TOKEN",
        f"GITHUB://{PASSWORD}@octo/kakao-cron/KAKAO_REFRESH_TOKEN",
        f"file://user:{PASSWORD}@example.com/tmp/kakao_token.json",
        f"redis://:{PASSWORD}/x@127.0.0.1:6379/0",
        f"redis://:x/{PASSWORD}@127.0.0.1:6379/0",
        f"redis://:x?{PASSWORD}@127.0.0.1:6379/0",
        f"redis://:x#{PASSWORD}@127.0.0.1:6379/0",
        f"rediss://user:{PASSWORD[:4]}#{PASSWORD[4:]}@127.0.0.1:6379/0",
        f"redis://:{PASSWORD}@127.0.0.1:6379/0?socket_timeout=-1",
        f"redis://:{PASSWORD}@127.0.0.1:notaport/0",
    ],
)
def test_no_password_from_a_store_url_in_a_message(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from kakao_auth.stores import open_store

    if url.startswith("redis"):
        pytest.importorskip("redis")
    if url.lower().startswith("github"):
        pytest.importorskip("nacl")
    monkeypatch.setenv("KAKAO_REST_API_KEY", "0123456789abcdef0123456789abcdef")
    with pytest.raises(KakaoAuthError) as info:
        open_store(url)
    shown = _chain_text(info.value)
    assert PASSWORD not in shown and PASSWORD[:4] not in shown and PASSWORD[4:] not in shown


@pytest.mark.parametrize("password", [f"a/{PASSWORD}", f"{PASSWORD}/b", f"a?{PASSWORD}", f"a#{PASSWORD}"])
def test_a_redis_store_built_directly_never_shows_its_password(password: str) -> None:
    pytest.importorskip("redis")
    from kakao_auth import RedisTokenStore

    shown = []
    try:
        store = RedisTokenStore(f"redis://:{password}@127.0.0.1:1/0", key="k", socket_timeout=0.5)
        shown += [repr(store), store.location]
        store.load()  # nothing listens on port 1
    except KakaoAuthError as e:
        shown.append(_chain_text(e))
    assert shown and PASSWORD not in "\n".join(shown)


def test_the_fakes_listen_on_loopback_only(fake_kakao: FakeKakao) -> None:
    # A fake hands out real-looking tokens to anyone who asks: it must not be reachable off this machine.
    servers = list(fake_kakao._servers)
    try:
        from kakao_auth.testing import FakeGitHub

        with FakeGitHub() as gh:
            assert gh._server is not None
            servers.append(gh._server)
            assert urlsplit(gh.api_url).hostname == "127.0.0.1"
            assert [s.socket.getsockname()[0] for s in servers] == ["127.0.0.1"] * len(servers)
    except ImportError:  # no PyNaCl: the fake Kakao alone
        assert [s.socket.getsockname()[0] for s in servers] == ["127.0.0.1"] * len(servers)
    assert len(servers) >= 2
    for url in (fake_kakao.kauth_url, fake_kakao.kapi_url):
        assert urlsplit(url).hostname == "127.0.0.1"
