"""RedisTokenStore: one token shared by many machines, with the file store's guarantees.

The token is one JSON value under a key (by default ``kakao_auth:token:<client id>``, so one
Redis serves several apps). The lock is ``<key>:lock``, taken with ``SET NX PX`` and a random
owner, released only by its owner: it has a TTL, so a crashed holder cannot block anyone for
longer than that, and waiting for it is bounded. Because a holder can be paused past its TTL
(GC, SIGSTOP, a VM migration) and wake up still believing it holds the lock, every save is a
compare-and-set against the value read under the lock: a late save never overwrites a newer
token (:class:`TokenStoreConflict`).

Waiters do not poll. Every save and every release without a save adds an entry to the stream
``<key>:saved`` (one entry kept); a waiter blocks in ``XREAD`` on it, so all of them wake the
moment the holder saves, take the token from the entry and go on, without a queue. Each step is
one round trip (a Lua script, or ``XREAD``): on a busy machine every round trip is a wait to be
scheduled. Needs Redis 5.0 or later (streams) with scripting.

The value at the key is read by scripts that answer only its size when it is over 1 MiB: a huge
value written there (by mistake, or by anyone who can write to this Redis) is refused without
being sent to every client that looks.

When Redis stalls while a lock is being taken, the request may still run once Redis answers
again, leaving a lock that nobody holds: it blocks the others for at most ``lock_ttl``.

Needs redis-py: ``pip install 'kakao-auth[redis]'``. ``import kakao_auth`` works without it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ContextManager, Optional, Union
from urllib.parse import urlsplit

from ..config import client_id_setting, env_client_id, seconds_setting
from ..errors import ConfigurationError, TokenStoreConflict, TokenStoreError, one_line, printable
from ..token import Token
from .base import MAX_FILE, TOO_LARGE, Adopt, StoreBusy, TokenStore, lock_only, parse_token

if TYPE_CHECKING:
    import redis

__all__ = ["RedisTokenStore", "connect_redis", "public_url"]

log = logging.getLogger("kakao_auth")

DEFAULT_PREFIX = "kakao_auth:"
DEFAULT_LOCK_TTL = 30.0
# How much a lock outlives the slowest refresh, and a waiter the lock.
LOCK_TTL_MARGIN = 10.0
# The longest a waiter blocks on the stream before it looks again: only a holder that died
# without saving or releasing (its lock lapses on its TTL) goes unannounced.
WAKE = 0.5

# The stored value, unless it is over the size of any token: then only its size (an integer), so
# that a huge value is refused without being sent to every client. KEYS[1]: the token; ARGV[1]:
# the largest size read. A missing key is nil, as GET; a value of another type is GET's error.
_CAPPED_GET = """
local size = redis.call('STRLEN', KEYS[1])
if size > tonumber(ARGV[1]) then return size end
return redis.call('GET', KEYS[1])
"""
# Take the lock, or else read what a waiter needs: the token (as _CAPPED_GET reads it) and the
# stream's newest entry id. KEYS: lock, token, stream. ARGV: owner, TTL in ms, largest size read.
_TAKE = """
local locked = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
local newest = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local size = redis.call('STRLEN', KEYS[2])
local value = size
if size <= tonumber(ARGV[3]) then value = redis.call('GET', KEYS[2]) end
return {locked and 1 or 0, value, newest[1] and newest[1][1] or '0-0'}
"""
# Compare-and-set, announce the token to the waiters, and let go of the lock if the saver holds
# it: the save is the holder's last step, and the other threads of its process wait for it.
# The stream is written first: a script stopped by an error keeps what it wrote before. The
# PUBLISH wakes waiters of the previous release (pub/sub), during a rolling upgrade.
# KEYS: token, stream, lock. ARGV: the value, the access token it replaces ('' saves
# regardless), the saver's lock owner id ('' holds none). Returns 0 (changed), 1, 2 (released).
_SAVE = """
if ARGV[2] ~= '' then
  local stored = redis.call('GET', KEYS[1])
  if not stored then return 0 end
  local ok, value = pcall(cjson.decode, stored)
  if not ok or type(value) ~= 'table' or value['access_token'] ~= ARGV[2] then return 0 end
end
redis.call('XADD', KEYS[2], 'MAXLEN', '1', '*', 'token', ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], '1')
if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) == ARGV[3] then
  redis.call('DEL', KEYS[3])
  return 2
end
return 1
"""
# Release the lock if it is still ours; when nothing was saved under it (the stream's newest
# entry is the one seen when it was taken), tell the waiters that it is free.
# KEYS: lock, stream. ARGV: owner, the stream's newest entry id when the lock was taken.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if (newest[1] and newest[1][1] or '0-0') == ARGV[2] then
  redis.call('XADD', KEYS[2], 'MAXLEN', '1', '*', 'released', '1')
end
return 1
"""


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
        self._redis = connect_redis(url, seconds_setting(socket_timeout, "socket_timeout"))
        timeout = self._redis.connection_pool.connection_kwargs.get("socket_timeout")
        # A blocking read must end before the socket's own timeout calls Redis silent.
        self._wake = min(WAKE, float(timeout) / 2) if timeout else WAKE
        self._where = public_url(url)
        self.key = key or _default_key(prefix, client_id)
        self._hold = 0.0
        self._holds = threading.local()  # .current: the _Hold of the lock this thread holds

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
        return one_line(f"{self._where} key {self.key}")  # the key may come from the URL

    def load(self) -> Token:
        hold: Optional[_Hold] = getattr(self._holds, "current", None)
        raw = None
        if hold is not None:
            raw, hold.raw = hold.raw, None  # read by the script that took the lock: used once
        if raw is None:
            raw = self._call("read the token", self._redis.eval, _CAPPED_GET, 1, self.key, MAX_FILE)
        if raw is None:
            raise self.error("holds no token")
        if isinstance(raw, int):  # the size of a value too large to be sent
            raise self.error(TOO_LARGE)
        if isinstance(raw, str):  # decode_responses=true in the URL
            raw = raw.encode()
        if not isinstance(raw, bytes):  # not what a Redis GET answers: the server is not Redis
            raise self.error(f"holds a value of type {type(raw).__name__}, not a string")
        return parse_token(raw, time.time(), self.error)

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        data = json.dumps(token.to_dict(time.time()))
        replaced = previous.access_token if previous is not None else ""
        hold: Optional[_Hold] = getattr(self._holds, "current", None)
        owner = hold.owner if hold is not None and not hold.released else ""
        keys = (self.key, self._stream, self.key + ":lock")
        saved = self._call("save the token", self._redis.eval, _SAVE, 3, *keys, data, replaced, owner)
        if not saved:
            raise TokenStoreConflict(f"{self.location} changed since it was read; not overwritten")
        if saved == 2 and hold is not None:
            hold.released = True

    def delete(self) -> None:
        self._call("delete the token", self._redis.delete, self.key, self._stream)

    def lock(self) -> ContextManager[None]:
        return lock_only(self.lock_or_adopt(None))

    def lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        return self._locked(adopt, wait=True)

    def try_lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        return self._locked(adopt, wait=False)

    @contextlib.contextmanager
    def _locked(self, adopt: Optional[Adopt], *, wait: bool) -> Iterator[Optional[Token]]:
        owner = os.urandom(16).hex()
        taken = self._acquire(owner, adopt, wait)
        if isinstance(taken, Token):
            yield taken
            return
        hold = self._holds.current = _Hold(owner, *taken)
        try:
            yield None
        finally:
            self._holds.current = None
            if not hold.released:
                self._release(owner, hold.newest)

    def _acquire(self, owner: str, adopt: Optional[Adopt], wait: bool) -> Union[Token, tuple[str, Any]]:
        """Take the lock (return the stream's newest id and the stored value), or a newer token.

        One round trip takes the lock or reads the token; when neither helps, the waiter blocks
        on the stream until the holder saves (the entry carries the token) or lets go.
        Bounded by ``lock_wait``; without ``wait``, :class:`StoreBusy` instead of blocking.
        """
        deadline = time.monotonic() + self.lock_wait
        seen: list[Any] = [None]  # the stored value last considered: parsed only when it changed

        def newer(value: Any) -> Optional[Token]:
            if adopt is None or value is None or value == seen[0]:
                return None
            seen[0] = value
            return self._consider(value, adopt)

        while True:
            locked, raw, newest = self._take(owner)
            if locked:
                return newest, raw
            token = newer(raw)  # saved before this look: no need to wait
            if token is None and not wait:
                raise StoreBusy(f"the lock on {self.location} is held by another holder")
            if token is None:
                token = newer(self._wait(newest, deadline))
            if token is not None:
                return token

    def _take(self, owner: str) -> tuple[bool, Any, str]:
        keys = (self.key + ":lock", self.key, self._stream)
        ttl = max(1, int(self.lock_ttl * 1000))
        answer = self._call("take the lock", self._redis.eval, _TAKE, 3, *keys, owner, ttl, MAX_FILE)
        if (
            not isinstance(answer, (list, tuple))
            or len(answer) != 3
            or not isinstance(answer[2], (bytes, str))
        ):
            raise TokenStoreError(
                f"cannot take the lock at {self.location}: the server's answer to the lock script "
                "is not what Redis answers; check that the store URL names a Redis 5.0+ server"
            )
        locked, raw, newest = answer
        return bool(locked), raw, _text(newest)

    def _wait(self, newest: str, deadline: float) -> Any:
        """Block until the stream moves past ``newest``; the saved value if it carries one."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TokenStoreError(
                f"timed out after {self.lock_wait:g}s waiting for the lock on {self.location}; "
                f"a holder is refreshing, or died less than {self.lock_ttl:g}s ago"
            )
        block = max(1, int(min(left, self._wake) * 1000))
        answer = self._call("wait for the token", self._redis.xread, {self._stream: newest}, block=block)
        fields = _newest_fields(answer)
        return fields.get(b"token", fields.get("token")) if fields else None

    def _consider(self, raw: Any, adopt: Adopt) -> Optional[Token]:
        if not isinstance(raw, (bytes, str)):
            return None  # the size of a value too large to be a token: the holder's load says so
        try:
            token = parse_token(raw if isinstance(raw, bytes) else str(raw).encode(), time.time(), self.error)
        except TokenStoreError:
            return None  # not a token this waiter can use: the holder's save will say more
        return adopt.consider(token)

    @property
    def _stream(self) -> str:
        return self.key + ":saved"

    def _release(self, owner: str, newest: str) -> None:
        keys = (self.key + ":lock", self._stream)
        try:
            released = self._redis.eval(_RELEASE, 2, *keys, owner, newest)
        except Exception as e:  # a release that fails leaves a lock that lapses on its TTL
            log.warning("could not release the lock on %s: %s", self.location, type(e).__name__)
            return
        if not released:
            # The TTL lapsed mid-refresh; the compare-and-set save already kept us honest.
            log.warning("the lock on %s had expired before it was released", self.location)

    def _call(self, doing: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return func(*args, **kwargs)
        except redis.RedisError as e:
            failure = f"{type(e).__name__}: {printable(str(e))}"
            raise TokenStoreError(f"cannot {doing} at {self.location}: {failure}") from None
        except (AttributeError, LookupError, TypeError, ValueError) as e:
            # redis-py's parsers trust the server: an answer of the wrong shape (a server that is
            # not Redis, or not the version claimed) breaks them. Only the type: the message
            # may quote the answer.
            raise TokenStoreError(
                f"cannot {doing} at {self.location}: its answer is not Redis's protocol "
                f"({type(e).__name__}); check that the store URL names a Redis 5.0+ server"
            ) from None


def connect_redis(url: str, socket_timeout: float) -> redis.Redis:
    """A redis-py client for ``url`` (the vault shares this); a bad URL is a setting to fix."""
    try:
        import redis
    except ImportError:
        raise ConfigurationError("RedisTokenStore needs redis-py: pip install 'kakao-auth[redis]'") from None
    said = ""
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
        seconds_setting(timeout, "socket_timeout")  # the URL's own query may set it too
    except (ValueError, TypeError) as e:
        # redis-py's words may quote the URL's user info: only without one are they shown.
        said = printable(str(e)) if "@" not in url else type(e).__name__
    if said:  # raised outside the except block: no __context__ leads to redis-py's words
        raise ConfigurationError(f"the Redis URL {public_url(url)} is not valid ({said})")
    return client


def _positive_or_none(value: Optional[float], name: str) -> Optional[float]:
    return None if value is None else seconds_setting(value, name)


def _default_key(prefix: str, client_id: Optional[str]) -> str:
    client_id = client_id_setting(client_id, "client_id") if client_id else env_client_id()
    if not client_id:
        raise TokenStoreError(
            "the Redis store needs a key: set KAKAO_REST_API_KEY (the default key is one per "
            "client id), or add ?key=NAME to the store URL (key= or client_id= in Python)"
        )
    return f"{prefix}token:{client_id}"


def public_url(url: str) -> str:
    """The URL without its user info, for messages: scheme, host, port and database.

    The user info runs to the LAST ``@``: a password with ``/``, ``?`` or ``#`` left as they are
    would otherwise be cut at them, and its pieces shown as a host, a port or a path.
    """
    scheme, _, rest = url.partition("://")
    after = rest.rpartition("@")[2]
    parts = urlsplit(f"{scheme}://{after}")
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ":(not a port)"
    return printable(f"{parts.scheme}://{host}{port}{parts.path}")


class _Hold:
    """The lock one thread holds on the store.

    Its owner id, the stream's newest entry id when it was taken, the value the taking script
    read (the refresh's first load() uses it instead of a second round trip), and whether a
    save has already let go of it.
    """

    def __init__(self, owner: str, newest: str, raw: Any) -> None:
        self.owner = owner
        self.newest = newest
        self.raw = raw
        self.released = False


def _text(value: Union[bytes, str]) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _newest_fields(answer: Any) -> Optional[dict[Any, Any]]:
    """The fields of the newest entry in an ``XREAD`` answer, whatever shape redis-py gives it.

    redis-py answers ``[[stream, [(id, fields)]]]`` (RESP2), ``{stream: [[(id, fields)]]}``
    (RESP3) or ``{stream: [(id, fields)]}`` depending on its version and protocol.
    """
    newest = None
    pending = [answer]
    while pending:
        node = pending.pop(0)
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, (list, tuple)):
            if len(node) == 2 and isinstance(node[0], (bytes, str)) and isinstance(node[1], dict):
                newest = node[1]
            else:
                pending.extend(node)
    return newest
