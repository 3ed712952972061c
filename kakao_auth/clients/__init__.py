"""Glue for each HTTP library: the shared TokenAuth base, then one module per library.

base.py holds what every client shares (the token core, the API host guard, the 401 retry
budget); requests_auth.py is :class:`KakaoAuth` (a requests auth), httpx_auth.py
:class:`KakaoHttpxAuth` (imported on first use: httpx costs ~40 ms), session.py
:class:`KakaoSession` with its requests-oauthlib compatibility in oauth2_compat.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import MAX_401, TokenAuth
from .requests_auth import KakaoAuth
from .session import KakaoSession

if TYPE_CHECKING:
    from .httpx_auth import KakaoHttpxAuth

__all__ = ["MAX_401", "KakaoAuth", "KakaoHttpxAuth", "KakaoSession", "TokenAuth"]


def __getattr__(name: str) -> Any:
    if name == "KakaoHttpxAuth":  # httpx loads only when it is used
        from .httpx_auth import KakaoHttpxAuth

        return KakaoHttpxAuth
    raise AttributeError(f"module 'kakao_auth.clients' has no attribute {name!r}")
