"""The token endpoint (``POST {kauth}/oauth/token``): build the forms, send them, read the answer.

Kakao takes client authentication in the form body only (``client_secret_post``), and answers
errors as ``{"error", "error_description", "error_code": "KOEnnn"}``. Errors are classified by
``error`` and ``error_code``, never by the description (Kakao says its text may change). Each
attempt is one bounded exchange (net/exchange.py: HTTPS only, no redirect followed, one deadline
for the whole exchange, the answer capped).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any, Callable, Optional

from ..config import require_https, seconds_setting
from ..errors import (
    ConfigurationError,
    KakaoOAuthError,
    KakaoUnavailable,
    LoginRequired,
    TransportFailure,
    printable,
)
from ..net import Outcome, exchange
from ..token import Token, strict_json

__all__ = [
    "TokenEndpoint",
    "code_form",
    "error_from_answer",
    "merge_answer",
    "parse_answer",
    "refresh_form",
]

log = logging.getLogger("kakao_auth")

TOKEN_PATH = "/oauth/token"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.5
_KOE_CODE = "KOE"


def refresh_form(client_id: str, refresh_token: str, client_secret: Optional[str]) -> dict[str, str]:
    """The refresh request's form: these four fields and nothing a caller passed."""
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    return _with_secret(form, client_secret)


def code_form(
    client_id: str,
    redirect_uri: str,
    code: str,
    client_secret: Optional[str],
    code_verifier: Optional[str],
) -> dict[str, str]:
    """The authorization-code exchange form (``redirect_uri``, not the tutorials' typo)."""
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    if code_verifier:
        form["code_verifier"] = code_verifier
    return _with_secret(form, client_secret)


def _with_secret(form: dict[str, str], client_secret: Optional[str]) -> dict[str, str]:
    if client_secret:
        form["client_secret"] = client_secret
    return form


def parse_answer(status: int, body: bytes) -> dict[str, Any]:
    """Return a successful token answer as a dict, or raise the error it carries.

    Only the answer's shape is checked here; :meth:`Token.from_response` validates every field.
    """
    data = json_object(body)
    if status == 200 and data is not None and isinstance(data.get("access_token"), str):
        return data
    if data is not None and isinstance(data.get("error"), str):
        raise error_from_answer(status, data)
    if status == 200:
        raise KakaoUnavailable("Kakao's token endpoint answered a body that is not a token; try again later")
    if 400 <= status < 500 and status != 429:
        raise ConfigurationError(
            f"the token endpoint answered HTTP {status} in a format that is not Kakao's: "
            "check KAKAO_KAUTH_URL (it should be https://kauth.kakao.com)"
        )
    raise KakaoUnavailable(f"Kakao's token endpoint answered HTTP {status}; try again later")


def merge_answer(current: Optional[Token], answer: Mapping[str, Any], now: float, **extra: Any) -> Token:
    """The token Kakao's ``answer`` (received at ``now``) gives, merged into ``current`` if any.

    Every field is validated (:class:`Token`); an answer that fails is Kakao's fault, typed as
    :class:`KakaoUnavailable` and never saved.
    """
    try:
        token = current.merge(answer, now) if current is not None else Token.from_response(answer, now)
        return dataclasses.replace(token, **extra) if extra else token
    except ValueError as e:
        raise KakaoUnavailable(
            f"Kakao's token endpoint answered a token that fails a check ({e}); try again later"
        ) from None


def error_from_answer(status: Optional[int], data: Mapping[str, Any]) -> KakaoOAuthError:
    """The typed error for Kakao's error object; ``invalid_grant`` means the login is gone.

    KOE303 is an ``invalid_grant`` too, but it is a redirect-URI mismatch: configuration, not a
    dead login. Every field is the server's text: it is checked and cleaned before it can reach
    a message or a terminal.
    """
    error = _word(data.get("error")) or "unknown_error"
    code = _word(data.get("error_code"))
    code = code if code and code.startswith(_KOE_CODE) else None
    description = data.get("error_description")
    description = printable(description) if isinstance(description, str) else None
    cls = LoginRequired if error == "invalid_grant" and code != "KOE303" else KakaoOAuthError
    return cls(error, code, description, status)


def _word(value: Any) -> Optional[str]:
    # error and error_code are short identifiers; anything else is not Kakao's.
    ok = isinstance(value, str) and 0 < len(value) <= 64 and value.isascii()
    return value if ok and value.replace("_", "").isalnum() else None


def json_object(body: bytes) -> Optional[dict[str, Any]]:
    """``body`` as a JSON object (strictly parsed), or None: an answer that is not one is no answer."""
    try:
        data = strict_json(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


class TokenEndpoint:
    """Posts forms to Kakao's token endpoint, one bounded exchange per attempt.

    Each attempt has a deadline of ``timeout`` seconds for the whole exchange (connect, send,
    answer). Connection failures, timeouts, garbled transfers and 5xx answers are retried
    ``retries`` times with doubling ``backoff``; Kakao's 4xx answers never are (KOE237 means
    stop). A caller's request arguments never reach this class: it only sends the form given.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = require_https(url, "the token endpoint URL")
        self.timeout = seconds_setting(timeout, "timeout")
        self.retries = int(seconds_setting(retries, "retries", zero=True))
        self.backoff = seconds_setting(backoff, "backoff", zero=True)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"TokenEndpoint({self.url!r})"

    @property
    def worst_case(self) -> float:
        """The longest :meth:`post` can take: every attempt's deadline plus the backoff."""
        return self.timeout * (self.retries + 1) + self.backoff * (float(2**self.retries) - 1)

    def post(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Send ``form`` and return Kakao's token answer, or raise a typed error."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            outcome = self._exchange(form)
            if isinstance(outcome, str):
                if last:
                    # Raised outside any except block: no __context__ leads back to the request.
                    raise KakaoUnavailable(
                        f"cannot reach Kakao's token endpoint {self.url} ({outcome}); try again later"
                    ) from TransportFailure(outcome)
                self._wait(attempt, outcome)
                continue
            status, body = outcome
            if 300 <= status < 400:
                raise ConfigurationError(
                    f"the token endpoint {self.url} answered a redirect (HTTP {status}); it is never "
                    "followed, since it would re-send the form with its secrets: check KAKAO_KAUTH_URL"
                )
            if status < 500 or last:
                return parse_answer(status, body)
            self._wait(attempt, f"HTTP {status}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(self, form: Mapping[str, str]) -> Outcome:
        log.debug("POST %s (grant_type=%s)", self.url, form.get("grant_type"))
        outcome = exchange(
            "POST", self.url, self.timeout, data=dict(form), headers={"Accept": "application/json"}
        )
        if not isinstance(outcome, str):
            log.debug("token endpoint answered HTTP %s", outcome[0])
        return outcome

    def _wait(self, attempt: int, why: str) -> None:
        delay = self.backoff * (2**attempt)
        log.warning("token endpoint failed (%s); retrying in %.1fs", why, delay)
        self._sleep(delay)
