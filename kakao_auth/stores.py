"""Which store a location names: a file path, or a store URL resolved through a plug-in registry.

``open_store(location)`` takes the explicit location, else ``KAKAO_TOKEN_STORE`` (a path or a
URL), else ``KAKAO_TOKEN_FILE``, else ``./kakao_token.json``. A location whose scheme is
registered in the ``kakao_auth.stores`` entry-point group is a store URL; the entry point is a
factory ``(url, *, client_id=None) -> TokenStore``. kakao_auth registers its own stores there
the same way a third party registers ``ssm://`` or ``vault://``:

- ``file``: ``file:///path/to/kakao_token.json`` (a plain path works too);
- ``redis``, ``rediss``, ``unix``: :class:`RedisTokenStore`, whose options may ride in the query
  (``redis://host:6379/0?key=myapp:token&lock_ttl=10``);
- ``github``: :class:`GitHubSecretStore`, ``github://OWNER/REPO/NAME`` or ``github:NAME``.

The built-in schemes are looked up in this module's own table first, which holds exactly what
setup.cfg registers (a test pins that): scanning every installed distribution's entry points
costs a cron run tens of milliseconds, so that only happens for a scheme kakao_auth lacks.
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .config import store_location
from .errors import ConfigurationError, printable
from .store import FileTokenStore, PathLike, TokenStore

__all__ = ["BUILTIN_STORES", "ENTRY_POINT_GROUP", "file_store", "open_store", "redis_store", "scheme_of"]

ENTRY_POINT_GROUP = "kakao_auth.stores"
BUILTIN_STORES = {
    "file": "kakao_auth.stores:file_store",
    "redis": "kakao_auth.stores:redis_store",
    "rediss": "kakao_auth.stores:redis_store",
    "unix": "kakao_auth.stores:redis_store",
    "github": "kakao_auth.github_store:from_url",
}
Factory = Callable[..., TokenStore]
# A scheme of two or more characters: "C:\\tokens\\k.json" is a Windows path, not a URL.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")
_OPTIONS = {"key": str, "prefix": str, "lock_ttl": float, "lock_wait": float, "socket_timeout": float}


def open_store(location: Optional[PathLike] = None, *, client_id: Optional[str] = None) -> TokenStore:
    """The store at ``location`` (a path or a URL), else the one the environment names."""
    text = store_location(location)
    scheme = scheme_of(text)
    if scheme is None:
        return FileTokenStore(text)
    return _factory(scheme)(text, client_id=client_id)


def scheme_of(location: str) -> Optional[str]:
    """The store URL scheme of ``location`` (lower case), or None for a plain path."""
    match = _SCHEME.match(location)
    return match.group(1).lower() if match else None


def _factory(scheme: str) -> Factory:
    target = BUILTIN_STORES.get(scheme) or _registered(scheme)
    if target is None:
        known = ", ".join(sorted(BUILTIN_STORES))
        raise ConfigurationError(
            f"no token store handles {printable(scheme)}:// URLs (known: {known}; a plug-in adds "
            f"one through the {ENTRY_POINT_GROUP!r} entry-point group)"
        )
    module, _, attr = target.partition(":")
    factory: Factory = getattr(importlib.import_module(module), attr)
    return factory


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


def file_store(url: str, *, client_id: Optional[str] = None) -> FileTokenStore:
    """A FileTokenStore from ``file:///path`` (or ``file:path``)."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigurationError(f"a file store URL names a local path, got {printable(url)!r}")
    return FileTokenStore(parts.path)


def redis_store(url: str, *, client_id: Optional[str] = None) -> TokenStore:
    """A RedisTokenStore from a URL whose query may carry key, prefix, lock_ttl, lock_wait."""
    from .redis_store import RedisTokenStore

    parts = urlsplit(url)
    ours: dict[str, Any] = {}
    theirs = []
    for name, value in parse_qsl(parts.query):
        if name in _OPTIONS:
            try:
                ours[name] = _OPTIONS[name](value)
            except ValueError:
                raise ConfigurationError(f"the store URL's {name} must be a number") from None
        else:
            theirs.append((name, value))
    plain = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(theirs), ""))
    return RedisTokenStore(plain, client_id=client_id, **ours)
