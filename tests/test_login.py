"""Logging in with KakaoSession: state and PKCE always on, errors typed, the file saved."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from kakao_auth import KakaoAuthError, KakaoOAuthError, KakaoSession, LoginRequired
from kakao_auth.oauth import parse_redirect
from kakao_auth.testing import DEFAULT_REDIRECT_URI, FakeKakao


def _login(path: Path, **kwargs: object) -> KakaoSession:
    return KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, token_file=path, **kwargs)  # type: ignore[arg-type]


def test_authorization_url_has_state_and_s256_pkce(fake_kakao: FakeKakao, token_file: Path) -> None:
    url, state = _login(token_file, scope=["talk_message", "profile_nickname"]).authorization_url()
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(fake_kakao.authorize_base + "/oauth/authorize?")  # KAKAO_AUTHORIZE_URL
    assert query["state"] == state and len(state) >= 32
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["scope"] == "talk_message,profile_nickname"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == DEFAULT_REDIRECT_URI


def test_login_saves_a_private_file_that_from_file_can_use_alone(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = _login(token_file)
    url, _ = login.authorization_url()
    token = login.fetch_token(authorization_response=fake_kakao.authorize(url))
    assert token["access_token"] and token["refresh_token"]
    saved = json.loads(token_file.read_text())
    assert saved["client_id"] == fake_kakao.client_id
    assert saved["expires_at"] > 0 and saved["refresh_token_expires_at"] > 0
    if sys.platform != "win32":
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    monkeypatch.delenv("KAKAO_REST_API_KEY")
    fake_kakao.expire_access_tokens()
    later = KakaoSession.from_file(token_file)
    assert later.get(fake_kakao.kapi_url + "/v2/user/me").status_code == 200
    assert fake_kakao.refresh_calls == 1


def test_bare_code_works_too(fake_kakao: FakeKakao, token_file: Path) -> None:
    login = _login(token_file)
    url, _ = login.authorization_url()
    code = parse_qs(urlsplit(fake_kakao.authorize(url)).query)["code"][0]
    login.fetch_token(code=code)
    assert login.get(fake_kakao.kapi_url + "/v2/user/me").status_code == 200


def test_state_mismatch_is_refused_before_any_exchange(fake_kakao: FakeKakao, token_file: Path) -> None:
    login = _login(token_file)
    url, _ = login.authorization_url()
    forged = fake_kakao.authorize(url).replace("state=", "state=x")
    with pytest.raises(KakaoAuthError, match="state does not match"):
        login.fetch_token(authorization_response=forged)
    assert fake_kakao.token_calls == 0
    assert not token_file.exists()


def test_denied_consent_is_a_typed_error(fake_kakao: FakeKakao, token_file: Path) -> None:
    login = _login(token_file)
    url, _ = login.authorization_url()
    fake_kakao.deny_next_login = True
    with pytest.raises(KakaoOAuthError) as info:
        login.fetch_token(authorization_response=fake_kakao.authorize(url))
    assert info.value.error == "access_denied"
    assert fake_kakao.token_calls == 0


def test_reused_code_needs_a_new_login(fake_kakao: FakeKakao, token_file: Path) -> None:
    login = _login(token_file)
    url, _ = login.authorization_url()
    redirected = fake_kakao.authorize(url)
    login.fetch_token(authorization_response=redirected)
    with pytest.raises(LoginRequired) as info:
        login.fetch_token(authorization_response=redirected)
    assert info.value.error_code == "KOE320"


def test_wrong_pkce_verifier_is_rejected(fake_kakao: FakeKakao, token_file: Path) -> None:
    login = _login(token_file)
    url, _ = login.authorization_url()
    redirected = fake_kakao.authorize(url)
    login._code_verifier = "v" * 64  # not the verifier whose challenge Kakao holds
    with pytest.raises(KakaoOAuthError, match="invalid_grant"):
        login.fetch_token(authorization_response=redirected)
    assert not token_file.exists()


def test_login_with_client_secret_stores_it_privately(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeKakao(client_secret="the-app-secret-0123456789") as fake:
        for name, value in fake.environ().items():
            monkeypatch.setenv(name, value)
        path = tmp_path / "t.json"
        login = KakaoSession(
            fake.client_id,
            client_secret="the-app-secret-0123456789",
            redirect_uri=DEFAULT_REDIRECT_URI,
            token_file=path,
        )
        url, _ = login.authorization_url()
        login.fetch_token(authorization_response=fake.authorize(url))
        assert "client_secret" not in login.token
        fake.expire_access_tokens()
        assert KakaoSession.from_file(path).get(fake.kapi_url + "/v2/user/me").status_code == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://localhost:8765/callback?code=abc&state=s1", "abc"),
        ("  abc  ", "abc"),
        ("code=abc&state=s1", "abc"),
    ],
)
def test_parse_redirect(text: str, expected: str) -> None:
    assert parse_redirect(text, "s1") == expected


@pytest.mark.parametrize(
    "text", ["http://localhost:8765/callback", "localhost:8765/callback", "https://example.com/cb#frag"]
)
def test_a_pasted_url_without_a_query_is_not_taken_as_a_code(text: str) -> None:
    with pytest.raises(KakaoAuthError, match="the pasted URL has no code"):
        parse_redirect(text, "s1")


def test_a_session_refuses_a_redirect_without_a_query_before_any_exchange(
    fake_kakao: FakeKakao, token_file: Path
) -> None:
    login = _login(token_file)
    login.authorization_url()
    with pytest.raises(KakaoAuthError, match="the pasted URL has no code"):
        login.fetch_token(authorization_response="http://localhost:8765/callback")
    assert fake_kakao.token_calls == 0


def test_parse_redirect_reads_the_error_even_without_state() -> None:
    with pytest.raises(KakaoOAuthError, match="access_denied"):
        parse_redirect(
            "http://localhost:8765/callback?error=access_denied&error_description=User+denied", "s1"
        )


def test_a_web_apps_callback_session_checks_the_state_it_is_given(fake_kakao: FakeKakao) -> None:
    # Step 1 (one request): the login URL; its state and verifier are kept in the user's session.
    first = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI)
    url, state = first.authorization_url()
    verifier = first._code_verifier
    redirected = fake_kakao.authorize(url)
    # Step 2 (another request, a new session object): the callback.
    forged = redirected.replace(f"state={state}", "state=forged")
    stranger = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI)
    with pytest.raises(KakaoAuthError, match="state does not match"):
        stranger.fetch_token(authorization_response=forged, state=state)
    assert fake_kakao.token_calls == 0
    callback = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI)
    token = callback.fetch_token(authorization_response=redirected, state=state, code_verifier=verifier)
    assert token["access_token"] and fake_kakao.code_calls == 1


def test_the_callback_server_never_asks_dns_for_its_own_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # http.server looks up the name of the address it binds (socket.getfqdn: a DNS query for
    # 127.0.0.1 and ::1). A resolver that does not answer would hold the login before it starts.
    import socket

    from kakao_auth.cli.callback import CallbackServer
    from kakao_auth.testing import free_port

    asked: list[str] = []
    monkeypatch.setattr(socket, "getfqdn", lambda name="": asked.append(name) or name)
    with CallbackServer(f"http://localhost:{free_port()}/callback", "state"):
        pass
    assert asked == []


def test_kakao_auth_login_says_a_pasted_url_has_no_code(fake_kakao: FakeKakao, token_file: Path) -> None:
    env = {**os.environ, **fake_kakao.environ(), "KAKAO_TOKEN_FILE": str(token_file)}
    argv = [
        sys.executable,
        "-m",
        "kakao_auth",
        "login",
        "--no-browser",
        "--redirect-uri",
        DEFAULT_REDIRECT_URI,
    ]
    done = subprocess.run(
        argv, env=env, input=DEFAULT_REDIRECT_URI + "\n", capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "the pasted URL has no code" in done.stderr and "KOE320" not in done.stderr
    assert fake_kakao.token_calls == 0
