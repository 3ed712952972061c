"""Token: parse, merge, serialise and expiry, with plain values and an explicit clock."""

from __future__ import annotations

import pytest
from kakao_auth import Token, TokenState
from kakao_auth.cli.output import describe, span
from kakao_auth.errors import TokenStoreError
from kakao_auth.stores import parse_token

NOW = 1_800_000_000.0
TUTORIAL = {
    "access_token": "A" * 40,
    "token_type": "bearer",
    "refresh_token": "R" * 40,
    "expires_in": 21599,
    "scope": "talk_message profile_nickname",
    "refresh_token_expires_in": 5183999,
}


def test_tutorial_file_expiries_come_from_its_mtime() -> None:
    token = Token.from_dict(TUTORIAL, issued_at=NOW - 100)
    assert token.expires_at == NOW - 100 + 21599
    assert token.refresh_token_expires_at == NOW - 100 + 5183999
    assert token.refresh_token == "R" * 40
    assert token.client_id is None


def test_absolute_expiries_win_over_lifetimes() -> None:
    data = {**TUTORIAL, "expires_at": 123, "refresh_token_expires_at": 456}
    token = Token.from_dict(data, issued_at=NOW)
    assert (token.expires_at, token.refresh_token_expires_at) == (123, 456)


def test_absolute_expiries_keep_their_fraction() -> None:
    token = Token("a" * 30, expires_in=2, expires_at=NOW + 1.75)
    again = Token.from_dict(token.to_dict(NOW), issued_at=0)
    assert again.expires_at == NOW + 1.75
    assert again.expires_in == 2


def test_round_trip_keeps_everything_and_rewrites_lifetimes_as_seconds_left() -> None:
    token = Token.from_response(TUTORIAL, NOW, client_id="app")
    data = token.to_dict(NOW + 99)
    assert data["expires_in"] == 21500
    assert data["refresh_token_expires_in"] == 5183900
    assert data["client_id"] == "app"
    assert Token.from_dict(data, issued_at=0) == Token.from_dict(data, issued_at=1)
    again = Token.from_dict(data, issued_at=0)
    assert (again.access_token, again.refresh_token, again.expires_at) == (
        token.access_token,
        token.refresh_token,
        token.expires_at,
    )


def test_merge_without_refresh_token_keeps_the_old_one_its_expiry_and_scope() -> None:
    old = Token.from_response(TUTORIAL, NOW, client_id="app", client_secret="s")
    new = old.merge({"access_token": "B" * 40, "token_type": "bearer", "expires_in": 21599}, NOW + 10)
    assert new.access_token == "B" * 40
    assert new.expires_at == NOW + 10 + 21599
    assert new.refresh_token == old.refresh_token
    assert new.refresh_token_expires_at == old.refresh_token_expires_at
    assert new.scope == old.scope
    assert (new.client_id, new.client_secret) == ("app", "s")


def test_merge_with_rotation_takes_the_new_refresh_token() -> None:
    old = Token.from_response(TUTORIAL, NOW)
    answer = {
        "access_token": "B" * 40,
        "expires_in": 10,
        "refresh_token": "N" * 40,
        "refresh_token_expires_in": 99,
    }
    new = old.merge(answer, NOW)
    assert new.refresh_token == "N" * 40
    assert new.refresh_token_expires_at == NOW + 99


@pytest.mark.parametrize(
    ("offset", "state"),
    [
        (0, TokenState.FRESH),
        (21599 - 61, TokenState.FRESH),
        (21599 - 59, TokenState.DUE),
        (21599, TokenState.EXPIRED),
    ],
)
def test_state_against_the_clock(offset: float, state: TokenState) -> None:
    token = Token.from_response(TUTORIAL, NOW)
    assert token.state(NOW + offset, leeway=60) is state


def test_leeway_is_clamped_for_short_lived_tokens() -> None:
    token = Token.from_response({"access_token": "x" * 30, "expires_in": 2}, NOW)
    assert token.leeway(60) == pytest.approx(0.2)
    assert token.is_fresh(NOW + 1.5, leeway=60)
    assert token.state(NOW + 1.9, leeway=60) is TokenState.DUE


def test_a_token_supersedes_another_only_when_newer_and_fresh() -> None:
    token = Token.from_response(TUTORIAL, NOW)
    assert token.supersedes("some-other-token", NOW)
    assert not token.supersedes(token.access_token, NOW)  # the one that failed
    assert not token.supersedes("some-other-token", NOW + 21599)  # expired
    assert token.supersedes(None, NOW)


def test_unknown_expiry_counts_as_fresh() -> None:
    assert Token("x" * 30).is_fresh(NOW)


def test_rotation_window() -> None:
    token = Token.from_response({**TUTORIAL, "refresh_token_expires_in": 29 * 86400}, NOW)
    assert token.renews_at_next_refresh(NOW)
    assert not Token.from_response(TUTORIAL, NOW).renews_at_next_refresh(NOW)


def test_repr_hides_every_secret() -> None:
    token = Token.from_response({**TUTORIAL, "id_token": "I" * 40}, NOW, client_secret="S" * 30)
    for text in (repr(token), str(token)):
        for secret in ("A" * 40, "R" * 40, "I" * 40, "S" * 30):
            assert secret not in text


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "no access_token"),
        ({"access_token": ""}, "no access_token"),
        ({"access_token": 5}, "access_token is not a string"),
        ({"access_token": "x", "expires_in": "soon"}, "expires_in is not a number"),
        ({"access_token": "x", "expires_in": "21599"}, "expires_in is not a number"),
        ({"access_token": "x", "expires_in": float("inf")}, "expires_in is out of range"),
        ({"access_token": "x", "expires_in": float("nan")}, "expires_in is out of range"),
        ({"access_token": "x", "expires_in": 10**400}, "expires_in is out of range"),
        ({"access_token": "x", "expires_in": -5}, "expires_in is out of range"),
        ({"access_token": "x", "expires_in": True}, "expires_in is not a number"),
        ({"access_token": "x", "expires_at": float("nan")}, "expires_at is out of range"),
        ({"access_token": "x", "refresh_token_expires_at": float("nan")}, "refresh_token_expires_at is out"),
        ({"access_token": "x", "refresh_token_expires_in": 1e300}, "refresh_token_expires_in is out"),
        ({"access_token": "x", "refresh_token": 7}, "refresh_token is not a string"),
        ({"access_token": "x", "scope": ["talk_message"]}, "scope is not a string"),
        ({"access_token": "x\nInjected: 1"}, "access_token has characters"),
        ({"access_token": "x y"}, "access_token has characters"),
        ({"access_token": "x" * 5000}, "access_token has characters a token cannot have, or is too long"),
        ({"access_token": "x", "refresh_token": "r\r\n"}, "refresh_token has characters"),
        ({"access_token": "x", "client_id": "id\u001b[2J"}, "client_id has characters"),
        ({"access_token": "x", "token_type": "mac"}, "token_type is not bearer"),
    ],
)
def test_bad_objects_are_rejected_naming_the_field(data: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Token.from_dict(data, issued_at=NOW)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"access_token": "x", "expires_in": NaN}',
        b'{"access_token": "x", "expires_in": Infinity}',
        b'{"access_token": "x", "expires_in": 1e999}',
        b'{"access_token": "x", "refresh_token_expires_at": NaN, "refresh_token": "r"}',
        b'{"access_token": "x", "expires_in": 1' + b"0" * 400 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
        b'{"access_token": "a\\nb"}',
    ],
)
def test_hostile_files_are_a_typed_error(raw: bytes) -> None:
    with pytest.raises(TokenStoreError) as info:
        parse_token(raw, NOW, lambda problem: TokenStoreError(problem))
    assert "\n" not in str(info.value)


def test_a_stored_token_over_1_mib_is_refused_before_it_is_parsed() -> None:
    raw = b'{"access_token": "x", "pad": "' + b"a" * (1 << 20) + b'"}'  # valid JSON, 1 MiB of it
    with pytest.raises(TokenStoreError, match="over 1 MiB"):
        parse_token(raw, NOW, lambda problem: TokenStoreError(problem))


def test_far_future_expiries_are_described_not_crashed() -> None:
    assert describe(32503680000.0, NOW).endswith("(in " + span(32503680000.0 - NOW) + ")")
    assert "epoch" in describe(1e300, NOW) or describe(1e300, NOW)
