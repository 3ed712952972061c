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
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ContextManager, Optional, Union
from urllib.parse import urlsplit

from .config import env_client_id, seconds_setting
from .errors import ConfigurationError, TokenStoreConflict, TokenStoreError, printable
from .store import POLL, Adopt, TokenStore, lock_only, parse_token, take_or_adopt
from .token import Token

if TYPE_CHECKING:
    import redis

__all__ = ["RedisTokenStore"]

log = logging.getLogger("kakao_auth")

DEFAULT_PREFIX = "kakao_auth:"
DEFAULT_LOCK_TTL = 30.0
# How much a lock outlives the slowest refresh, and a waiter the lock.
LOCK_TTL_MARGIN = 10.0
# How long a waiter sleeps on the channel before it looks again without a message.
WAKE = 0.05


class RedisTokenStore(TokenStore):
    """A token in Redis, locked with a TTL and saved with compare-and-set.

    ``key``: the key holding the token (default ``<prefix>token:<client_id>``, the client id
    from ``client_id=`` or ``KAKAO_REST_API_KEY``). ``lock_ttl``: seconds a lock lives unless
    released; by default longer than the slowest refresh the holder can make (its token
    endpoint's timeout x attempts + backoff), so a lock never lapses under a live refresh.
    ``lock_wait``: seconds to wait for the lock before a :class:`TokenStoreError` (default: a
    little over ``lock_ttl``). ``socket_timeout``: seconds before a silent Redis is an error.
    """

    def __init__(
        self,
        url: str,
        *,
        key: Optional[str] = None,
        prefix: str = DEFAULT_PREFIX,
        client_id: Optional[str] = None,
        lock_ttl: Optional[float] = None,
        lock_wait: Optional[float] = None,
        socket_timeout: float = 5.0,
    ) -> None:
        self._lock_ttl = _positive_or_none(lock_ttl, "lock_ttl")
        self._lock_wait = _positive_or_none(lock_wait, "lock_wait")
        self._redis = _connect(url, seconds_setting(socket_timeout, "socket_timeout"))
        self._where = _public(url)
        self.key = key or _default_key(prefix, client_id)
        self._hold = 0.0

    @property
    def lock_ttl(self) -> float:
        """Seconds the lock lives unless released."""
        if self._lock_ttl is not None:
            return self._lock_ttl
        return max(DEFAULT_LOCK_TTL, self._hold + LOCK_TTL_MARGIN)

    @property
    def lock_wait(self) -> float:
        """Seconds a waiter waits for the lock."""
        return self._lock_wait if self._lock_wait is not None else self.lock_ttl + LOCK_TTL_MARGIN

    def expect_hold(self, seconds: float) -> None:
        self._hold = max(self._hold, seconds)

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
                pipe.publish(self._channel, "1")  # wakes the waiters (lock_or_adopt)
                pipe.execute()
            except redis.WatchError:
                raise TokenStoreConflict(f"{self.location} changed while saving; not overwritten") from None

    def delete(self) -> None:
        self._call("delete the token", self._redis.delete, self.key)

    def lock(self) -> ContextManager[None]:
        return lock_only(self.lock_or_adopt(None))

    @contextlib.contextmanager
    def lock_or_adopt(self, adopt: Optional[Adopt]) -> Iterator[Optional[Token]]:
        lock = self._redis.lock(self.key + ":lock", timeout=self.lock_ttl, thread_local=False)
        adopted = self._acquire(lock, adopt)
        if adopted is not None:
            yield adopted
            return
        try:
            yield None
        finally:
            self._release(lock)

    def _acquire(self, lock: Any, adopt: Optional[Adopt]) -> Optional[Token]:
        """Take the lock, or return a token saved meanwhile; bounded by ``lock_wait``.

        redis-py's blocking acquire polls every 100 ms and sees nothing else. Here a waiter
        subscribes to the key's channel, on which every save publishes: when the holder saves,
        all waiters wake at once and adopt the token instead of queueing for the lock. Between
        messages it looks again every 50 ms, for a holder that died without saving.
        """
        if self._call("take the lock", lock.acquire, blocking=False):
            return None  # the common case for the one that refreshes: no channel needed
        # Subscribed before the first look at the token, so a save in between is not missed.
        watch = self._subscribe() if adopt is not None else None

        def timed_out() -> TokenStoreError:
            return TokenStoreError(
                f"timed out after {self.lock_wait:g}s waiting for the lock on {self.location}; "
                f"a holder is refreshing, or died less than {self.lock_ttl:g}s ago"
            )

        def pause(left: float) -> None:
            if watch is None:
                time.sleep(min(POLL, left))
            else:
                self._call("wait for the token", watch.get_message, timeout=min(WAKE, left))

        try:
            return take_or_adopt(
                lambda: bool(self._call("take the lock", lock.acquire, blocking=False)),
                lambda: self._call("read the token", self._redis.get, self.key),
                adopt,
                self.lock_wait,
                timed_out,
                pause,
            )
        finally:
            if watch is not None:
                with contextlib.suppress(Exception):
                    watch.close()

    def _subscribe(self) -> Any:
        watch = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._call("watch the token", watch.subscribe, self._channel)
        return watch

    @property
    def _channel(self) -> str:
        return self.key + ":saved"

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
            failure = f"{type(e).__name__}: {printable(str(e))}"
            raise TokenStoreError(f"cannot {doing} at {self.location}: {failure}") from None


def _connect(url: str, socket_timeout: float) -> redis.Redis:
    try:
        import redis
    except ImportError:
        raise ConfigurationError("RedisTokenStore needs redis-py: pip install 'kakao-auth[redis]'") from None
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
        seconds_setting(timeout, "socket_timeout")  # the URL's own query may set it too
    except (ValueError, TypeError) as e:
        raise ConfigurationError(f"the Redis URL {_public(url)} is not valid ({printable(str(e))})") from None
    return client


def _positive_or_none(value: Optional[float], name: str) -> Optional[float]:
    return None if value is None else seconds_setting(value, name)


def _default_key(prefix: str, client_id: Optional[str]) -> str:
    client_id = client_id or env_client_id()
    if not client_id:
        raise TokenStoreError(
            "the Redis store needs a key: set KAKAO_REST_API_KEY (the default key is one per "
            "client id), or add ?key=NAME to the store URL (key= or client_id= in Python)"
        )
    return f"{prefix}token:{client_id}"


def _public(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ":(not a port)"
    return printable(f"{parts.scheme}://{host}{port}{parts.path}")


def _same(raw: Union[bytes, str, None], previous: Token) -> bool:
    if raw is None:
        return False
    try:
        stored = json.loads(raw)
    except ValueError:
        return False
    return isinstance(stored, dict) and stored.get("access_token") == previous.access_token
