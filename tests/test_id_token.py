"""verify_id_token: RS256 only, the key by kid from a cached JWKS, every claim checked, nothing leaked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from kakao_auth import ConfigurationError, IdTokenError, KakaoUnavailable, verify_id_token
from kakao_auth.oauth import id_token as module
from kakao_auth.testing import FakeKakao

USER = 4242424242


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The JWKS cache's clock, moved by the test instead of sleeping."""
    now = [1000.0]
    monkeypatch.setattr(module, "_monotonic", lambda: now[0])
    return now


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())


def _claims(fake: FakeKakao, **changes: Any) -> dict[str, Any]:
    claims = fake.id_token_claims(USER, nonce="n-0123456789abcdef")
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _kid(fake: FakeKakao) -> str:
    token = fake.sign_id_token(_claims(fake))
    return str(jwt.get_unverified_header(token)["kid"])


def _refused(token: str, check: str, **kwargs: Any) -> IdTokenError:
    kwargs.setdefault("audience", "fake-rest-api-key")
    with pytest.raises(IdTokenError) as info:
        verify_id_token(token, **kwargs)
    assert info.value.check == check, str(info.value)
    _assert_no_token(info.value, token)
    return info.value


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _assert_no_token(error: BaseException, token: str) -> None:
    for part in filter(None, token.split(".")):
        for link in _chain(error):
            assert part not in str(link) and part not in repr(link.args)


def test_a_kakao_id_token_verifies_and_gives_its_claims(fake_kakao: FakeKakao) -> None:
    token = fake_kakao.sign_id_token(_claims(fake_kakao))
    claims = verify_id_token(token, audience="fake-rest-api-key", nonce="n-0123456789abcdef")
    assert claims["sub"] == str(USER) and claims["iss"] == fake_kakao.kauth_url
    assert claims["aud"] == "fake-rest-api-key" and claims["nonce"] == "n-0123456789abcdef"


def test_a_set_of_audiences_takes_a_token_for_any_of_them(fake_kakao: FakeKakao) -> None:
    token = fake_kakao.sign_id_token(_claims(fake_kakao, aud="native-app-key"))
    assert verify_id_token(token, audience={"fake-rest-api-key", "native-app-key"})["sub"] == str(USER)
    _refused(token, "aud", audience={"fake-rest-api-key", "other-key"})
    _refused(token, "aud", audience="fake-rest-api-key")


@pytest.mark.parametrize("alg", ["none", "HS256", "RS512", "ES256", "PS256", "RS256 "])
def test_every_alg_but_rs256_is_refused_before_any_key_is_fetched(fake_kakao: FakeKakao, alg: str) -> None:
    token = _unsigned({"alg": alg, "kid": "k", "typ": "JWT"}, _claims(fake_kakao)) + ".c2lnbmF0dXJl"
    _refused(token, "alg")
    assert fake_kakao.jwks_calls == 0


def test_alg_none_with_an_empty_signature_is_refused(fake_kakao: FakeKakao) -> None:
    _refused(_unsigned({"alg": "none"}, _claims(fake_kakao)) + ".", "format")


def test_the_rs_hs_key_confusion_attack_is_refused(fake_kakao: FakeKakao) -> None:
    """HS256 "signed" with the issuer's public key (which anyone can fetch) as the HMAC secret."""
    kid = _kid(fake_kakao)
    public = module._jwks(fake_kakao.kauth_url).key(kid)
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for header in ({"alg": "HS256", "kid": kid}, {"alg": "HS256"}):
        signing_input = _unsigned(header, _claims(fake_kakao))
        mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        _refused(signing_input + "." + _b64(mac), "alg")


def test_a_token_signed_by_another_key_under_the_right_kid_is_refused(fake_kakao: FakeKakao) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(fake_kakao), other, algorithm="RS256", headers={"kid": _kid(fake_kakao)})
    _refused(token, "signature")
    body = token.split(".")
    tampered = _claims(fake_kakao, sub="1")
    _refused(body[0] + "." + _b64(json.dumps(tampered).encode()) + "." + body[2], "signature")


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"exp": -120}, "exp"),
        ({"iat": 3600}, "iat"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"aud": "another-app"}, "aud"),
        ({"sub": None}, "sub"),
        ({"exp": None}, "exp"),
        ({"iat": None}, "iat"),
        ({"sub": 42}, "sub"),
    ],
)
def test_each_claim_is_checked(fake_kakao: FakeKakao, changes: dict[str, Any], check: str) -> None:
    now = int(time.time())
    timed = {k: (now + v if k in ("exp", "iat") and isinstance(v, int) else v) for k, v in changes.items()}
    error = _refused(fake_kakao.sign_id_token(_claims(fake_kakao, **timed)), check)
    assert error.check in str(error)


def test_exp_and_iat_have_the_leeway(fake_kakao: FakeKakao) -> None:
    now = int(time.time())
    token = fake_kakao.sign_id_token(_claims(fake_kakao, exp=now - 30, iat=now + 30))
    assert verify_id_token(token, audience="fake-rest-api-key")["sub"] == str(USER)
    _refused(fake_kakao.sign_id_token(_claims(fake_kakao, exp=now - 30)), "exp", leeway=5)
    _refused(fake_kakao.sign_id_token(_claims(fake_kakao, iat=now + 30)), "iat", leeway=5)


def test_the_nonce_must_be_this_logins(fake_kakao: FakeKakao) -> None:
    token = fake_kakao.sign_id_token(_claims(fake_kakao))
    _refused(token, "nonce", nonce="n-another-login-nonce")
    _refused(fake_kakao.sign_id_token(_claims(fake_kakao, nonce=None)), "nonce", nonce="n-0123456789abcdef")


@pytest.mark.parametrize(
    "garbage", ["", "a.b", "a.b.c.d", "not a token", "a" * 20000, "e30.e30.e30", "W10.e30.e30"]
)
def test_garbage_is_a_format_failure(fake_kakao: FakeKakao, garbage: str) -> None:
    with pytest.raises(IdTokenError) as info:
        verify_id_token(garbage, audience="fake-rest-api-key")
    assert info.value.check in ("format", "alg")


def test_a_deeply_nested_header_is_a_format_failure(fake_kakao: FakeKakao) -> None:
    deep = _b64(b"[" * 5000 + b"]" * 5000)
    _refused(deep + ".e30.e30", "format")


def test_the_keys_are_cached_and_a_rotation_fetches_them_once(
    fake_kakao: FakeKakao, clock: list[float]
) -> None:
    first = fake_kakao.sign_id_token(_claims(fake_kakao))
    for _ in range(3):
        verify_id_token(first, audience="fake-rest-api-key")
    assert fake_kakao.jwks_calls == 1
    fake_kakao.rotate_signing_key()
    rotated = fake_kakao.sign_id_token(_claims(fake_kakao))
    verify_id_token(rotated, audience="fake-rest-api-key")  # an unknown kid: fetched at once
    assert fake_kakao.jwks_calls == 2
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for kid in ("made-up-1", "made-up-2", "made-up-3"):  # within the minute: no fetch
        _refused(jwt.encode(_claims(fake_kakao), stranger, algorithm="RS256", headers={"kid": kid}), "kid")
    assert fake_kakao.jwks_calls == 2
    clock[0] += module.REFETCH_INTERVAL + 1
    _refused(
        jwt.encode(_claims(fake_kakao), stranger, algorithm="RS256", headers={"kid": "made-up-4"}), "kid"
    )
    assert fake_kakao.jwks_calls == 3
    verify_id_token(rotated, audience="fake-rest-api-key")
    assert fake_kakao.jwks_calls == 3
    clock[0] += module.JWKS_TTL
    verify_id_token(rotated, audience="fake-rest-api-key")  # hours later: fetched again
    assert fake_kakao.jwks_calls == 4
    _refused(first, "kid")  # the rotated-away key is gone from the list


def test_a_kept_old_key_still_verifies_after_a_rotation(fake_kakao: FakeKakao) -> None:
    old = fake_kakao.sign_id_token(_claims(fake_kakao))
    fake_kakao.rotate_signing_key(keep_old=True)
    new = fake_kakao.sign_id_token(_claims(fake_kakao))
    assert (
        verify_id_token(new, audience="fake-rest-api-key")["sub"]
        == verify_id_token(old, audience="fake-rest-api-key")["sub"]
    )


def test_the_key_fetch_is_bounded(fake_kakao: FakeKakao, monkeypatch: pytest.MonkeyPatch) -> None:
    """A JWKS host that accepts the connection and never answers: the fetch ends at its deadline."""
    monkeypatch.setattr(module, "JWKS_TIMEOUT", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        issuer = f"https://127.0.0.1:{silent.getsockname()[1]}"
        token = fake_kakao.sign_id_token(_claims(fake_kakao, iss=issuer))
        started = time.monotonic()
        with pytest.raises(KakaoUnavailable, match="cannot fetch the id_token keys"):
            verify_id_token(token, audience="fake-rest-api-key", issuer=issuer)
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("answer", [{"keys": []}, {"keys": "none"}, None])
def test_a_failed_key_fetch_is_remembered_for_a_minute(
    fake_kakao: FakeKakao, clock: list[float], monkeypatch: pytest.MonkeyPatch, answer: Any
) -> None:
    """Kakao down or its list empty: 50 verifies (forged tokens can drive them) make one fetch."""
    served = fake_kakao._jwks

    def unusable() -> Any:
        served()  # counted as a fetch
        if answer is None:
            raise RuntimeError("the fake answers 500")
        return answer

    monkeypatch.setattr(fake_kakao, "_jwks", unusable)
    token = fake_kakao.sign_id_token(_claims(fake_kakao))
    for _ in range(50):
        with pytest.raises(KakaoUnavailable, match="id_token keys"):
            verify_id_token(token, audience="fake-rest-api-key")
    assert fake_kakao.jwks_calls == 1
    clock[0] += module.REFETCH_INTERVAL
    monkeypatch.setattr(fake_kakao, "_jwks", served)  # back: the next minute's fetch gets the keys
    assert verify_id_token(token, audience="fake-rest-api-key")["sub"] == str(USER)
    assert fake_kakao.jwks_calls == 2


def test_callers_waiting_for_a_hanging_key_fetch_wait_one_deadline_not_one_each(
    fake_kakao: FakeKakao, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "JWKS_TIMEOUT", 1.0)
    served = fake_kakao._jwks
    release = threading.Event()

    def hanging() -> Any:
        release.wait(10)
        return served()

    monkeypatch.setattr(fake_kakao, "_jwks", hanging)
    token = fake_kakao.sign_id_token(_claims(fake_kakao))
    waits: list[float] = []
    errors: list[BaseException] = []

    def verify() -> None:
        started = time.monotonic()
        try:
            verify_id_token(token, audience="fake-rest-api-key")
        except KakaoUnavailable as e:
            errors.append(e)
        waits.append(time.monotonic() - started)

    threads = [threading.Thread(target=verify) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        release.set()
    assert len(errors) == 6
    # Queued behind the lock, the sixth waited six deadlines (6 s); sharing the one fetch, none
    # waits much more than one.
    assert max(waits) < 3 * module.JWKS_TIMEOUT, waits
    assert fake_kakao.jwks_calls <= 1


def test_an_issuer_without_usable_keys_is_unavailable(fake_kakao: FakeKakao) -> None:
    token = fake_kakao.sign_id_token(_claims(fake_kakao, iss=fake_kakao.kapi_url))
    with pytest.raises(KakaoUnavailable, match="HTTP 401"):  # kapi answers the JWKS path 401
        verify_id_token(token, audience="fake-rest-api-key", issuer=fake_kakao.kapi_url)


def test_a_jwks_that_publishes_private_or_weak_keys_gives_none_of_them() -> None:
    strong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505  # to be refused
    private = jwt.algorithms.RSAAlgorithm.to_jwk(strong, as_dict=True)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(strong.public_key(), as_dict=True)
    small = jwt.algorithms.RSAAlgorithm.to_jwk(weak.public_key(), as_dict=True)
    listed = [
        {**private, "kid": "private"},
        {**small, "kid": "weak"},
        {**public, "kid": "enc", "use": "enc"},
        {**public, "kid": "hs", "alg": "HS256"},
        {**public, "kid": "ok"},
    ]
    assert sorted(module._parse_jwks(json.dumps({"keys": listed}).encode())) == ["ok"]
    assert module._parse_jwks(b"[" * 100000) == {}


def test_bad_arguments_are_configuration_errors(fake_kakao: FakeKakao) -> None:
    token = fake_kakao.sign_id_token(_claims(fake_kakao))
    for kwargs in (
        {"audience": ""},
        {"audience": set()},
        {"audience": "a", "leeway": -1},
        {"audience": "a", "issuer": "http://x"},
        {"audience": "a", "issuer": b"https://x"},
        {"audience": "a", "nonce": b"n-0123456789abcdef"},
        {"audience": "a", "leeway": "60"},
        {"audience": 5},
        {"audience": b"fake-rest-api-key"},
        {"audience": {"fake-rest-api-key": 1, 5: 2}},
    ):
        with pytest.raises(ConfigurationError):
            verify_id_token(token, **kwargs)  # type: ignore[arg-type]


def test_without_pyjwt_the_message_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)
    with pytest.raises(ConfigurationError, match=r"kakao-auth\[oidc\]"):
        verify_id_token("a.b.c", audience="x")


def test_an_id_token_error_pickles() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(IdTokenError("aud", "it was issued for another app key")))
    assert error.check == "aud" and "aud" in str(error)
