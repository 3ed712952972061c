"""RedisTokenStore: one token shared by many machines, with the file store's guarantees.

The token is one JSON value under a key (by default ``kakao_auth:token:<client id>``, so one
Redis serves several apps). The lock is redis-py's lock on ``<key>:lock``: it has a TTL, so a
crashed holder cannot block anyone for longer than that, and waiting for it is bounded. Because a
holder can be paused past its TTL (GC, SIGSTOP, a VM migration) and wake up still believing it
holds the lock, every save is a compare-and-set (WATCH/MULTI) against the value read under the
lock: a late save never overwrites a newer token (:class:`TokenStoreConflict`).

When Redis stalls while a lock is being taken, the request may still run once Redis answers
again, leaving a lock that nobody holds: it blocks the others for at most ``lock_ttl``.

Needs redis-py: ``pip install 'kakao-auth[redis]'``. ``import kakao_auth`` works without it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional, Union
from urllib.parse import urlsplit

from .errors import TokenStoreConflict, TokenStoreError
from .store import TokenStore, parse_token
from .token import Token

if TYPE_CHECKING:
    import redis

__all__ = ["RedisTokenStore", "is_store_url"]

log = logging.getLogger("kakao_auth")

DEFAULT_PREFIX = "kakao_auth:"
_SCHEMES = ("redis", "rediss", "unix")


def is_store_url(location: str) -> bool:
    """Whether ``location`` names a Redis store rather than a file path."""
    return urlsplit(location).scheme in _SCHEMES


class RedisTokenStore(TokenStore):
    """A token in Redis, locked with a TTL and saved with compare-and-set.

    ``key``: the key holding the token (default ``<prefix>token:<client_id>``, the client id
    from ``client_id=`` or ``KAKAO_REST_API_KEY``). ``lock_ttl``: seconds a lock lives unless
    released (longer than a refresh takes). ``lock_wait``: seconds to wait for the lock before a
    :class:`TokenStoreError`. ``socket_timeout``: seconds before a silent Redis is an error.
    """

    def __init__(
        self,
        url: str,
        *,
        key: Optional[str] = None,
        prefix: str = DEFAULT_PREFIX,
        client_id: Optional[str] = None,
        lock_ttl: float = 30.0,
        lock_wait: float = 30.0,
        socket_timeout: float = 5.0,
    ) -> None:
        self._redis = _connect(url, socket_timeout)
        self._where = _public(url)
        self.key = key or _default_key(prefix, client_id)
        self.lock_ttl = lock_ttl
        self.lock_wait = lock_wait

    @property
    def location(self) -> str:
        return f"{self._where} key {self.key}"

    def load(self) -> Token:
        raw = self._call("read the token", self._redis.get, self.key)
        if raw is None:
            raise self.error("holds no token")
        return parse_token(raw, time.time(), self.error)

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        data = json.dumps(token.to_dict(time.time()))
        self._call("save the token", self._compare_and_set, data, previous)

    def _compare_and_set(self, data: str, previous: Optional[Token]) -> None:
        import redis

        with self._redis.pipeline() as pipe:
            try:
                pipe.watch(self.key)  # type: ignore[no-untyped-call]
                if previous is not None and not _same(pipe.get(self.key), previous):
                    raise TokenStoreConflict(f"{self.location} changed since it was read; not overwritten")
                pipe.multi()
                pipe.set(self.key, data)
                pipe.execute()
            except redis.WatchError:
                raise TokenStoreConflict(f"{self.location} changed while saving; not overwritten") from None

    def delete(self) -> None:
        self._call("delete the token", self._redis.delete, self.key)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        lock = self._redis.lock(self.key + ":lock", timeout=self.lock_ttl, sleep=0.01, thread_local=False)
        if not self._call("take the lock", lock.acquire, blocking=True, blocking_timeout=self.lock_wait):
            raise TokenStoreError(
                f"timed out after {self.lock_wait:g}s waiting for the lock on {self.location}; "
                f"a holder is refreshing, or died less than {self.lock_ttl:g}s ago"
            )
        try:
            yield
        finally:
            self._release(lock)

    def _release(self, lock: Any) -> None:
        import redis

        try:
            lock.release()
        except redis.exceptions.LockError:
            # The TTL lapsed mid-refresh; the compare-and-set save already kept us honest.
            log.warning("the lock on %s had expired before it was released", self.location)
        except redis.RedisError as e:
            log.warning("could not release the lock on %s: %s", self.location, type(e).__name__)

    def _call(self, doing: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return func(*args, **kwargs)
        except redis.RedisError as e:
            raise TokenStoreError(f"cannot {doing} at {self.location}: {type(e).__name__}: {e}") from e


def _connect(url: str, socket_timeout: float) -> redis.Redis:
    try:
        import redis
    except ImportError:
        raise TokenStoreError("RedisTokenStore needs redis-py: pip install 'kakao-auth[redis]'") from None
    return redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout)


def _default_key(prefix: str, client_id: Optional[str]) -> str:
    client_id = client_id or os.environ.get("KAKAO_REST_API_KEY")
    if not client_id:
        raise TokenStoreError(
            "RedisTokenStore needs a key: pass key= or client_id=, or set KAKAO_REST_API_KEY "
            "(the default key is one per client id)"
        )
    return f"{prefix}token:{client_id}"


def _public(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _same(raw: Union[bytes, str, None], previous: Token) -> bool:
    if raw is None:
        return False
    try:
        stored = json.loads(raw)
    except ValueError:
        return False
    return isinstance(stored, dict) and stored.get("access_token") == previous.access_token
