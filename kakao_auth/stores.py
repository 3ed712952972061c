"""Which store a location names: a file path, or a Redis URL.

``open_store(location)`` takes the explicit location, else ``KAKAO_TOKEN_STORE`` (a path or a
URL), else ``KAKAO_TOKEN_FILE``, else ``./kakao_token.json``. A Redis URL may carry the store's
own options in its query: ``redis://host:6379/0?key=myapp:token&lock_ttl=10``.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .config import store_location
from .errors import ConfigurationError
from .redis_store import RedisTokenStore, is_store_url
from .store import FileTokenStore, PathLike, TokenStore

__all__ = ["open_store"]

_OPTIONS = {"key": str, "prefix": str, "lock_ttl": float, "lock_wait": float, "socket_timeout": float}


def open_store(location: Optional[PathLike] = None, *, client_id: Optional[str] = None) -> TokenStore:
    """The store at ``location`` (a path or a URL), else the one the environment names."""
    text = store_location(location)
    if is_store_url(text):
        return redis_store(text, client_id=client_id)
    return FileTokenStore(text)


def redis_store(url: str, *, client_id: Optional[str] = None) -> RedisTokenStore:
    """A RedisTokenStore from a URL whose query may carry key, prefix, lock_ttl, lock_wait."""
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
