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
