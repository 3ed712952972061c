"""WebLogin against the fake Kakao over HTTPS: OIDC verified, state and replay refused, consent, leaving."""

from __future__ import annotations

import dataclasses
import ssl
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from kakao_auth import (
    ConfigurationError,
    ConsentRequired,
    IdTokenError,
    KakaoOAuthError,
    KakaoUnavailable,
    LoginDenied,
    LoginRequired,
    LoginStateMismatch,
    WebLogin,
    verify_id_token,
)
from kakao_auth.api import calls
from kakao_auth.testing import DEFAULT_REDIRECT_URI, FakeKakao
from kakao_auth.testing.net import WRITE, Handler, TLSServer
from kakao_auth.web import LoginStart, logout, scopes, unlink

from tests.web_vault import DictVault

SECRET = "s3cret-client-secret-value"


@pytest.fixture
def fake(fake_kakao: FakeKakao, monkeypatch: pytest.MonkeyPatch) -> FakeKakao:
    fake_kakao.client_secret = SECRET
    monkeypatch.setenv("KAKAO_CLIENT_SECRET", SECRET)
    return fake_kakao


@pytest.fixture
def vault() -> DictVault:
    return DictVault()


def _login(
    vault: DictVault, scope: tuple[str, ...] = ("openid", "profile_nickname", "talk_message")
) -> WebLogin:
    return WebLogin(vault, redirect_uri=DEFAULT_REDIRECT_URI, scope=list(scope))


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_an_openid_login_is_verified_and_saved_under_the_kakao_user_id(
    fake: FakeKakao, vault: DictVault
) -> None:
    login = _login(vault)
    start = login.begin()
    sent = _query(start.url)
    assert start.url.startswith(fake.kauth_url + "/oauth/authorize?")
    assert sent["state"] == start.state and sent["nonce"] == start.nonce
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert sent["scope"] == "openid,profile_nickname,talk_message"
    user = login.complete(fake.authorize(start.url), start.to_dict())
    assert user.id == str(fake.user_id)
    assert user.claims["sub"] == user.id and user.claims["nonce"] == start.nonce
    assert user.claims["aud"] == fake.client_id and user.claims["iss"] == fake.kauth_url
    assert vault.tokens[user.id] == user.token and user.token.id_token
    assert user.token.refresh_token and fake.access_token_alive(user.token.access_token)
    # The verifier and the secret went in the body (client_secret_post), as Kakao takes them.
    assert {"code_verifier", "client_secret", "redirect_uri"} <= set(fake.token_form_fields[-1])
    assert SECRET not in repr(user) and user.token.access_token not in repr(user)


def test_without_openid_the_user_id_comes_from_user_me(fake: FakeKakao, vault: DictVault) -> None:
    login = _login(vault, ("profile_nickname",))
    start = login.begin()
    fake.browser_user = 777
    user = login.complete(fake.authorize(start.url), start)
    assert user.id == "777" and user.claims == {"sub": "777"} and user.token.id_token is None
    assert list(vault.tokens) == ["777"]


def test_each_user_gets_their_own_row_and_a_new_login_replaces_the_old(
    fake: FakeKakao, vault: DictVault
) -> None:
    login = _login(vault)
    for user_id in (101, 202, 101):
        fake.browser_user = user_id
        start = login.begin()
        assert login.complete(fake.authorize(start.url), start).id == str(user_id)
    assert sorted(vault.tokens) == ["101", "202"] and vault.writes == 3
    fake.browser_user = 101
    start = login.begin()
    user = login.complete(fake.authorize(start.url), start)
    assert vault.tokens["101"] == user.token


def test_a_callback_with_another_state_is_refused_before_any_exchange(
    fake: FakeKakao, vault: DictVault
) -> None:
    login = _login(vault)
    mine, other = login.begin(), login.begin()
    with pytest.raises(LoginStateMismatch, match="state"):
        login.complete(fake.authorize(other.url), mine)
    callback = fake.authorize(mine.url)
    without_state = "&".join(p for p in urlsplit(callback).query.split("&") if not p.startswith("state="))
    with pytest.raises(LoginStateMismatch):
        login.complete(without_state, mine)
    assert fake.code_calls == 0 and vault.writes == 0


def test_a_replayed_callback_is_refused_without_touching_the_vault(fake: FakeKakao, vault: DictVault) -> None:
    login = _login(vault)
    start = login.begin()
    callback = fake.authorize(start.url)
    login.complete(callback, start.to_dict())
    with pytest.raises(LoginStateMismatch, match="already completed"):
        login.complete(callback, start.to_dict())
    assert fake.code_calls == 1 and vault.writes == 1
    # Another process (no memory of this one's logins): Kakao refuses the spent code.
    with pytest.raises(LoginRequired) as info:
        _login(vault).complete(callback, start.to_dict())
    assert info.value.error_code == "KOE320" and vault.writes == 1


def test_a_second_code_or_state_in_the_callback_is_refused(fake: FakeKakao, vault: DictVault) -> None:
    login = _login(vault)
    start = login.begin()
    callback = fake.authorize(start.url)
    for extra in ("&code=another", f"&state={start.state}"):
        with pytest.raises(LoginStateMismatch, match="more than once"):
            login.complete(callback + extra, start)
    assert fake.code_calls == 0


def test_the_query_mapping_of_a_framework_works_too(fake: FakeKakao, vault: DictVault) -> None:
    login = _login(vault)
    start = login.begin()
    params = dict(parse_qsl(urlsplit(fake.authorize(start.url)).query))
    assert login.complete(params, start).id == str(fake.user_id)


def test_cancel_is_login_denied_and_other_errors_are_typed(fake: FakeKakao, vault: DictVault) -> None:
    login = _login(vault)
    start = login.begin()
    fake.deny_next_login = True
    with pytest.raises(LoginDenied, match="cancelled"):
        login.complete(fake.authorize(start.url), start)
    with pytest.raises(KakaoOAuthError) as info:
        login.complete("?error=consent_required&error_description=need%20consent", start)
    assert not isinstance(info.value, LoginDenied) and info.value.error == "consent_required"
    with pytest.raises(KakaoOAuthError) as info:
        login.complete("?error=%1b%5b31mevil%0aline", start)
    assert info.value.error == "unknown_error" and "\x1b" not in str(info.value)
    assert fake.code_calls == 0 and vault.writes == 0


def test_an_id_token_that_fails_a_check_saves_nothing(fake: FakeKakao, vault: DictVault) -> None:
    login = _login(vault)
    start = login.begin()
    forged = dataclasses.replace(start, nonce="another-login-nonce-0123")
    with pytest.raises(IdTokenError) as info:
        login.complete(fake.authorize(start.url), forged)
    assert info.value.check == "nonce" and vault.writes == 0


def test_a_start_that_is_too_old_or_not_ours_is_refused(fake: FakeKakao, vault: DictVault) -> None:
    login = _login(vault)
    start = login.begin()
    old = dataclasses.replace(start, started_at=time.time() - 3600)
    with pytest.raises(LoginStateMismatch, match="too long ago"):
        login.complete(fake.authorize(start.url), old.to_dict())
    for garbage in (
        None,
        {},
        "x",
        {**start.to_dict(), "state": "short"},
        {**start.to_dict(), "started_at": True},
    ):
        with pytest.raises(LoginStateMismatch):
            login.complete(fake.authorize(start.url), garbage)  # type: ignore[arg-type]
    assert fake.code_calls == 0 and vault.writes == 0
    assert LoginStart.from_dict(start.to_dict()) == start


def test_begin_takes_prompt_and_checks_its_arguments(fake: FakeKakao, vault: DictVault) -> None:
    login = _login(vault)
    assert _query(login.begin(prompt="select_account").url)["prompt"] == "select_account"
    with pytest.raises(ConfigurationError, match="prompt"):
        login.begin(prompt="always")
    with pytest.raises(ConfigurationError, match="scope"):
        login.begin(scope=["talk message"])
    with pytest.raises(ConfigurationError, match="redirect_uri"):
        WebLogin(vault, redirect_uri="javascript:alert(1)")


def test_an_audience_given_as_a_string_is_one_app_key(fake: FakeKakao, vault: DictVault) -> None:
    login = WebLogin(vault, redirect_uri=DEFAULT_REDIRECT_URI, scope=["openid"], audience="NATIVEKEY")
    assert login.audience == ["fake-rest-api-key", "NATIVEKEY"]
    for aud, accepted in (("NATIVEKEY", True), ("N", False)):  # "N": one character of the key
        token = fake.sign_id_token({**fake.id_token_claims(42), "aud": aud})
        if accepted:
            assert verify_id_token(token, audience=login.audience)["aud"] == aud
        else:
            with pytest.raises(IdTokenError, match="aud"):
                verify_id_token(token, audience=login.audience)
    for bad in (b"NATIVEKEY", 5, {"NATIVEKEY": 1}, [""], ["NATIVE", None]):
        with pytest.raises(ConfigurationError, match="audience"):
            WebLogin(vault, redirect_uri=DEFAULT_REDIRECT_URI, audience=bad)  # type: ignore[arg-type]


def test_a_login_start_shows_where_it_leads_but_not_its_secrets(fake: FakeKakao, vault: DictVault) -> None:
    start = _login(vault).begin()
    shown = repr(start)
    assert shown.startswith(f"LoginStart(url='{fake.kauth_url}/oauth/authorize'")
    challenge = _query(start.url)["code_challenge"]
    for secret in (start.state, start.nonce, start.code_verifier, challenge):
        assert secret not in shown


def test_without_a_client_id_the_message_says_where_to_set_it(
    fake: FakeKakao, vault: DictVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAKAO_REST_API_KEY")
    with pytest.raises(ConfigurationError, match="KAKAO_REST_API_KEY"):
        _login(vault)


def test_additional_consent_asks_for_just_the_missing_scopes_and_replaces_the_token(
    fake: FakeKakao, vault: DictVault
) -> None:
    fake.scope = "profile_nickname"
    login = _login(vault, ("openid", "profile_nickname"))
    start = login.begin()
    user = login.complete(fake.authorize(start.url), start)
    with pytest.raises(ConsentRequired) as info:
        vault.session(user.id).send_memo("hello")
    assert info.value.required_scopes == ("talk_message",) and info.value.code == -402
    again = login.begin(scope=info.value.required_scopes)
    assert _query(again.url)["scope"] == "openid,talk_message"  # openid, or no new id_token
    renewed = login.complete(fake.authorize(again.url), again)
    assert renewed.id == user.id and renewed.token.id_token and vault.tokens[user.id] == renewed.token
    assert vault.session(user.id).send_memo("hello") == {"result_code": 0}
    agreed = {s["id"] for s in scopes(vault, user.id) if s["agreed"]}
    assert {"talk_message", "profile_nickname", "openid"} <= agreed


def test_unlink_and_logout_revoke_that_user_only_then_forget_them(fake: FakeKakao, vault: DictVault) -> None:
    login = _login(vault)
    ids = []
    for user_id in (11, 22, 33):
        fake.browser_user = user_id
        start = login.begin()
        ids.append(login.complete(fake.authorize(start.url), start).id)
    kept = vault.tokens["33"]
    unlink(vault, "11")
    logout(vault, 22)
    assert fake.unlinked == [11] and fake.logged_out == [22]
    assert sorted(vault.tokens) == ["33"] and fake.access_token_alive(kept.access_token)


def test_a_login_already_gone_at_kakao_still_ends_deleted(fake: FakeKakao, vault: DictVault) -> None:
    login = _login(vault)
    start = login.begin()
    user = login.complete(fake.authorize(start.url), start)
    fake.revoke_all()  # unlinked from Kakao's side: every token dead, the refresh too
    unlink(vault, user.id)
    assert user.id not in vault.tokens


def test_kakao_unreachable_keeps_the_token_to_try_again(
    fake: FakeKakao, vault: DictVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = _login(vault)
    start = login.begin()
    user = login.complete(fake.authorize(start.url), start)
    monkeypatch.setenv("KAKAO_KAPI_URL", "https://127.0.0.1:9")
    with pytest.raises(KakaoUnavailable) as info:
        unlink(vault, user.id)
    assert vault.tokens[user.id] == user.token
    assert info.value.__context__ is None and user.token.access_token not in repr(info.value.__cause__)


def test_importing_kakao_auth_or_its_web_wing_imports_no_jwt_or_sqlalchemy() -> None:
    code = (
        "import sys, kakao_auth, kakao_auth.web\n"
        "kakao_auth.WebLogin, kakao_auth.verify_id_token\n"
        "print(sorted(m for m in ('jwt', 'sqlalchemy', 'cryptography') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


class _Drip(Handler):
    """A kapi that answers every call 200, one byte every 0.2 s."""

    def do_POST(self) -> None:
        self._body()
        body = b'{"id": 4242424242, "pad": "xxxxxxxxxxxxxxxx"}'
        self._reply((200, {"Content-Type": "application/json", WRITE: "drip:0.2"}, body))


def test_a_kapi_that_drips_its_answer_is_cut_off_and_the_token_kept(
    fake: FakeKakao, vault: DictVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = _login(vault)
    start = login.begin()
    user = login.complete(fake.authorize(start.url), start)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    fake.ca.issue_cert("127.0.0.1").configure_cert(context)
    server = TLSServer(_Drip, None, context)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    monkeypatch.setattr(calls, "API_TIMEOUT", 1.0)  # the bound of every call the library makes
    monkeypatch.setenv("KAKAO_KAPI_URL", server.url)
    try:
        started = time.monotonic()
        with pytest.raises(KakaoUnavailable):
            unlink(vault, user.id)
        assert time.monotonic() - started < 4  # the whole answer would take 9 s
    finally:
        server.shutdown()
        server.server_close()
    assert vault.tokens[user.id] == user.token
