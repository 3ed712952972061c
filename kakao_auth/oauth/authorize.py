"""Logging in: the authorization URL with state and PKCE, and reading Kakao's redirect.

Kakao redirects the browser to ``redirect_uri`` with ``code`` and ``state``, or with ``error``
and ``error_description`` (``access_denied`` when the user cancels). ``state`` may be absent on
an error, so the error is read first (../shared/KAKAO.md, "Login: authorization code").
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from typing import Optional, Union
from urllib.parse import parse_qs, urlencode, urlsplit

from ..errors import KakaoAuthError, KakaoOAuthError

__all__ = ["Scope", "authorize_url", "new_pkce", "new_state", "parse_redirect"]

AUTHORIZE_PATH = "/oauth/authorize"
Scope = Union[str, Sequence[str], None]


def new_state() -> str:
    """A fresh unguessable ``state`` value (CSRF protection)."""
    return secrets.token_urlsafe(24)


def new_pkce() -> tuple[str, str]:
    """A PKCE ``(code_verifier, code_challenge)`` pair for ``code_challenge_method=S256``."""
    verifier = secrets.token_urlsafe(48)  # 64 characters, inside RFC 7636's 43..128
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def scope_param(scope: Scope) -> Optional[str]:
    """Kakao's ``scope`` parameter: consent items separated by commas."""
    if scope is None or isinstance(scope, str):
        return scope or None
    return ",".join(scope) or None


def authorize_url(
    kauth_url: str,
    client_id: str,
    redirect_uri: str,
    *,
    state: str,
    code_challenge: str,
    scope: Scope = None,
    **extra: str,
) -> str:
    """The ``/oauth/authorize`` URL for the browser (``extra``: prompt, login_hint, nonce...)."""
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    scopes = scope_param(scope)
    if scopes:
        params["scope"] = scopes
    params.update(extra)
    return f"{kauth_url.rstrip('/')}{AUTHORIZE_PATH}?{urlencode(params)}"


def parse_redirect(text: str, expected_state: Optional[str]) -> str:
    """Return the authorization code from a redirected URL, or from a bare pasted code.

    Raises :class:`KakaoOAuthError` for Kakao's ``error`` answer and :class:`KakaoAuthError`
    when ``state`` is not the one this login sent.
    """
    text = text.strip()
    if "?" not in text and "=" not in text:
        if not text:
            raise KakaoAuthError("no authorization code was given")
        if _looks_like_url(text):
            # The address bar before Kakao's redirect, or one cut at the '?': taken as a code,
            # it would skip the state check and end in a misleading KOE320.
            raise KakaoAuthError(
                "the pasted URL has no code: paste the whole address the browser was redirected "
                "to, including its ?code=...&state=... part"
            )
        return text
    params = {k: v[0] for k, v in parse_qs(urlsplit(text).query or text).items()}
    if "error" in params:
        raise KakaoOAuthError(params["error"], None, params.get("error_description"))
    if expected_state is not None and params.get("state") != expected_state:
        raise KakaoAuthError(
            "the redirect's state does not match this login (a stale or forged redirect); "
            "start the login again"
        )
    code = params.get("code")
    if not code:
        raise KakaoAuthError("the redirected URL has no code parameter")
    return code


def _looks_like_url(text: str) -> bool:
    """Whether a paste is an address, not a code: Kakao's codes hold no ``:`` or ``/``."""
    return "://" in text or "/" in text or ":" in text
