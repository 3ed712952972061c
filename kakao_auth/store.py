"""Deprecated: the names of ``kakao_auth.store`` now live in :mod:`kakao_auth.stores`.

Third-party stores wrote ``from kakao_auth.store import StoreBusy`` (docs/stores.md said so).
The module became the ``stores/`` wing; this shim keeps those imports working, with a
:class:`DeprecationWarning`, for one release. Import from ``kakao_auth.stores`` instead.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .stores import Adopt, FileTokenStore, StoreBusy, TokenStore, atomic_write, parse_token

__all__ = ["Adopt", "FileTokenStore", "StoreBusy", "TokenStore", "atomic_write", "parse_token"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'kakao_auth.store' has no attribute {name!r}")
    warnings.warn(
        f"kakao_auth.store is deprecated: import {name} from kakao_auth.stores",
        DeprecationWarning,
        stacklevel=2,
    )
    from . import stores

    return getattr(stores, name)
