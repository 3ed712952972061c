"""The token endpoint (``POST {kauth}/oauth/token``): build the forms, send them, read the answer.

Kakao takes client authentication in the form body only (``client_secret_post``), and answers
errors as ``{"error", "error_description", "error_code": "KOEnnn"}``. Errors are classified by
``error`` and ``error_code``, never by the description (Kakao says its text may change).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Callable, Optional

import requests

from .errors import KakaoAuthError, KakaoOAuthError, LoginRequired

__all__ = ["TokenEndpoint", "code_form", "error_from_answer", "parse_answer", "refresh_form"]

log = logging.getLogger("kakao_auth")

TOKEN_PATH = "/oauth/token"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.5


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
    """Return a successful token answer as a dict, or raise the error it carries."""
    data = _json_object(body)
    if status == 200 and data is not None and isinstance(data.get("access_token"), str):
        return data
    if data is not None and isinstance(data.get("error"), str):
        raise error_from_answer(status, data)
    what = "a body that is not a token" if status == 200 else f"HTTP {status}"
    raise KakaoAuthError(f"Kakao's token endpoint answered {what}; try again later")


def error_from_answer(status: Optional[int], data: Mapping[str, Any]) -> KakaoOAuthError:
    """The typed error for Kakao's error object; ``invalid_grant`` means the login is gone.

    KOE303 is an ``invalid_grant`` too, but it is a redirect-URI mismatch: configuration, not a
    dead login.
    """
    error = str(data.get("error"))
    code = data.get("error_code")
    code = code if isinstance(code, str) else None
    description = data.get("error_description")
    description = description if isinstance(description, str) else None
    cls = LoginRequired if error == "invalid_grant" and code != "KOE303" else KakaoOAuthError
    return cls(error, code, description, status)


def _json_object(body: bytes) -> Optional[dict[str, Any]]:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class TokenEndpoint:
    """Posts forms to Kakao's token endpoint with its own plain session.

    Connection errors, timeouts and 5xx answers are retried ``retries`` times with doubling
    backoff; Kakao's 4xx answers never are (KOE237 means stop). A caller's request arguments
    never reach this class: it only ever sends the form it is given.
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
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._http: Optional[requests.Session] = None  # made on first use: most runs never refresh

    def __repr__(self) -> str:
        return f"TokenEndpoint({self.url!r})"

    def post(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Send ``form`` and return Kakao's token answer, or raise a typed error."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._send(form)
            except (requests.ConnectionError, requests.Timeout) as e:
                if last:
                    raise KakaoAuthError(
                        f"cannot reach Kakao's token endpoint {self.url}: {type(e).__name__}; try again later"
                    ) from e
                self._wait(attempt, type(e).__name__)
                continue
            if response.status_code < 500 or last:
                return parse_answer(response.status_code, response.content)
            self._wait(attempt, f"HTTP {response.status_code}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, form: Mapping[str, str]) -> requests.Response:
        grant = form.get("grant_type")
        log.debug("POST %s (grant_type=%s)", self.url, grant)
        if self._http is None:
            self._http = requests.Session()
        response = self._http.post(
            self.url, data=dict(form), timeout=self.timeout, headers={"Accept": "application/json"}
        )
        log.debug("token endpoint answered HTTP %s", response.status_code)
        return response

    def _wait(self, attempt: int, why: str) -> None:
        delay = self.backoff * (2**attempt)
        log.warning("token endpoint failed (%s); retrying in %.1fs", why, delay)
        self._sleep(delay)
