"""Kakao's OAuth protocol: the token endpoint, the authorize URL and PKCE, id_token checks.

``verify_id_token`` is imported on first use: it needs PyJWT (the ``oidc`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .authorize import AUTHORIZE_PATH, Scope, authorize_url, new_pkce, new_state, parse_redirect
from .token_endpoint import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    TOKEN_PATH,
    TokenEndpoint,
    code_form,
    error_from_answer,
    json_object,
    merge_answer,
    parse_answer,
    refresh_form,
)

if TYPE_CHECKING:
    from .id_token import verify_id_token

__all__ = [
    "AUTHORIZE_PATH",
    "DEFAULT_BACKOFF",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "TOKEN_PATH",
    "Scope",
    "TokenEndpoint",
    "authorize_url",
    "code_form",
    "error_from_answer",
    "json_object",
    "merge_answer",
    "new_pkce",
    "new_state",
    "parse_answer",
    "parse_redirect",
    "refresh_form",
    "verify_id_token",
]


def __getattr__(name: str) -> Any:
    # PyJWT (and cryptography) load only when an id_token is verified.
    if name == "verify_id_token":
        from .id_token import verify_id_token

        return verify_id_token
    raise AttributeError(f"module 'kakao_auth.oauth' has no attribute {name!r}")
