"""Sending a memo to oneself: `KakaoSession.send_memo` and `kakao-auth memo`, against a fake that
checks the template as Kakao does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import trustme
from kakao_auth import ConfigurationError, KakaoApiError, KakaoSession, KakaoUnavailable
from kakao_auth.api import MEMO_PATH, MemoTooLong, calls, text_template
from kakao_auth.testing import FakeKakao
from kakao_auth.testing.net import free_port

from tests.conftest import exception_chain
from tests.test_cli import _dripping_api


def test_send_memo_returns_kakaos_answer(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    session = KakaoSession.from_file(token_file)
    assert session.send_memo("백업 완료", link="https://example.com/log", button="열기") == {"result_code": 0}
    assert fake_kakao.memos == [
        {
            "object_type": "text",
            "text": "백업 완료",
            "link": {"web_url": "https://example.com/log", "mobile_web_url": "https://example.com/log"},
            "button_title": "열기",
        }
    ]
    session.send_memo("no link")
    assert fake_kakao.memos[-1]["link"] == {}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x" * 201}, MemoTooLong),
        ({"text": "   "}, ConfigurationError),
        ({"text": "hi", "link": "javascript:alert(1)"}, ConfigurationError),
        ({"text": "hi", "link": "https://"}, ConfigurationError),
        ({"text": "hi", "link": "https://a.example/\nInjected: x"}, ConfigurationError),
        ({"text": "hi", "button": ""}, ConfigurationError),
    ],
)
def test_bad_memos_are_refused_before_any_call(
    fake_kakao: FakeKakao, token_file: Path, kwargs: dict[str, str], error: type[Exception]
) -> None:
    fake_kakao.write_token_file()
    session = KakaoSession.from_file(token_file)
    with pytest.raises(error):
        session.send_memo(**kwargs)
    assert fake_kakao.api_calls == 0


@pytest.mark.parametrize(
    "char",
    [
        *("\x00", "\x1b", "\x7f", "\x85"),  # controls and DEL
        *("\u202a", "\u202e", "\u2066", "\u2069", "\u200e", "\u200f"),  # bidi
        *("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"),  # zero-width
        *("\u00a0", "\u2028"),  # spaces that are not ASCII's
    ],
)
def test_links_with_hidden_characters_are_refused_before_any_call(
    fake_kakao: FakeKakao, token_file: Path, char: str
) -> None:
    # "https://good.example/\u202egro.live" reads as one address and opens another.
    fake_kakao.write_token_file()
    session = KakaoSession.from_file(token_file)
    with pytest.raises(ConfigurationError, match=f"U\\+{ord(char):04X}") as info:
        session.send_memo("hi", link=f"https://good.example/{char}gro.live")
    assert "\n" not in str(info.value) and char not in str(info.value)
    assert fake_kakao.api_calls == 0 and fake_kakao.memos == []


def test_a_link_that_is_not_a_str_is_a_typed_error() -> None:
    with pytest.raises(ConfigurationError):
        text_template("hi", link=b"https://example.com")  # type: ignore[arg-type]


def test_200_characters_is_the_limit() -> None:
    assert json.loads(text_template("가" * 200))["text"] == "가" * 200


def test_missing_consent_is_typed_with_the_command_to_run(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(scope="profile_nickname")
    with pytest.raises(KakaoApiError) as info:
        KakaoSession.from_file(token_file).send_memo("hi")
    assert info.value.code == -402 and info.value.required_scopes == ("talk_message",)
    assert "kakao-auth login --scope talk_message" in str(info.value)
    assert ".." not in str(info.value)


def test_the_fake_checks_templates_as_kakao_does(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    session = KakaoSession.from_file(token_file)
    url = fake_kakao.kapi_url + "/v2/api/talk/memo/default/send"
    for template in (
        {"object_type": "text", "text": "no link"},
        {"object_type": "text", "text": "x" * 201, "link": {}},
        {"object_type": "feed", "text": "hi", "link": {}},
        {"object_type": "text", "link": {}},
    ):
        r = session.post(url, data={"template_object": json.dumps(template)})
        assert (r.status_code, r.json()["code"]) == (400, -2), template
    assert fake_kakao.memos == []


def _cli(fake: FakeKakao, token_file: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **fake.environ(), "KAKAO_TOKEN_FILE": str(token_file)}
    argv = [sys.executable, "-m", "kakao_auth", *args]
    return subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_kakao_auth_memo(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    done = _cli(fake_kakao, token_file, "memo", "hello", "--link", "https://example.com", "--button", "Open")
    assert done.returncode == 0, done.stderr
    assert fake_kakao.memos[-1]["button_title"] == "Open"
    piped = _cli(fake_kakao, token_file, "memo", "-", stdin="from stdin\n")
    assert piped.returncode == 0 and fake_kakao.memos[-1]["text"] == "from stdin"


@pytest.mark.parametrize(
    ("stdin", "said"),
    [(b"y\n" * 40_000, "more than 64 KiB"), (b"\xc3\x28 hi", "standard input is not UTF-8 text")],
    ids=["endless", "not-utf-8"],
)
def test_kakao_auth_memo_from_a_wrong_stdin_is_a_one_line_error(
    fake_kakao: FakeKakao, token_file: Path, stdin: bytes, said: str
) -> None:
    fake_kakao.write_token_file()
    env = {**os.environ, **fake_kakao.environ(), "KAKAO_TOKEN_FILE": str(token_file)}
    argv = [sys.executable, "-m", "kakao_auth", "memo", "-"]
    done = subprocess.run(argv, env=env, input=stdin, capture_output=True, timeout=60)
    assert done.returncode == 1
    assert said.encode() in done.stderr and done.stderr.count(b"\n") == 1 and b"bug" not in done.stderr
    assert fake_kakao.api_calls == 0 and fake_kakao.memos == []


def test_kakao_auth_memo_failures_are_one_line(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(scope="profile_nickname")
    too_long = _cli(fake_kakao, token_file, "memo", "x" * 201)
    assert too_long.returncode == 1 and "at most 200" in too_long.stderr
    assert fake_kakao.api_calls == 0
    no_consent = _cli(fake_kakao, token_file, "memo", "hi")
    assert no_consent.returncode == 1
    assert no_consent.stderr.count("\n") == 1 and "kakao-auth login --scope talk_message" in no_consent.stderr


@pytest.mark.parametrize("body", [b"[" * 30_000 + b"]" * 30_000, b"[]", b"not json"])
def test_a_memo_answer_that_is_no_json_object_is_a_typed_error(
    fake_kakao: FakeKakao, token_file: Path, body: bytes
) -> None:
    fake_kakao.write_token_file()
    fake_kakao.api_bodies["/v2/api/talk/memo/default/send"] = body
    with pytest.raises(KakaoApiError):
        KakaoSession.from_file(token_file).send_memo("hi")


def _no_request_in(error: BaseException, *secrets: str) -> None:
    """Nothing reachable from ``error`` is a transport exception (their requests carry the token)."""
    for e in exception_chain(error):
        assert not isinstance(e, (requests.RequestException, OSError)), repr(e)
        assert not any(secret in str(e) for secret in secrets)
    assert "\n" not in str(error)


def test_kakao_unreachable_is_kakao_unavailable(fake_kakao: FakeKakao, token_file: Path) -> None:
    token = fake_kakao.write_token_file()
    session = KakaoSession.from_file(token_file, kapi_url=f"https://127.0.0.1:{free_port()}")
    with pytest.raises(KakaoUnavailable, match=r"cannot reach Kakao's API host .*ConnectionError") as info:
        session.send_memo("hi")
    _no_request_in(info.value, token.access_token)


def test_a_certificate_not_trusted_here_is_a_setting_naming_the_ca_variables(
    fake_kakao: FakeKakao, token_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fake_kakao.write_token_file()
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    with pytest.raises(ConfigurationError, match="REQUESTS_CA_BUNDLE") as info:
        KakaoSession.from_file(token_file).send_memo("hi")
    assert "not an outage" in str(info.value) and "try again" not in str(info.value)
    assert not isinstance(info.value, KakaoUnavailable)
    _no_request_in(info.value, token.access_token)
    assert fake_kakao.memos == []


def test_a_memo_answer_over_64_kib_is_not_read_whole(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    fake_kakao.api_bodies[MEMO_PATH] = b'{"result_code": 0, "pad": "' + b"x" * (1 << 20) + b'"}'
    with pytest.raises(KakaoUnavailable, match="over 64 KiB"):
        KakaoSession.from_file(token_file).send_memo("hi")


def test_a_memo_is_bounded_as_a_whole_not_per_read(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests' timeout bounds each read: an API host that drips its answer held send_memo
    # for as long as it dripped (30 s here), and then answered with whatever it was.
    fake_kakao.write_token_file()
    monkeypatch.setattr(calls, "API_TIMEOUT", 1.0)
    with _dripping_api(fake_kakao) as api:
        started = time.monotonic()
        with pytest.raises(KakaoUnavailable, match="no whole answer within 1s"):
            KakaoSession.from_file(token_file, kapi_url=api).send_memo("hi")
        took = time.monotonic() - started
    assert took < 20  # the drip lasts 30 s


def test_the_callers_session_is_not_bounded_by_send_memo(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    session = KakaoSession.from_file(token_file)
    adapters = dict(session.adapters)
    session.send_memo("hi")
    assert session.adapters == adapters


def _example(fake: FakeKakao, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    fake.write_token_file(tmp_path / "kakao_token.json")
    script = str(Path(__file__).resolve().parent.parent / "examples" / "send_memo.py")
    full = {**os.environ, **fake.environ(), **env}
    return subprocess.run(
        [sys.executable, script, "hi"], cwd=tmp_path, env=full, capture_output=True, text=True, timeout=60
    )


def test_the_cron_example_says_one_line_when_kakao_is_unreachable(
    fake_kakao: FakeKakao, tmp_path: Path
) -> None:
    done = _example(fake_kakao, tmp_path, KAKAO_KAPI_URL=f"https://127.0.0.1:{free_port()}")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "cannot reach Kakao's API host" in done.stderr and "Traceback" not in done.stderr


def test_the_cron_example_says_one_line_when_the_ca_is_wrong(fake_kakao: FakeKakao, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    done = _example(fake_kakao, tmp_path, REQUESTS_CA_BUNDLE=str(other))
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "REQUESTS_CA_BUNDLE" in done.stderr and "Traceback" not in done.stderr
    assert fake_kakao.memos == []


def test_kakao_auth_memo_names_the_ca_variables_for_an_untrusted_certificate(
    fake_kakao: FakeKakao, token_file: Path, tmp_path: Path
) -> None:
    fake_kakao.write_token_file()
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    env = {
        **os.environ,
        **fake_kakao.environ(),
        "KAKAO_TOKEN_FILE": str(token_file),
        "REQUESTS_CA_BUNDLE": str(other),
    }
    argv = [sys.executable, "-m", "kakao_auth", "memo", "hi"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert (
        "not trusted" in done.stderr
        and "REQUESTS_CA_BUNDLE" in done.stderr
        and "try again" not in done.stderr
    )
