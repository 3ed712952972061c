"""The token vault: every user's Kakao login kept alive, in the app's own database.

::

    from kakao_auth import TokenVault
    vault = TokenVault("postgresql://app@db/app")
    vault.save(user_id, token_answer)             # after the app's own Kakao login
    vault.session(user_id).get("https://kapi.kakao.com/v2/user/me")
    vault.keep_alive()                            # daily: every login stays alive

This package's face: :class:`TokenVault`, :class:`KeepAliveReport`, and for backend plug-ins
:class:`VaultBackend`, :class:`RowBackend` and :class:`VaultOptions` (entry-point group
``kakao_auth.vaults``). Optional dependencies (SQLAlchemy, redis-py, cryptography) are imported
only by the backend that needs them; this face imports its modules on first use, so that the
command line (``kakao-auth vault``) costs other commands nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import TokenVault
    from .base import NoLogin, RowBackend, VaultBackend, VaultOptions, user_key
    from .keepalive import KeepAliveReport
    from .leave import logout, scopes, unlink
    from .registry import ENTRY_POINT_GROUP

__all__ = [
    "ENTRY_POINT_GROUP",
    "KeepAliveReport",
    "NoLogin",
    "RowBackend",
    "TokenVault",
    "VaultBackend",
    "VaultOptions",
    "logout",
    "scopes",
    "unlink",
    "user_key",
]

_WHERE = {
    "ENTRY_POINT_GROUP": "registry",
    "KeepAliveReport": "keepalive",
    "NoLogin": "base",
    "RowBackend": "base",
    "TokenVault": "api",
    "VaultBackend": "base",
    "VaultOptions": "base",
    "logout": "leave",
    "scopes": "leave",
    "unlink": "leave",
    "user_key": "base",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'kakao_auth.vault' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
