"""kakao_auth: Kakao REST API tokens that refresh themselves, shared safely by every job.

::

    from kakao_auth import KakaoSession
    session = KakaoSession.from_file("kakao_token.json")
    session.get("https://kapi.kakao.com/v2/user/me")

The public names are below; everything else is internal and may change.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .clients import KakaoAuth, KakaoSession
from .errors import (
    ConfigurationError,
    ConsentRequired,
    IdTokenError,
    KakaoApiError,
    KakaoAuthError,
    KakaoOAuthError,
    KakaoUnavailable,
    LoginDenied,
    LoginRequired,
    LoginStateMismatch,
    TokenFileError,
    TokenStoreConflict,
    TokenStoreError,
)
from .stores import FileTokenStore, RedisTokenStore, TokenStore
from .token import Token, TokenState

__all__ = [
    "ConfigurationError",
    "ConsentRequired",
    "FileTokenStore",
    "GitHubSecretStore",
    "IdTokenError",
    "KakaoApiError",
    "KakaoAuth",
    "KakaoAuthError",
    "KakaoHttpxAuth",
    "KakaoOAuthError",
    "KakaoSession",
    "KakaoUnavailable",
    "LoginDenied",
    "LoginRequired",
    "LoginStateMismatch",
    "RedisTokenStore",
    "Token",
    "TokenFileError",
    "TokenState",
    "TokenStore",
    "TokenStoreConflict",
    "TokenStoreError",
    "TokenVault",
    "WebLogin",
    "__version__",
    "verify_id_token",
]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .clients import KakaoHttpxAuth
    from .oauth import verify_id_token
    from .stores import GitHubSecretStore
    from .vault import TokenVault
    from .web import WebLogin


def __getattr__(name: str) -> Any:
    # Imported on first use: a cron run pays only for what it uses (httpx alone costs ~40 ms),
    # and kakao_auth must import without httpx installed at all.
    if name == "KakaoHttpxAuth":
        from .clients import KakaoHttpxAuth

        return KakaoHttpxAuth
    if name == "GitHubSecretStore":
        from .stores import GitHubSecretStore

        return GitHubSecretStore
    if name == "TokenVault":
        from .vault import TokenVault

        return TokenVault
    if name == "WebLogin":  # the web wing: PyJWT and SQLAlchemy stay unimported until used
        from .web import WebLogin

        return WebLogin
    if name == "verify_id_token":
        from .oauth import verify_id_token

        return verify_id_token
    raise AttributeError(f"module 'kakao_auth' has no attribute {name!r}")


# A library logs, an application decides where to: without this, Python's last-resort handler
# would print the retry warnings as bare stderr lines.
logging.getLogger("kakao_auth").addHandler(logging.NullHandler())
