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

Schemes are case-insensitive (``GITHUB://`` is ``github://``): the factory gets the URL with its
scheme in lower case. A plug-in that cannot be loaded (its module or attribute missing), whose
factory fails with anything but a :class:`KakaoAuthError`, or returns something that is not a
:class:`TokenStore`, is a :class:`ConfigurationError` naming the scheme, the entry point and the
distribution that registered it (never the failure's own words, which may hold the URL).

The built-in schemes are looked up in this module's own table first, which holds exactly what
setup.cfg registers (a test pins that): scanning every installed distribution's entry points
costs a cron run tens of milliseconds, so that only happens for a scheme kakao_auth lacks.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Mapping
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..config import origin, store_location
from ..errors import ConfigurationError, KakaoAuthError, printable
from .base import PathLike, TokenStore
from .file import FileTokenStore

__all__ = [
    "BUILTIN_STORES",
    "ENTRY_POINT_GROUP",
    "Plugin",
    "file_store",
    "find_plugin",
    "github_store",
    "open_store",
    "redis_store",
    "scheme_of",
]

ENTRY_POINT_GROUP = "kakao_auth.stores"
BUILTIN_STORES = {
    "file": "kakao_auth.stores:file_store",
    "redis": "kakao_auth.stores:redis_store",
    "rediss": "kakao_auth.stores:redis_store",
    "unix": "kakao_auth.stores:redis_store",
    "github": "kakao_auth.stores:github_store",
}
# A scheme of two or more characters: "C:\\tokens\\k.json" is a Windows path, not a URL.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")
_OPTIONS = {"key": str, "prefix": str, "lock_ttl": float, "lock_wait": float, "socket_timeout": float}


def open_store(location: Optional[PathLike] = None, *, client_id: Optional[str] = None) -> TokenStore:
    """The store at ``location`` (a path or a URL), else the one the environment names."""
    text = store_location(location)
    scheme = scheme_of(text)
    if scheme is None:
        return FileTokenStore(text)
    text = scheme + text[len(scheme) :]
    plugin = find_plugin(ENTRY_POINT_GROUP, scheme, BUILTIN_STORES, "token store")
    if plugin is None:
        known = ", ".join(sorted(BUILTIN_STORES))
        raise ConfigurationError(
            f"no token store handles {printable(scheme)}:// URLs (known: {known}; a plug-in adds "
            f"one through the {ENTRY_POINT_GROUP!r} entry-point group)"
        )
    store: TokenStore = plugin.call(TokenStore, "kakao_auth.TokenStore", text, client_id=client_id)
    return store


def scheme_of(location: str) -> Optional[str]:
    """The store URL scheme of ``location`` (lower case), or None for a plain path."""
    match = _SCHEME.match(location)
    return match.group(1).lower() if match else None


class Plugin:
    """The entry point a scheme resolves to (``module:attr``, from a distribution), and its failures.

    Shared by the store and the vault registries: whatever a plug-in does wrong (its module or
    attribute missing, its factory failing with anything but a :class:`KakaoAuthError`, or
    returning the wrong kind of object) is a :class:`ConfigurationError` naming the scheme, the
    entry point and the distribution, never the failure's own words (they may hold the URL).
    """

    def __init__(self, kind: str, scheme: str, target: str, distribution: str) -> None:
        self.kind, self.scheme, self.target, self.distribution = kind, scheme, target, distribution

    def load(self) -> Callable[..., object]:
        module, _, attr = self.target.partition(":")
        failure = ""
        try:
            factory: Callable[..., object] = getattr(importlib.import_module(module), attr)
        except Exception as e:  # ImportError, AttributeError, or the module's own failure
            failure = f"cannot be loaded ({type(e).__name__})"
        if failure:
            raise self.error(failure)
        if not callable(factory):
            raise self.error("is not callable")
        return factory

    def call(self, expected: type, named: str, *args: Any, **kwargs: Any) -> Any:
        """The plug-in's factory called with ``args``; what it made, if it is an ``expected``."""
        failure = ""
        try:
            made = self.load()(*args, **kwargs)
        except KakaoAuthError:
            raise  # the plug-in's own, typed error: it says what to fix
        except Exception as e:  # a plug-in's bug: its words may hold the URL and its password
            failure = f"failed ({type(e).__name__})"
        else:
            if isinstance(made, expected):
                return made
            failure = f"returned a {type(made).__name__}, not a {named}"
        raise self.error(failure)  # outside the except block: no __context__ to the plug-in's error

    def error(self, failure: str) -> ConfigurationError:
        return ConfigurationError(
            f"the {self.kind} plug-in for {printable(self.scheme)}:// ({_name(self.target)!r}, "
            f"from the distribution {_name(self.distribution)!r}) {failure}: reinstall or fix "
            f"that distribution, or use another {self.kind.split()[-1]}"
        )


def find_plugin(group: str, scheme: str, builtin: Mapping[str, str], kind: str) -> Optional[Plugin]:
    """The plug-in for ``scheme``: kakao_auth's own table first, else the ``group`` entry points."""
    if scheme in builtin:
        return Plugin(kind, scheme, builtin[scheme], "kakao-auth")
    entry = _registered(group, scheme)
    return None if entry is None else Plugin(kind, scheme, entry.value, _distribution(group, entry))


def _name(text: str) -> str:
    # A module path or a distribution's name: long, but no secret (printable() would hide it).
    return printable(text, hide_tokens=False)


def _registered(group: str, scheme: str) -> Any:
    from importlib.metadata import entry_points

    if sys.version_info >= (3, 10):
        found: Any = entry_points(group=group)
    else:  # pragma: no cover - Python 3.9's entry_points() is a dict of groups
        found = entry_points().get(group, [])
    for entry in found:
        if entry.name.lower() == scheme:
            return entry
    return None


def _distribution(group: str, entry: Any) -> str:
    """The name of the distribution that registered ``entry`` (3.10+ knows; 3.9 searches)."""
    dist = getattr(entry, "dist", None)
    if dist is not None:
        return str(dist.metadata["Name"] or "an unnamed distribution")
    from importlib.metadata import distributions  # pragma: no cover - Python 3.9

    for candidate in distributions():  # pragma: no cover
        if any(e.group == group and e.value == entry.value for e in candidate.entry_points):
            return str(candidate.metadata["Name"])
    return "an unknown distribution"  # pragma: no cover


def file_store(url: str, *, client_id: Optional[str] = None) -> FileTokenStore:
    """A FileTokenStore from ``file:///path`` (or ``file:path``)."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigurationError(
            f"a file store URL names a local path (file:///path), got one on {origin(url)}"
        )
    return FileTokenStore(parts.path)


def redis_store(url: str, *, client_id: Optional[str] = None) -> TokenStore:
    """A RedisTokenStore from a URL whose query may carry key, prefix, lock_ttl, lock_wait."""
    from .redis import RedisTokenStore

    _refuse_split_password(url)
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


def github_store(url: str, *, client_id: Optional[str] = None) -> TokenStore:
    """A GitHubSecretStore from ``github://OWNER/REPO/NAME`` or ``github:NAME``.

    Imported here, on first use: sealing a secret needs PyNaCl (the ``github`` extra).
    """
    from .github import from_url

    return from_url(url, client_id=client_id)


def _refuse_split_password(url: str) -> None:
    """Refuse a Redis URL whose password has ``/``, ``?`` or ``#`` as they are.

    A parser ends the host part at the first of them, so the password would be cut up: its
    pieces taken for a host, a port, a path or options, and sent or shown as such. Its user info
    runs to the last ``@``; nothing of it is shown.
    """
    authority = url.partition("://")[2]
    userinfo = authority.rpartition("@")[0]
    if any(c in userinfo for c in "/?#"):
        raise ConfigurationError(
            "the Redis URL has '/', '?' or '#' before its last '@' (in its password?): "
            "percent-encode them in the password (%2F, %3F, %23), and an '@' in a key (%40)"
        )
