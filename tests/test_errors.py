"""Errors: classification by error and KOE code, messages that advise, pickling, no secrets."""

from __future__ import annotations

import pickle

import pytest
from kakao_auth import (
    ConsentRequired,
    KakaoApiError,
    KakaoAuthError,
    KakaoOAuthError,
    LoginRequired,
    TokenFileError,
    TokenStoreError,
)
from kakao_auth.oauth import error_from_answer, parse_answer

CODE = "k" * 86


@pytest.mark.parametrize(
    ("code", "error", "cls", "advice"),
    [
        ("KOE322", "invalid_grant", LoginRequired, "kakao-auth login"),
        ("KOE320", "invalid_grant", LoginRequired, "kakao-auth login"),
        ("KOE303", "invalid_grant", KakaoOAuthError, "redirect_uri"),
        ("KOE010", "invalid_client", KakaoOAuthError, "KAKAO_CLIENT_SECRET"),
        ("KOE101", "invalid_client", KakaoOAuthError, "KAKAO_REST_API_KEY"),
        ("KOE237", "invalid_request", KakaoOAuthError, "do not retry"),
    ],
)
def test_classified_by_error_and_code(code: str, error: str, cls: type, advice: str) -> None:
    exc = error_from_answer(400, {"error": error, "error_code": code, "error_description": "whatever"})
    assert type(exc) is cls
    assert (exc.error, exc.error_code, exc.status_code) == (error, code, 400)
    assert code in str(exc)
    assert advice in str(exc)


def test_description_never_decides_and_secrets_in_it_are_redacted() -> None:
    exc = error_from_answer(
        400, {"error": "invalid_grant", "error_description": f"not found for code={CODE}"}
    )
    assert isinstance(exc, LoginRequired)
    assert CODE not in str(exc)
    assert exc.description is not None
    assert CODE not in exc.description


def test_unknown_error_code_falls_back_to_kakaos_words() -> None:
    exc = error_from_answer(400, {"error": "invalid_scope", "error_description": "bad scope"})
    assert "bad scope" in str(exc)


def test_consent_required_keeps_the_scopes_kakao_names() -> None:
    body = {"code": -402, "msg": "insufficient scopes", "required_scopes": ["talk_message", "friends"]}
    exc = KakaoApiError.from_answer(403, body)
    assert type(exc) is ConsentRequired and exc.required_scopes == ("talk_message", "friends")
    assert "kakao-auth login --scope talk_message friends" in str(exc)


@pytest.mark.parametrize(
    "listed",
    [
        None,
        [],
        "talk_message",
        ["a" * 10000],  # a hostile API host's 10,000 characters: not kept, not shown
        ["talk_message"] * 51,
        ["talk_message", "talk message"],
        ["talk_message", 5],
        ["Talk_Message"],
    ],
)
def test_consent_required_without_a_usable_list_says_it_is_unknown(listed: object) -> None:
    body = {"code": -402, "msg": "insufficient scopes", "required_scopes": listed}
    exc = KakaoApiError.from_answer(403, body)
    assert type(exc) is ConsentRequired and exc.required_scopes == ()
    assert "does not say which" in str(exc) and "talk_message" not in str(exc)
    assert len(str(exc)) < 300


@pytest.mark.parametrize(
    "exc",
    [
        KakaoOAuthError("invalid_client", "KOE010", "Bad client credentials", 401),
        LoginRequired("invalid_grant", "KOE322", "gone", 400),
        TokenFileError("/x/kakao_token.json", "is empty"),
        TokenStoreError("redis down"),
        KakaoAuthError("plain"),
    ],
)
def test_errors_pickle(exc: Exception) -> None:
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is type(exc)
    assert str(again) == str(exc)
    assert vars(again) == vars(exc)


def test_token_file_error_names_the_file_and_the_fix() -> None:
    exc = TokenFileError("/home/me/kakao_token.json", "is empty")
    assert "/home/me/kakao_token.json" in str(exc)
    assert "kakao-auth login" in str(exc)


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (200, b"<html>oops</html>", "not a token"),
        (502, b"<html>Bad Gateway</html>", "HTTP 502"),
        (200, b"[1, 2]", "not a token"),
    ],
)
def test_answers_that_are_not_tokens(status: int, body: bytes, match: str) -> None:
    with pytest.raises(KakaoAuthError, match=match):
        parse_answer(status, body)


def test_a_token_answer_is_returned() -> None:
    assert parse_answer(200, b'{"access_token": "x", "expires_in": 5}')["expires_in"] == 5
