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

from .auth import KakaoAuth
from .errors import (
    ConfigurationError,
    KakaoApiError,
    KakaoAuthError,
    KakaoOAuthError,
    KakaoUnavailable,
    LoginRequired,
    TokenFileError,
    TokenStoreConflict,
    TokenStoreError,
)
from .redis_store import RedisTokenStore
from .session import KakaoSession
from .store import FileTokenStore, TokenStore
from .token import Token, TokenState

__all__ = [
    "ConfigurationError",
    "FileTokenStore",
    "GitHubSecretStore",
    "KakaoApiError",
    "KakaoAuth",
    "KakaoAuthError",
    "KakaoHttpxAuth",
    "KakaoOAuthError",
    "KakaoSession",
    "KakaoUnavailable",
    "LoginRequired",
    "RedisTokenStore",
    "Token",
    "TokenFileError",
    "TokenState",
    "TokenStore",
    "TokenStoreConflict",
    "TokenStoreError",
    "TokenVault",
    "__version__",
]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .github_store import GitHubSecretStore
    from .httpx_auth import KakaoHttpxAuth
    from .vault import TokenVault


def __getattr__(name: str) -> Any:
    # Imported on first use: a cron run pays only for what it uses (httpx alone costs ~40 ms),
    # and kakao_auth must import without httpx installed at all.
    if name == "KakaoHttpxAuth":
        from .httpx_auth import KakaoHttpxAuth

        return KakaoHttpxAuth
    if name == "GitHubSecretStore":
        from .github_store import GitHubSecretStore

        return GitHubSecretStore
    if name == "TokenVault":
        from .vault import TokenVault

        return TokenVault
    raise AttributeError(f"module 'kakao_auth' has no attribute {name!r}")


# A library logs, an application decides where to: without this, Python's last-resort handler
# would print the retry warnings as bare stderr lines.
logging.getLogger("kakao_auth").addHandler(logging.NullHandler())
