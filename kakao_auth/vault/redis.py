"""The Redis vault: per-user keys under a prefix, each user a :class:`RedisTokenStore`.

A user's token is ``<prefix>user:{<id>}`` (with that store's ``{<id>}:lock`` and ``{<id>}:saved``
stream: a TTL lock, waiters woken by the save, compare-and-set saves), its dead marker
``<prefix>user:{<id>}:dead``, and every user is in the sorted set ``<prefix>users``, scored by the
refresh token's expiry (a dead or unknown one scores +inf), which serves ``users()`` (streamed
with ZSCAN) and ``expiring()``. All users share one connection pool.

The braces keep users apart: an id may hold ``:`` (``1:dead`` is an app's key like any other),
and without them user ``1:dead``'s token would be user ``1``'s dead marker. With them a key's
ending names its kind (``}`` a token, ``}:dead``, ``}:lock``, ``}:saved``; none ends another), so
no two users share a key whatever their ids hold, ``}`` included.

Tokens are not encrypted here (the store's compare-and-set reads the stored access token): with
``KAKAO_VAULT_KEY`` set, use a SQL vault.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, ContextManager, Optional

from ..errors import ConfigurationError, LoginRequired, TokenStoreConflict, TokenStoreError, printable
from ..stores import Adopt, RedisTokenStore, connect_redis, public_url
from ..stores.redis import _SAVE as _STORE_SAVE
from ..token import Token
from .base import NoLogin, VaultBackend, VaultOptions

__all__ = ["RedisBackend", "from_url"]

# Ids read per round trip by users() and expiring(): a page in memory, never the whole set.
PAGE = 1000
# What a dead marker may hold and show: a Kakao code or OAuth error word, as the refresh wrote it.
_CODE = re.compile(r"[A-Za-z0-9_]{1,64}")

# A new login: the token, no dead marker, the waiters told, the index updated.
# KEYS: token, dead, stream, users. ARGV: value, user, score.
_NEW_LOGIN = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '1', '*', 'token', ARGV[1])
redis.call('PUBLISH', KEYS[3], '1')
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
return 1
"""
# The store's compare-and-set save (its script, unchanged, as a function) and, when it saved, the
# dead marker cleared and the index updated in the same step: a live token saved is a live login,
# whoever saves it (a late holder's rotated token, a login saved through the store).
# KEYS: token, stream, lock, dead, users. ARGV: the store's three, then user, score.
_SAVE_LIVE = f"""
local function save()
{_STORE_SAVE}
end
local saved = save()
if saved ~= 0 then
  redis.call('DEL', KEYS[4])
  redis.call('ZADD', KEYS[5], ARGV[5], ARGV[4])
end
return saved
"""
# The dead marker's first 65 bytes (a code is at most 64: a longer value is no code), or nil.
# KEYS: dead.
_DEAD_CODE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('GETRANGE', KEYS[1], 0, 64)
"""
# Kakao refused the refresh token read: mark the user dead, unless the stored one moved on.
# KEYS: token, dead, users. ARGV: refused refresh token, Kakao's code, user.
_MARK_DEAD = """
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local ok, value = pcall(cjson.decode, stored)
if not ok or type(value) ~= 'table' or value['refresh_token'] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 'inf', ARGV[3])
return 1
"""


class RedisBackend(VaultBackend):
    """Users' tokens in one Redis, under ``options.prefix``."""

    def __init__(self, url: str, options: VaultOptions) -> None:
        if options.sealer.sealing:
            raise ConfigurationError(
                "the Redis vault does not encrypt tokens: unset KAKAO_VAULT_KEY, or use a SQL vault"
            )
        self.url = url
        self.options = options
        self.client = connect_redis(url, options.connect_timeout)
        self.prefix = options.prefix
        self._where = public_url(url)
        self._read = 0

    @property
    def location(self) -> str:
        return f"{self._where} prefix {self.prefix}"

    @property
    def rows_read(self) -> int:
        return self._read

    def key(self, user: str) -> str:
        """The token key of ``user``: the id in braces, so that no id reaches another's keys."""
        return f"{self.prefix}user:{{{user}}}"

    @property
    def index(self) -> str:
        return f"{self.prefix}users"

    def store(self, user: str) -> RedisUserStore:
        return RedisUserStore(self, user)

    def save(self, user: str, token: Token) -> None:
        token = dataclasses.replace(token, client_secret=None)  # the app's, not the user's
        value = json.dumps(token.to_dict(time.time()))
        key = self.key(user)
        keys = (key, key + ":dead", key + ":saved", self.index)
        self.call("save the token", self.client.eval, _NEW_LOGIN, 4, *keys, value, user, _score(token))

    def delete(self, user: str) -> None:
        key = self.key(user)
        pipe = self.client.pipeline()
        pipe.delete(key, key + ":dead", key + ":saved")
        pipe.zrem(self.index, user)
        self.call("delete the token", pipe.execute)

    def users(self) -> Iterator[str]:
        scan = self.client.zscan_iter(self.index, count=PAGE)  # a page per round trip, as read
        while True:
            found = self.call("list the users", next, scan, None)
            if found is None:
                return
            self._read += 1
            yield _text(found[0])

    def expiring(self, before: float) -> Iterator[str]:
        """Due users a page at a time, each page starting where the last one ended.

        Not by offset: keep-alive refreshes the users it is given, which moves them out of the
        range, and an offset would then skip as many others. The page starts at the last score
        yielded, skipping the members already yielded at that score (ties are rare: a score is
        an expiry to the microsecond).
        """
        low = float("-inf")
        at_low: set[Any] = set()  # the members yielded at score `low`
        while True:
            want = PAGE + len(at_low)
            page = self.call("list the due users", self._due_page, low, before, want)
            for member, score in page:
                if score == low and member in at_low:
                    continue
                if score != low:
                    low, at_low = score, set()
                at_low.add(member)
                self._read += 1
                yield _text(member)
            if len(page) < want:
                return

    def _due_page(self, low: float, before: float, count: int) -> list[tuple[Any, float]]:
        found: Any = self.client.zrangebyscore(
            self.index, low, f"({before!r}", start=0, num=count, withscores=True
        )
        return list(found)

    def close(self) -> None:
        self.client.close()

    def call(self, doing: str, func: Any, *args: Any) -> Any:
        import redis

        try:
            return func(*args)
        except redis.RedisError as e:
            raise TokenStoreError(f"cannot {doing} at {self.location}: {type(e).__name__}") from None


class RedisUserStore(RedisTokenStore):
    """One user's :class:`RedisTokenStore`, on the vault's shared connection pool."""

    def __init__(self, backend: RedisBackend, user: str) -> None:
        options = backend.options
        super().__init__(
            backend.url,
            key=backend.key(user),
            lock_ttl=options.lease,
            lock_wait=options.lock_timeout,
            socket_timeout=options.connect_timeout,
        )
        self._redis = backend.client  # one pool for every user, not one each
        self.backend = backend
        self.user = user
        self.expect_hold(options.hold)
        self._loaded = threading.local()  # .token: the last token this thread loaded

    @property
    def location(self) -> str:
        return f"{self.backend.location} user {self.user}"

    def load(self) -> Token:
        dead = self.backend.call("read the token", self._redis.eval, _DEAD_CODE, 1, self.key + ":dead")
        if dead is not None:
            code = _dead_code(dead)
            said = f"Kakao answered {code}" if code else "marked dead"
            raise NoLogin(
                f"the login of user {self.user} in {self.backend.location} is gone ({said}): log "
                "the user in again",
                code,
            )
        try:
            token = super().load()
        except TokenStoreError:
            if not self.backend.call("read the token", self._redis.exists, self.key):
                raise NoLogin(
                    f"{self.backend.location} holds no login for user {self.user}: log the user in"
                ) from None
            raise
        self.backend._read += 1
        self._loaded.token = token
        return token

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        """The store's compare-and-set save, which also clears the dead marker and indexes the user."""
        token = dataclasses.replace(token, client_secret=None)  # the app's, not the user's
        data = json.dumps(token.to_dict(time.time()))
        replaced = previous.access_token if previous is not None else ""
        hold = getattr(self._holds, "current", None)
        owner = hold.owner if hold is not None and not hold.released else ""
        keys = (self.key, self._stream, self.key + ":lock", self.key + ":dead", self.backend.index)
        args = (data, replaced, owner, self.user, _score(token))
        saved = self._call("save the token", self._redis.eval, _SAVE_LIVE, len(keys), *keys, *args)
        if not saved:
            raise TokenStoreConflict(f"{self.location} changed since it was read; not overwritten")
        if saved == 2 and hold is not None:
            hold.released = True

    def delete(self) -> None:
        self.backend.delete(self.user)

    def lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        return self._marking_dead(super().lock_or_adopt(adopt))

    def try_lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        return self._marking_dead(super().try_lock_or_adopt(adopt))

    @contextlib.contextmanager
    def _marking_dead(self, held: ContextManager[Optional[Token]]) -> Iterator[Optional[Token]]:
        self._loaded.token = None
        with held as adopted:
            try:
                yield adopted
            except LoginRequired as e:
                refused: Optional[Token] = getattr(self._loaded, "token", None)
                if not isinstance(e, NoLogin) and refused is not None and refused.refresh_token:
                    keys = (self.key, self.key + ":dead", self.backend.index)
                    code = (e.error_code or e.error)[:64]
                    with contextlib.suppress(TokenStoreError):
                        self.backend.call(
                            "mark the login dead",
                            self._redis.eval,
                            _MARK_DEAD,
                            3,
                            *keys,
                            refused.refresh_token,
                            code,
                            self.user,
                        )
                raise


def _score(token: Token) -> float:
    dies = token.refresh_token_expires_at
    return float("inf") if dies is None else dies


def _dead_code(value: Any) -> Optional[str]:
    """The Kakao code in a dead marker, or None when it holds anything else.

    The vault writes only Kakao's short codes there (KOE322, invalid_grant), but anyone who can
    write to this Redis may have put bytes, lines or escapes there: only a code gets through,
    and printable() hides a token-shaped one.
    """
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return printable(text, 64) if _CODE.fullmatch(text) else None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def from_url(url: str, options: VaultOptions) -> RedisBackend:
    """A Redis vault: ``redis://host:6379/0``, ``rediss://...``, ``unix:///path/redis.sock``."""
    return RedisBackend(url, options)
