"""Token: a frozen value holding one Kakao login, and the pure functions around it.

Expiries are absolute epoch seconds. Kakao answers with lifetimes (``expires_in``); the moment
the answer arrived turns them into ``expires_at``. Every function takes ``now`` explicitly so the
refresh logic can be tested with a fake clock and no sleeping.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Optional

__all__ = ["Token", "TokenState", "strict_json"]

# A token is due this many seconds before it expires (google-auth refreshes early the same way).
DEFAULT_LEEWAY = 60.0
# ... but never more than this share of its lifetime, so a 2-second token is not due at birth.
_LEEWAY_SHARE = 0.1


class TokenState(enum.Enum):
    """Where a token stands against the clock."""

    FRESH = "fresh"  # use it
    DUE = "due"  # still valid, but inside the leeway: refresh before use
    EXPIRED = "expired"  # past its expiry


@dataclasses.dataclass(frozen=True)
class Token:
    """One Kakao login: access token, refresh token and their absolute expiries.

    ``repr()`` and ``str()`` never show a token or secret. Every field is checked on
    construction (type, range, characters), so a Token that exists is safe to send, print the
    expiry of and save; a bad value raises ``ValueError`` naming the field, never the value.
    """

    access_token: str = dataclasses.field(repr=False)
    token_type: str = "bearer"
    expires_in: Optional[int] = None  # the lifetime Kakao gave, kept to clamp the leeway
    expires_at: Optional[float] = None
    refresh_token: Optional[str] = dataclasses.field(default=None, repr=False)
    refresh_token_expires_at: Optional[float] = None
    scope: Optional[str] = None
    id_token: Optional[str] = dataclasses.field(default=None, repr=False)
    client_id: Optional[str] = None
    client_secret: Optional[str] = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check_text("access_token", self.access_token, _B64TOKEN, required=True)
        _check_text("refresh_token", self.refresh_token, _B64TOKEN)
        _check_text("id_token", self.id_token, _B64TOKEN)
        _check_text("client_id", self.client_id, _CLIENT_ID)
        _check_text("client_secret", self.client_secret, _VISIBLE)
        _check_text("scope", self.scope, _SCOPE)
        if self.token_type.lower() != "bearer":
            raise ValueError("token_type is not bearer")
        _check_number("expires_in", self.expires_in, _MAX_LIFETIME)
        _check_number("expires_at", self.expires_at, _MAX_EPOCH)
        _check_number("refresh_token_expires_at", self.refresh_token_expires_at, _MAX_EPOCH)

    @classmethod
    def from_response(cls, data: Mapping[str, Any], now: float, **extra: Any) -> Token:
        """Build a token from a token-endpoint answer received at ``now``."""
        return cls.from_dict(data, issued_at=now, **extra)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], issued_at: float, **extra: Any) -> Token:
        """Build a token from a file's JSON object or a Kakao answer.

        Absolute ``expires_at`` fields win; without them (tutorial files, Kakao answers) the
        expiries are ``issued_at`` plus Kakao's ``expires_in`` lifetimes. Raises ``ValueError``
        naming the field when the object has no usable access token or a field has a bad type.
        """
        access = data.get("access_token")
        if access is None or access == "":
            raise ValueError("no access_token")
        fields: dict[str, Any] = {
            "access_token": access,
            "token_type": _text(data, "token_type") or "bearer",
            "expires_in": _seconds(data, "expires_in"),
            "expires_at": _expiry(data, "expires_at", "expires_in", issued_at),
            "refresh_token": _nonempty(data, "refresh_token"),
            "refresh_token_expires_at": _expiry(
                data, "refresh_token_expires_at", "refresh_token_expires_in", issued_at
            ),
            "scope": _text(data, "scope"),
            "id_token": _text(data, "id_token"),
            "client_id": _text(data, "client_id"),
            "client_secret": _text(data, "client_secret"),
        }
        fields.update(extra)
        return cls(**fields)

    def to_dict(self, now: float) -> dict[str, Any]:
        """The file's JSON object: Kakao's fields plus absolute expiries and the client id.

        ``expires_in`` and ``refresh_token_expires_in`` are the seconds left at ``now`` (when the
        file is written), so tutorial code that adds them to the file's mtime stays right.
        """
        out: dict[str, Any] = {"access_token": self.access_token, "token_type": self.token_type}
        if self.expires_at is not None:
            out["expires_in"] = max(0, round(self.expires_at - now))
            out["expires_at"] = round(self.expires_at, 3)
        if self.refresh_token is not None:
            out["refresh_token"] = self.refresh_token
        if self.refresh_token_expires_at is not None:
            out["refresh_token_expires_in"] = max(0, round(self.refresh_token_expires_at - now))
            out["refresh_token_expires_at"] = round(self.refresh_token_expires_at, 3)
        for name in ("scope", "id_token", "client_id", "client_secret"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def merge(self, answer: Mapping[str, Any], now: float) -> Token:
        """The token after a refresh answer received at ``now``.

        Kakao returns a refresh token only when the old one has less than a month left (it then
        rotates: the old one dies). When it is absent, keep the old refresh token, its expiry and
        the scope, as Kakao's own SDK does (../shared/KAKAO.md, "Token endpoint").
        """
        new = Token.from_response(answer, now)
        keep: dict[str, Any] = {"client_id": self.client_id, "client_secret": self.client_secret}
        if new.refresh_token is None:
            keep["refresh_token"] = self.refresh_token
            keep["refresh_token_expires_at"] = self.refresh_token_expires_at
        if new.scope is None:
            keep["scope"] = self.scope
        return dataclasses.replace(new, **keep)

    def leeway(self, leeway: float = DEFAULT_LEEWAY) -> float:
        """The leeway actually used: ``leeway``, clamped to a tenth of the token's lifetime."""
        if self.expires_in is None:
            return leeway
        return min(leeway, self.expires_in * _LEEWAY_SHARE)

    def state(self, now: float, leeway: float = DEFAULT_LEEWAY) -> TokenState:
        """Whether the token is fresh, due for refresh or expired at ``now``.

        A token with no known expiry counts as fresh: Kakao's -401 answer is the authority.
        """
        if self.expires_at is None:
            return TokenState.FRESH
        if now >= self.expires_at:
            return TokenState.EXPIRED
        if now >= self.expires_at - self.leeway(leeway):
            return TokenState.DUE
        return TokenState.FRESH

    def is_fresh(self, now: float, leeway: float = DEFAULT_LEEWAY) -> bool:
        """True when the token can be used at ``now`` without refreshing first."""
        return self.state(now, leeway) is TokenState.FRESH

    def supersedes(self, failed: Optional[str], now: float, leeway: float = DEFAULT_LEEWAY) -> bool:
        """True when this token can stand in for the access token ``failed``: newer, and fresh.

        The single-flight rule: a holder that finds such a token (refreshed by another thread,
        process or machine) adopts it instead of calling Kakao.
        """
        return self.access_token != failed and self.is_fresh(now, leeway)

    def renews_at_next_refresh(self, now: float) -> bool:
        """True when Kakao will rotate the refresh token at the next refresh (under a month left)."""
        if self.refresh_token_expires_at is None:
            return False
        return self.refresh_token_expires_at - now < _ROTATION_WINDOW


# Kakao issues a new refresh token once the current one has less than a month left.
_ROTATION_WINDOW = 30 * 24 * 3600

# RFC 6750 section 2.1's b64token: what may follow "Bearer " in a header. A token outside it (a
# newline, a space) could split a header or a terminal line; Kakao's tokens are base64url.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{1,4096}=*")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_\-.]{1,128}")
_VISIBLE = re.compile(r"[\x21-\x7e]{1,512}")  # printable ASCII, no spaces
_SCOPE = re.compile(r"[\x20-\x7e]{0,4096}")  # consent items, space- or comma-separated
# Lifetimes Kakao gives are hours to months; ten years is far beyond any and keeps floats exact.
_MAX_LIFETIME = 10 * 366 * 86400
_MAX_EPOCH = 32503680000.0  # the year 3000: beyond it an expiry is garbage, not a date


def strict_json(raw: bytes) -> Any:
    """``raw`` parsed as JSON, as RFC 8259 has it: no NaN or Infinity.

    Python's parser takes NaN and Infinity by default: here they raise ``ValueError``. Nesting
    too deep to parse raises ``RecursionError``.
    """
    return json.loads(raw, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_text(name: str, value: Any, pattern: re.Pattern[str], *, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string")
    if not value and required:
        raise ValueError(f"{name} is empty")
    if not pattern.fullmatch(value):
        raise ValueError(f"{name} has characters a token cannot have, or is too long")


def _check_number(name: str, value: Any, largest: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} is not a number")
    # Compared before any float(): a 400-digit int would overflow the conversion.
    if not (0 <= value <= largest) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(f"{name} is out of range")


def _text(data: Mapping[str, Any], name: str) -> Optional[str]:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{name} is not a string")


def _number(data: Mapping[str, Any], name: str) -> Optional[float]:
    value = data.get(name)
    if value is None:
        return None
    relative = name.endswith("_in")
    _check_number(name, value, _MAX_LIFETIME if relative else _MAX_EPOCH)
    return float(value)


def _nonempty(data: Mapping[str, Any], name: str) -> Optional[str]:
    # The tutorials' files sometimes hold "refresh_token": "" after a bad refresh: treat as absent.
    value = data.get(name)
    return None if value == "" else value


def _seconds(data: Mapping[str, Any], name: str) -> Optional[int]:
    value = _number(data, name)
    return None if value is None else int(value)


def _expiry(data: Mapping[str, Any], absolute: str, relative: str, issued_at: float) -> Optional[float]:
    # Absolute expiries keep their fraction: a 2-second token cannot lose up to half its life.
    at = _number(data, absolute)
    if at is not None:
        return at
    lifetime = _number(data, relative)
    return None if lifetime is None else issued_at + lifetime
