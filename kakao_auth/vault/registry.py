"""Which backend a vault URL names: by scheme, through the ``kakao_auth.vaults`` entry-point group.

An entry point is a factory ``(url, options: VaultOptions) -> VaultBackend``. kakao_auth
registers its own there, the way a third party adds one; the built-in schemes are looked up in
this module's table first (scanning every distribution's entry points costs tens of ms):

- ``sqlite``, ``postgresql`` (``postgres``), ``mysql``, ``mariadb``, ``mssql``, ``oracle``, and
  any ``dialect+driver`` of them: the SQL vault (SQLAlchemy);
- ``redis``, ``rediss``, ``unix``: the Redis vault;
- ``memory``: in this process, for tests.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Optional

from ..errors import ConfigurationError, printable
from .base import VaultBackend, VaultOptions

__all__ = ["BUILTIN_VAULTS", "ENTRY_POINT_GROUP", "open_backend", "scheme_of"]

ENTRY_POINT_GROUP = "kakao_auth.vaults"
_SQL = "kakao_auth.vault.sql:from_url"
_REDIS = "kakao_auth.vault.redis:from_url"
BUILTIN_VAULTS = {
    "sqlite": _SQL,
    "postgresql": _SQL,
    "postgres": _SQL,
    "mysql": _SQL,
    "mariadb": _SQL,
    "mssql": _SQL,
    "oracle": _SQL,
    "redis": _REDIS,
    "rediss": _REDIS,
    "unix": _REDIS,
    "memory": "kakao_auth.vault.memory:from_url",
}
Factory = Callable[[str, VaultOptions], VaultBackend]


def scheme_of(url: str) -> Optional[str]:
    """The scheme of a vault URL (lower case), or None when it has none."""
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme or not all(c.isalnum() or c in "+-." for c in scheme):
        return None
    return scheme.lower()


def open_backend(url: str, options: VaultOptions) -> VaultBackend:
    """The backend at ``url``."""
    scheme = scheme_of(url)
    if scheme is None:
        raise ConfigurationError(
            f"a vault is a URL (sqlite:///kakao_tokens.db, postgresql://..., redis://...), got "
            f"{printable(url.split('@')[-1], 60)!r}"
        )
    base = scheme.split("+", 1)[0]
    target = BUILTIN_VAULTS.get(scheme) or BUILTIN_VAULTS.get(base) or _registered(scheme)
    if target is None:
        known = ", ".join(sorted(BUILTIN_VAULTS))
        raise ConfigurationError(
            f"no vault backend handles {printable(scheme)}:// URLs (known: {known}; a plug-in adds "
            f"one through the {ENTRY_POINT_GROUP!r} entry-point group)"
        )
    module, _, attr = target.partition(":")
    factory: Factory = getattr(importlib.import_module(module), attr)
    return factory(url, options)


def _registered(scheme: str) -> Optional[str]:
    from importlib.metadata import entry_points

    if sys.version_info >= (3, 10):
        found: Any = entry_points(group=ENTRY_POINT_GROUP)
    else:  # pragma: no cover - Python 3.9's entry_points() is a dict of groups
        found = entry_points().get(ENTRY_POINT_GROUP, [])
    for entry in found:
        if entry.name.lower() == scheme:
            value: str = entry.value
            return value
    return None
