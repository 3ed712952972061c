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

from typing import Callable, Optional

from ..errors import ConfigurationError, printable
from ..stores import find_plugin
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
    # A dialect+driver of a built-in one (postgresql+psycopg) is that one: no entry-point scan.
    name = base if scheme not in BUILTIN_VAULTS and base in BUILTIN_VAULTS else scheme
    plugin = find_plugin(ENTRY_POINT_GROUP, name, BUILTIN_VAULTS, "vault backend")
    if plugin is None:
        known = ", ".join(sorted(BUILTIN_VAULTS))
        raise ConfigurationError(
            f"no vault backend handles {printable(scheme)}:// URLs (known: {known}; a plug-in adds "
            f"one through the {ENTRY_POINT_GROUP!r} entry-point group)"
        )
    backend: VaultBackend = plugin.call(VaultBackend, "kakao_auth.vault.VaultBackend", url, options)
    return backend
