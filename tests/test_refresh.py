"""Refresh against the fake Kakao: pre-emptive, reactive, rotation, merge, and every failure."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from kakao_auth import (
    ConfigurationError,
    KakaoAuth,
    KakaoAuthError,
    KakaoOAuthError,
    KakaoSession,
    KakaoUnavailable,
    LoginRequired,
    TokenFileError,
)
from kakao_auth.errors import TransportFailure
from kakao_auth.testing import FakeKakao

ME = "/v2/user/me"
MEMO = "/v2/api/talk/memo/default/send"
TEMPLATE = json.dumps({"object_type": "text", "text": "안녕", "link": {}})


def test_tutorial_file_just_works_and_is_upgraded_on_refresh(fake_kakao: FakeKakao, token_file: Path) -> None:
    old = fake_kakao.write_token_file(tutorial=True)
    session = KakaoSession.from_file(token_file)
    assert session.get(fake_kakao.kapi_url + ME).json()["id"] == fake_kakao.user_id
    assert fake_kakao.refresh_calls == 0
    fake_kakao.expire_access_tokens()
    assert session.get(fake_kakao.kapi_url + ME).status_code == 200
    saved = json.loads(token_file.read_text())
    assert saved["refresh_token"] == old.refresh_token  # Kakao omitted it: kept, not dropped
    assert saved["client_id"] == fake_kakao.client_id
    assert saved["expires_at"] > time.time() + 21000
    assert saved["scope"] == old.scope


def test_pre_emptive_refresh_sends_no_doomed_request(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    r = requests.get(fake_kakao.kapi_url + ME, auth=KakaoAuth.from_file(token_file))
    assert r.status_code == 200
    assert r.history == []
    assert (fake_kakao.refresh_calls, fake_kakao.api_calls) == (1, 1)


def test_the_hot_path_reads_no_file_and_takes_no_lock(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file)
    token_file.write_text("not JSON any more")  # any read of the store would now raise
    lock = token_file.with_name(token_file.name + ".lock")
    with requests.Session() as http:
        for _ in range(20):
            assert http.get(fake_kakao.kapi_url + ME, auth=auth).status_code == 200
    assert not lock.exists()  # the lock file is made by the first lock taken: none was
    assert fake_kakao.token_calls == 0


def test_reactive_refresh_on_minus_401_retries_once(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file)
    fake_kakao.expire_access_tokens()  # the clock says fresh; Kakao says -401, and Kakao wins
    r = requests.get(fake_kakao.kapi_url + ME, auth=auth)
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401]
    assert fake_kakao.refresh_calls == 1
    assert fake_kakao.access_token_alive(json.loads(token_file.read_text())["access_token"])


def test_post_body_is_resent_after_401(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    session = KakaoSession.from_file(token_file)
    fake_kakao.expire_access_tokens()
    r = session.post(fake_kakao.kapi_url + MEMO, data={"template_object": TEMPLATE})
    assert r.json() == {"result_code": 0}
    assert fake_kakao.memos == [json.loads(TEMPLATE)]


def test_streamed_body_is_rewound_and_resent(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file)
    fake_kakao.expire_access_tokens()
    body = io.BytesIO(b"skip-me&" + f"template_object={TEMPLATE}".encode())
    body.seek(8)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    r = requests.post(fake_kakao.kapi_url + MEMO, data=body, headers=headers, auth=auth)
    assert r.status_code == 200
    assert len(fake_kakao.memos) == 1


def test_unrewindable_body_is_not_resent_but_the_token_is_saved(
    fake_kakao: FakeKakao, token_file: Path
) -> None:
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file)
    fake_kakao.expire_access_tokens()
    chunks = iter([f"template_object={TEMPLATE}".encode()])
    r = requests.post(fake_kakao.kapi_url + MEMO, data=chunks, auth=auth)
    assert r.status_code == 401
    assert fake_kakao.refresh_calls == 1
    assert fake_kakao.access_token_alive(json.loads(token_file.read_text())["access_token"])
    assert requests.get(fake_kakao.kapi_url + ME, auth=auth).status_code == 200
    assert fake_kakao.refresh_calls == 1


def test_second_401_is_returned_as_is(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file)
    fake_kakao.reject_all_tokens = True
    r = requests.get(fake_kakao.kapi_url + ME, auth=auth)
    assert r.status_code == 401
    assert r.json()["code"] == -401
    assert fake_kakao.refresh_calls == 1
    assert fake_kakao.api_calls == 2


def test_rotation_in_the_last_month_is_persisted(fake_kakao: FakeKakao, token_file: Path) -> None:
    old = fake_kakao.write_token_file(access_ttl=0, refresh_ttl=20 * 86400)
    session = KakaoSession.from_file(token_file)
    assert session.get(fake_kakao.kapi_url + ME).status_code == 200
    saved = json.loads(token_file.read_text())
    assert saved["refresh_token"] != old.refresh_token
    assert not fake_kakao.refresh_token_alive(old.refresh_token)
    assert fake_kakao.refresh_token_alive(saved["refresh_token"])
    assert saved["refresh_token_expires_at"] > time.time() + 59 * 86400


def test_refresh_request_carries_only_its_own_fields(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0, client_secret=None)
    session = KakaoSession.from_file(token_file)
    r = session.get(
        fake_kakao.kapi_url + ME,
        params={"property_keys": '["kakao_account.email"]'},
        headers={"X-Trace": "1"},
        data={"caller": "field"},
    )
    assert r.status_code == 200
    assert fake_kakao.token_form_fields == [["client_id", "grant_type", "refresh_token"]]


def test_client_secret_is_sent_when_the_app_has_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeKakao(client_secret="app-secret-value") as fake:
        for name, value in fake.environ().items():
            monkeypatch.setenv(name, value)
        path = tmp_path / "t.json"
        fake.write_token_file(path, access_ttl=0)
        with pytest.raises(KakaoOAuthError, match="KOE010"):
            KakaoAuth.from_file(path).valid_token()
        auth = KakaoAuth.from_file(path, client_secret="app-secret-value")
        assert requests.get(fake.kapi_url + ME, auth=auth).status_code == 200
        assert fake.token_form_fields[-1] == ["client_id", "client_secret", "grant_type", "refresh_token"]
        # From the environment, pasted with its line's end, it is the same secret.
        monkeypatch.setenv("KAKAO_CLIENT_SECRET", "app-secret-value\n")
        fake.expire_access_tokens()
        assert requests.get(fake.kapi_url + ME, auth=KakaoAuth.from_file(path)).status_code == 200
        assert fake.refresh_calls == 2


@pytest.mark.parametrize("secret", ["zz q9", "zz\udcffq9", "zz\nq9"])
def test_a_client_secret_that_cannot_be_one_is_named_never_shown(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    # An undecodable byte reached the form encoder and came back as "cannot reach Kakao's token
    # endpoint (UnicodeEncodeError); try again later", after every retry.
    fake_kakao.write_token_file(access_ttl=0)
    monkeypatch.setenv("KAKAO_CLIENT_SECRET", secret)
    with pytest.raises(
        ConfigurationError, match="KAKAO_CLIENT_SECRET is not a Kakao client secret"
    ) as raised:
        KakaoAuth.from_file(token_file).valid_token()
    assert "zz" not in str(raised.value) and "q9" not in str(raised.value)
    with pytest.raises(ConfigurationError, match="the client secret is not a Kakao client secret"):
        KakaoAuth.from_file(token_file, client_secret=secret)
    assert fake_kakao.token_calls == 0


def test_prepare_request_and_send_are_covered(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    session = KakaoSession.from_file(token_file)
    prepared = session.prepare_request(requests.Request("GET", fake_kakao.kapi_url + ME))
    # send() skips requests' environment merge, so the CA is passed as a send() caller would.
    assert session.send(prepared, verify=fake_kakao.ca_bundle).status_code == 200
    assert fake_kakao.refresh_calls == 1


def test_session_keeps_the_oauth2session_surface(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    session = KakaoSession.from_file(token_file)
    assert session.authorized
    before = session.access_token
    token = session.refresh_token()
    assert token["access_token"] == session.access_token != before
    assert "client_secret" not in session.token
    assert fake_kakao.refresh_calls == 1


def test_settings_resolve_argument_then_environment_then_file(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    monkeypatch.delenv("KAKAO_REST_API_KEY")
    KakaoAuth.from_file().valid_token()  # KAKAO_TOKEN_FILE, and the client id from the file
    fake_kakao.write_token_file(access_ttl=0)
    monkeypatch.setenv("KAKAO_REST_API_KEY", "wrong-env-key")
    with pytest.raises(KakaoOAuthError, match="KOE101"):
        KakaoAuth.from_file(token_file).valid_token()
    KakaoAuth.from_file(token_file, client_id=fake_kakao.client_id).valid_token()
    assert fake_kakao.refresh_calls == 2


@pytest.fixture
def saved(fake_kakao: FakeKakao, token_file: Path) -> Iterator[bytes]:
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    yield before
    assert token_file.read_bytes() == before, "a failed refresh must leave the file as it was"


@pytest.mark.parametrize(
    ("fault", "error", "calls"),
    [
        ("KOE322", LoginRequired, 1),
        ("KOE010", KakaoOAuthError, 1),
        ("KOE101", KakaoOAuthError, 1),
        ("KOE237", KakaoOAuthError, 1),
    ],
)
def test_kakao_4xx_is_typed_never_retried_and_the_file_is_untouched(
    fake_kakao: FakeKakao, token_file: Path, saved: bytes, fault: str, error: type, calls: int
) -> None:
    fake_kakao.fail_token(fault, times=5)
    auth = KakaoAuth.from_file(token_file)
    with pytest.raises(error) as info:
        requests.get(fake_kakao.kapi_url + ME, auth=auth)
    assert type(info.value) is error
    assert info.value.error_code == fault
    assert fake_kakao.token_calls == calls


@pytest.mark.parametrize("fault", ["500", "502-html", "reset"])
def test_transient_faults_are_retried_then_succeed(
    fake_kakao: FakeKakao, token_file: Path, fault: str
) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    fake_kakao.fail_token(fault, times=2)
    auth = KakaoAuth.from_file(token_file, backoff=0.01)
    assert requests.get(fake_kakao.kapi_url + ME, auth=auth).status_code == 200
    assert fake_kakao.token_calls == 3


@pytest.mark.parametrize("fault", ["500", "502-html", "not-json", "reset", "timeout"])
def test_persistent_faults_raise_with_the_cause_and_leave_the_file(
    fake_kakao: FakeKakao, token_file: Path, saved: bytes, fault: str
) -> None:
    fake_kakao.fault_delay = 1.0
    fake_kakao.fail_token(fault, times=3)
    auth = KakaoAuth.from_file(token_file, timeout=0.3, retries=2, backoff=0.01)
    with pytest.raises(KakaoUnavailable) as info:
        requests.get(fake_kakao.kapi_url + ME, auth=auth)
    if fault in ("reset", "timeout"):
        assert isinstance(info.value.__cause__, TransportFailure)
    assert fake_kakao.token_calls == (1 if fault == "not-json" else 3)


def test_no_refresh_token_in_the_file(fake_kakao: FakeKakao, token_file: Path) -> None:
    answer = fake_kakao.issue_tokens(access_ttl=0)
    del answer["refresh_token"]
    token_file.write_text(json.dumps(answer))
    auth = KakaoAuth.from_file(token_file)  # accepted: the access token may still be usable
    with pytest.raises(TokenFileError, match="no refresh_token"):
        auth.valid_token()
    assert fake_kakao.token_calls == 0


def test_a_refresh_that_cannot_be_saved_is_an_error(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    auth = KakaoAuth.from_file(token_file)
    monkeypatch.setattr(os, "replace", _disk_full)
    with pytest.raises(KakaoAuthError, match="could not be saved"):
        auth.valid_token()
    assert token_file.read_bytes() == before


def _disk_full(src: str, dst: str) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_refresh_leaves_the_file_private(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    token_file.chmod(0o644)
    requests.get(fake_kakao.kapi_url + ME, auth=KakaoAuth.from_file(token_file))
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
