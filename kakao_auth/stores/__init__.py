"""Where tokens live: the TokenStore contract (base.py) and the stores kakao_auth ships.

The file store (file.py, writing through atomic_file.py, woken by lockwatch.py), the Redis store
(redis.py), the GitHub Actions secret store (github.py, imported on first use: it needs PyNaCl),
and the registry that turns a location or a store URL into one of them (registry.py, the
``kakao_auth.stores`` entry-point group). A third-party store subclasses :class:`TokenStore`;
its waiters may raise :class:`StoreBusy` and take an :class:`Adopt`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .atomic_file import atomic_write
from .base import Adopt, PathLike, StoreBusy, TokenStore, lock_only, parse_token, take_or_adopt
from .file import FileTokenStore
from .memory import InMemoryStore
from .redis import RedisTokenStore, connect_redis, public_url
from .registry import (
    BUILTIN_STORES,
    ENTRY_POINT_GROUP,
    Plugin,
    file_store,
    find_plugin,
    github_store,
    open_store,
    redis_store,
    scheme_of,
)

if TYPE_CHECKING:
    from .github import GitHubSecretStore

__all__ = [
    "BUILTIN_STORES",
    "ENTRY_POINT_GROUP",
    "Adopt",
    "FileTokenStore",
    "GitHubSecretStore",
    "InMemoryStore",
    "PathLike",
    "Plugin",
    "RedisTokenStore",
    "StoreBusy",
    "TokenStore",
    "atomic_write",
    "connect_redis",
    "file_store",
    "find_plugin",
    "github_store",
    "lock_only",
    "open_store",
    "parse_token",
    "public_url",
    "redis_store",
    "scheme_of",
    "take_or_adopt",
]


def __getattr__(name: str) -> Any:
    # PyNaCl loads only when a GitHub secret store is used.
    if name == "GitHubSecretStore":
        from .github import GitHubSecretStore

        return GitHubSecretStore
    raise AttributeError(f"module 'kakao_auth.stores' has no attribute {name!r}")
