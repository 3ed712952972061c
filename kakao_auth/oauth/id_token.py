"""Verifying an OpenID Connect id_token from Kakao, locally, with the issuer's published keys.

Kakao signs id_tokens with RS256 and publishes its keys at ``{issuer}/.well-known/jwks.json``,
chosen by ``kid`` (../shared/KAKAO.md, "OpenID Connect"). Kakao asks clients to cache the key
list for a while and warns that frequent fetches may be blocked, so the list is kept per process
for hours; a ``kid`` the list does not hold (the keys rotated) fetches it again at once, but only
once a minute, so a stream of forged tokens with made-up ``kid`` values cannot make this process
hammer Kakao. A fetch that gives no usable key (an outage, a 5xx, an empty list) is remembered
for that minute too: verifies fail at once meanwhile instead of fetching again, and threads that
need the keys while one fetch is under way wait for it, never longer than its deadline. The
fetch goes through the library's bounded exchange (net/exchange.py): one deadline for the whole
exchange, no redirect followed, the answer capped in size.

The signature itself is PyJWT's (the ``oidc`` extra): no hand-written cryptography here. What is
added around it is what a library for Kakao must pin down: RS256 only, checked before any key is
looked at (``none``, HS256 and the RS/HS key-confusion trick never reach a verifier), the key by
``kid``, and an :class:`IdTokenError` naming the check that failed, raised outside any ``except``
block so that neither its message nor its chain holds the token.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

from ..config import origin, require_https, resolve
from ..errors import ConfigurationError, IdTokenError, KakaoUnavailable, TransportFailure, printable
from ..net import exchange
from ..token import strict_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = ["JWKS_PATH", "JWKS_TTL", "REFETCH_INTERVAL", "verify_id_token"]

log = logging.getLogger("kakao_auth")

JWKS_PATH = "/.well-known/jwks.json"
JWKS_TTL = 12 * 3600.0  # hours, not seconds: Kakao may block clients that fetch too often
REFETCH_INTERVAL = 60.0  # at most one fetch a minute for a kid the cached list does not hold
JWKS_TIMEOUT = 10.0  # one whole exchange with the JWKS URL
MAX_KEYS = 10  # Kakao's own Java example caches up to 10 keys
MIN_RSA_BITS = 2048
MAX_ID_TOKEN = 16 * 1024  # Kakao's id_tokens are under 2 KiB
MAX_ISSUERS = 16  # JWKS caches kept at once (one per issuer; a process has one or two)
ALGORITHM = "RS256"

Audience = Union[str, Collection[str]]

# Three base64url parts: anything else is refused before it reaches a parser.
_JWT = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
_KID = re.compile(r"[\x21-\x7e]{1,128}")

# The clock for the cache's ages; tests move it instead of sleeping.
_monotonic = time.monotonic


def verify_id_token(
    id_token: str,
    *,
    audience: Audience,
    nonce: Optional[str] = None,
    issuer: Optional[str] = None,
    leeway: float = 60,
) -> dict[str, Any]:
    """The claims of ``id_token`` once its signature, ``iss``, ``aud``, ``exp``, ``iat`` and ``nonce`` pass.

    ``audience``: the app key the token must be issued for, or a set of them (a back end that
    takes both REST and mobile-SDK logins passes the REST and the native app keys). ``issuer``:
    defaults to the configured kauth URL (``KAKAO_KAUTH_URL``, else ``https://kauth.kakao.com``);
    its keys come from ``{issuer}/.well-known/jwks.json``. ``leeway``: seconds of clock skew
    allowed for ``exp`` and ``iat``. Raises :class:`IdTokenError` naming the failed check,
    :class:`KakaoUnavailable` when the keys cannot be fetched, and :class:`ConfigurationError`
    for bad arguments or without PyJWT (``pip install 'kakao-auth[oidc]'``).
    """
    jwt = _jwt()
    audiences = _audiences(audience)
    if nonce is not None and not isinstance(nonce, str):
        raise ConfigurationError("nonce must be the login's nonce (a str) or None")
    if issuer is not None and not isinstance(issuer, str):
        raise ConfigurationError("issuer must be the issuer's https:// URL (a str) or None")
    issuer = require_https(issuer or resolve().kauth_url, "the id_token issuer").rstrip("/")
    leeway = _leeway(leeway)
    kid = _checked_header(jwt, id_token)
    key = _jwks(issuer).key(kid)
    claims = _decoded(jwt, id_token, key, audiences, issuer, leeway)
    _check_claims(claims, nonce, leeway)
    return claims


def _jwt() -> Any:
    try:
        import jwt
    except ImportError:
        raise ConfigurationError("verifying id_tokens needs PyJWT: pip install 'kakao-auth[oidc]'") from None
    return jwt


def _audiences(audience: Audience) -> list[str]:
    """The app keys an id_token may be issued for: a str is one key, never its characters."""
    if isinstance(audience, str):
        given: list[Any] = [audience]
    elif isinstance(audience, (bytes, Mapping)) or not isinstance(audience, Collection):
        given = []  # bytes, a dict or a number: not a set of app keys
    else:
        given = list(audience)
    if not given or not all(isinstance(a, str) and a for a in given):
        raise ConfigurationError("audience must be the app key (a string) or a non-empty set of app keys")
    return given


def _leeway(leeway: float) -> float:
    ok = isinstance(leeway, (int, float)) and not isinstance(leeway, bool)
    if not ok or not (0 <= leeway <= 3600) or not math.isfinite(leeway):
        raise ConfigurationError("leeway must be a number of seconds from 0 to 3600")
    return float(leeway)


def _checked_header(jwt: Any, id_token: str) -> str:
    """The token's ``kid``, once its header says RS256; nothing else is even looked up."""
    if not isinstance(id_token, str) or len(id_token) > MAX_ID_TOKEN or not _JWT.fullmatch(id_token):
        raise IdTokenError("format", "it is not a JWT (three base64url parts)")
    header: Any = None
    with contextlib.suppress(jwt.PyJWTError, ValueError, RecursionError):  # RecursionError: a deep JSON
        header = jwt.get_unverified_header(id_token)
    if not isinstance(header, dict):
        raise IdTokenError("format", "its header is not a JSON object")
    alg = header.get("alg")
    if alg != ALGORITHM:
        shown = printable(alg, 20) if isinstance(alg, str) else type(alg).__name__
        raise IdTokenError("alg", f"it is signed with {shown!r}; only {ALGORITHM} is accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise IdTokenError("kid", "its header names no usable key id (kid)")
    return kid


# PyJWT's exceptions, by class name (PyJWT is imported lazily), and the check each one means.
_FAILED_CHECKS = {
    "InvalidSignatureError": (
        "signature",
        "the signature does not match the issuer's key (forged or altered)",
    ),
    "ExpiredSignatureError": ("exp", "it has expired: log in again"),
    "ImmatureSignatureError": ("iat", "it is issued in the future: check this machine's clock"),
    "InvalidIssuedAtError": ("iat", "its iat is not a time"),
    "InvalidIssuerError": ("iss", "it was not issued by the expected issuer"),
    "InvalidAudienceError": ("aud", "it was issued for another app key"),
    "InvalidAlgorithmError": ("alg", f"only {ALGORITHM} is accepted"),
    "InvalidSubjectError": ("sub", "it names no user (sub)"),
    "DecodeError": ("format", "it cannot be decoded"),
}


def _decoded(
    jwt: Any, id_token: str, key: RSAPublicKey, audiences: list[str], issuer: str, leeway: float
) -> dict[str, Any]:
    failed: Optional[tuple[str, str]] = None
    claims: Any = None
    try:
        claims = jwt.decode(
            id_token,
            key,
            algorithms=[ALGORITHM],
            audience=audiences,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.MissingRequiredClaimError as e:
        failed = (printable(str(e.claim), 20), "the claim is missing")
    except (ValueError, RecursionError):  # a payload too deep for the JSON parser
        failed = ("format", "it cannot be decoded")
    except jwt.PyJWTError as e:
        failed = _FAILED_CHECKS.get(type(e).__name__, ("token", f"it is refused ({type(e).__name__})"))
    # Raised here, outside the except block: no __context__ leads back to the token.
    if failed is not None:
        raise IdTokenError(*failed)
    if not isinstance(claims, dict):
        raise IdTokenError("format", "its payload is not a JSON object")
    return claims


def _check_claims(claims: Mapping[str, Any], nonce: Optional[str], leeway: float) -> None:
    iat = claims.get("iat")
    # PyJWT checks iat against the clock only in some versions: checked here in all of them.
    if not isinstance(iat, (int, float)) or isinstance(iat, bool) or iat > time.time() + leeway:
        raise IdTokenError("iat", "it is issued in the future: check this machine's clock")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 128 or not sub.isprintable():
        raise IdTokenError("sub", "it names no user (sub)")
    if nonce is not None:
        given = claims.get("nonce")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), nonce.encode()):
            raise IdTokenError("nonce", "it does not carry this login's nonce (a replayed token)")


class _Jwks:
    """One issuer's published keys, fetched on first use and kept for ``JWKS_TTL``.

    One fetch at a time, made outside the lock: threads that need the keys meanwhile wait for
    that fetch's outcome, each for at most ``JWKS_TIMEOUT``, instead of queueing one fetch
    deadline each behind the lock. A fetch that gives no usable key is remembered for
    ``REFETCH_INTERVAL``: meanwhile every caller gets :class:`KakaoUnavailable` at once, so an
    outage (or forged tokens sent during one) cannot turn each verify into a fetch.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.fetches = 0
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: Optional[float] = None
        self._refetched_at = -math.inf
        self._failed: Optional[tuple[float, str]] = None  # (when, message) of a fetch without keys
        self._fetching = False
        self._generation = 0  # fetches completed: a caller that saw one end does not start another
        self._changed = threading.Condition(threading.Lock())

    def key(self, kid: str) -> RSAPublicKey:
        """The key named ``kid``; the list is fetched when stale, or once a minute for a new kid."""
        waited_until = _monotonic() + JWKS_TIMEOUT
        with self._changed:
            seen = self._generation
            while True:
                now = _monotonic()
                self._raise_remembered_failure(now)
                key = self._keys.get(kid)
                stale = self._fetched_at is None or now - self._fetched_at >= JWKS_TTL
                rotated = (
                    key is None and seen == self._generation and now - self._refetched_at >= REFETCH_INTERVAL
                )
                if not (stale or rotated):
                    break
                if self._fetching:
                    self._wait(waited_until - now)
                    continue
                if rotated and not stale:
                    self._refetched_at = now  # a key rotation: fetch now, but once a minute at most
                self._fetch_unlocked(now)
        if key is None:
            raise IdTokenError("kid", f"its key id (kid) is not among the keys at {self.url}")
        return key

    def _raise_remembered_failure(self, now: float) -> None:
        if self._failed is not None and not self._keys:
            failed_at, message = self._failed
            if now - failed_at < REFETCH_INTERVAL:
                raise KakaoUnavailable(message)

    def _wait(self, remaining: float) -> None:
        """Wait for the fetch under way, at most ``remaining`` seconds (the caller's own deadline)."""
        if remaining <= 0 or not self._changed.wait(remaining):
            raise KakaoUnavailable(
                f"the id_token keys at {origin(self.url)} are still being fetched; try again later"
            )

    def _fetch_unlocked(self, now: float) -> None:
        """One fetch, the lock released meanwhile (it is held on entry and on return)."""
        self._fetching = True
        self.fetches += 1
        keys: dict[str, RSAPublicKey] = {}
        failure: Optional[KakaoUnavailable] = None
        self._changed.release()
        try:
            keys = _fetch_keys(self.url)
        except KakaoUnavailable as e:
            failure = e
        finally:
            self._changed.acquire()
            self._fetching = False
            self._generation += 1
            self._changed.notify_all()
        if failure is None:
            self._keys, self._fetched_at, self._failed = keys, now, None
        elif self._keys:
            # Keep verifying with the keys in hand; try again in a minute, not at every login.
            log.warning("cannot refresh the id_token keys from %s; keeping the cached ones", origin(self.url))
            self._fetched_at = now - JWKS_TTL + REFETCH_INTERVAL
        else:
            self._failed = (now, str(failure))
            raise failure


_caches: OrderedDict[str, _Jwks] = OrderedDict()
_caches_lock = threading.Lock()


def _jwks(issuer: str) -> _Jwks:
    url = issuer + JWKS_PATH
    with _caches_lock:
        cache = _caches.get(url)
        if cache is None:
            cache = _caches[url] = _Jwks(url)
            while len(_caches) > MAX_ISSUERS:
                _caches.popitem(last=False)
        _caches.move_to_end(url)
        return cache


def _fetch_keys(url: str) -> dict[str, RSAPublicKey]:
    """The RS256 signing keys at ``url``, by kid; a typed error when there are none."""
    outcome = exchange("GET", url, JWKS_TIMEOUT, headers={"Accept": "application/json"})
    where = origin(url)
    if isinstance(outcome, str):
        raise KakaoUnavailable(
            f"cannot fetch the id_token keys from {where} ({outcome}); try again later"
        ) from TransportFailure(outcome)
    status, body = outcome
    if status != 200:
        raise KakaoUnavailable(f"the id_token keys at {where} answered HTTP {status}; try again later")
    keys = _parse_jwks(body)
    if not keys:
        raise KakaoUnavailable(f"the id_token keys at {where} hold no usable RS256 key; try again later")
    return keys


def _parse_jwks(body: bytes) -> dict[str, RSAPublicKey]:
    try:
        data = strict_json(body)
    except (ValueError, RecursionError):
        return {}
    listed = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        return {}
    keys: dict[str, RSAPublicKey] = {}
    for jwk in listed[: MAX_KEYS * 4]:
        parsed = _rsa_key(jwk)
        if parsed is not None and len(keys) < MAX_KEYS:
            keys.setdefault(*parsed)
    return keys


def _rsa_key(jwk: Any) -> Optional[tuple[str, RSAPublicKey]]:
    """``(kid, key)`` for an RSA signing key fit for RS256; None for anything else."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
        return None
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        return None
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", ALGORITHM) != ALGORITHM:
        return None
    if not isinstance(jwk.get("n"), str) or not isinstance(jwk.get("e"), str) or "d" in jwk:
        return None  # a public key only: a JWKS that publishes a private key is not to be trusted
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from jwt.algorithms import RSAAlgorithm

    try:
        key = RSAAlgorithm.from_jwk(jwk)
    except Exception:  # PyJWT and cryptography raise several kinds for a bad key
        return None
    if not isinstance(key, RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        return None
    return kid, key
