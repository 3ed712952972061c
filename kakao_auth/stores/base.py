"""The TokenStore contract, and the waiting algorithm every store's lock shares.

A store is shared by everyone who refreshes one login: threads, processes, machines. The refresh
path (``refresh.py``) needs three things of it, and third-party stores implement exactly these:

- ``load()``: the stored token, or a :class:`TokenStoreError` saying what is wrong;
- ``save(token, previous=...)``: replace the stored token as one whole value; ``previous`` is the
  token ``load()`` returned inside the same lock, for stores whose lock can lapse (fencing);
- ``lock()``: a context manager that excludes every other holder sharing the store, bounded in
  time, raising :class:`TokenStoreError` when the wait is exhausted.

Four more have defaults a store may refine: ``lock_or_adopt()`` (watch the store while waiting,
so waiters adopt a token saved meanwhile instead of queueing), ``try_lock_or_adopt()`` (the same
without waiting: :class:`StoreBusy` when another holder has the lock, for a refresh ahead of
expiry that no one needs to wait for), ``check_writable()`` (called before Kakao is asked for a
token the store must then take) and ``expect_hold()`` (how long a holder may keep the lock:
stores whose lock has a TTL lengthen it).
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import time
from collections.abc import Iterator
from typing import Callable, ContextManager, Optional, Protocol, Union

from ..errors import TokenStoreConflict, TokenStoreError
from ..token import Token, strict_json

__all__ = [
    "Adopt",
    "PathLike",
    "StoreBusy",
    "TokenStore",
    "TokenStoreConflict",
    "lock_only",
    "parse_token",
    "take_or_adopt",
]


PathLike = Union[str, "os.PathLike[str]"]


class Adopt(Protocol):
    """What a waiter for the lock asks about a token saved by another holder meanwhile."""

    def __call__(self) -> Optional[Token]:
        """Read the store: the token to adopt instead of taking the lock, or None (not yet)."""

    def consider(self, token: Token) -> Optional[Token]:
        """``token`` if it is one to adopt (a store that has just read it need not read again)."""


class StoreBusy(TokenStoreError):
    """Another holder has the store's lock: raised by ``try_lock_or_adopt``, which does not wait."""


# A token file is under 2 KiB; a larger one is not ours (or is an attack on memory).
MAX_FILE = 1 << 20
TOO_LARGE = "is over 1 MiB, far too large for a token"
# How often a waiter of a store without a wake-up of its own polls the lock and the store.
POLL = 0.002
# How often a file store waiter looks at the file while the holder keeps the lock: the holder's
LOGIN_HINT = "run `kakao-auth login`"


class TokenStore(abc.ABC):
    """The interface the refresh path uses; see the module docstring for the contract."""

    @abc.abstractmethod
    def load(self) -> Token:
        """Return the stored token; raise :class:`TokenStoreError` when there is none usable."""

    @abc.abstractmethod
    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        """Store ``token`` as one whole value.

        ``previous`` is what ``load()`` gave under the lock. A store whose lock can lapse (a TTL)
        must refuse, with :class:`TokenStoreConflict`, to overwrite a value that is no longer
        ``previous``: a holder paused past its lock must not undo a newer refresh.
        """

    @abc.abstractmethod
    def lock(self) -> ContextManager[None]:
        """Return a context manager holding the store's exclusive lock across all its users."""

    @abc.abstractmethod
    def delete(self) -> None:
        """Remove the stored token (after a logout); absent already is not an error."""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the token lives, for messages: a path or a URL without credentials."""

    def lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        """Hold the lock (yield None), or yield the token ``adopt`` found while waiting for it.

        The default takes the lock and never adopts; stores that can watch for a new token
        cheaply while they wait override it, so that waiters do not queue after a refresh.
        """
        return _never_adopting(self.lock())

    def try_lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        """As :meth:`lock_or_adopt`, but raise :class:`StoreBusy` at once if the lock is held.

        The default waits, as :meth:`lock_or_adopt` does: a store that cannot tell a held lock
        without waiting for it only costs its caller the wait.
        """
        return self.lock_or_adopt(adopt)

    def check_writable(self) -> None:  # noqa: B027  # optional: most stores cannot tell ahead
        """Raise :class:`TokenStoreError` now if a save would certainly fail (before Kakao is asked)."""

    def expect_hold(self, seconds: float) -> None:  # noqa: B027  # optional: only TTL locks care
        """A holder may keep the lock up to ``seconds`` (a refresh's worst case); TTL locks adapt."""

    def error(self, problem: str) -> TokenStoreError:
        """The error to raise when the stored token itself is unusable (no refresh token...)."""
        return TokenStoreError(f"{self.location} {problem}; {LOGIN_HINT}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


def take_or_adopt(
    try_lock: Callable[[], bool],
    mark: Callable[[], object],
    adopt: Optional[Adopt],
    seconds: float,
    timed_out: Callable[[], TokenStoreError],
    pause: Callable[[float], object] = lambda left: time.sleep(min(POLL, left)),
) -> Optional[Token]:
    """Take a store's lock (return None), or return the token ``adopt`` finds while waiting.

    ``mark()`` is a cheap fingerprint of the stored token (a stat, the raw value): ``adopt`` (a
    read and parse) runs only when it changed. ``pause(left)`` waits before the next try, at
    most ``left`` seconds. The whole wait is bounded by ``seconds``. After a pause the store is
    looked at before the lock is tried: the news that ends a wait is most often a saved token,
    and taking the lock only to adopt it under the lock would hold up the others.
    """
    deadline = time.monotonic() + seconds
    seen: list[object] = [_NOTHING]

    def look() -> Optional[Token]:
        if adopt is None:
            return None
        now_seen = mark()
        if now_seen == seen[0]:
            return None
        seen[0] = now_seen
        return adopt()

    locked = try_lock()
    while not locked:
        token = look()
        if token is not None:
            return token
        left = deadline - time.monotonic()
        if left <= 0:
            raise timed_out()
        pause(left)
        token = look()
        if token is not None:
            return token
        locked = try_lock()
    return None


_NOTHING = object()


@contextlib.contextmanager
def _never_adopting(held: ContextManager[None]) -> Iterator[Optional[Token]]:
    """A plain ``lock()`` as ``lock_or_adopt()``: it holds the lock and adopts nothing."""
    with held:
        yield None


@contextlib.contextmanager
def lock_only(held: ContextManager[Optional[Token]]) -> Iterator[None]:
    """``lock_or_adopt(None)`` as a plain ``lock()``: it never adopts, so it yields nothing."""
    with held:
        yield


def parse_token(raw: bytes, issued_at: float, error: Callable[[str], TokenStoreError]) -> Token:
    """Parse a stored token; ``issued_at`` dates tutorial files that store no expiry.

    ``error`` builds the store's own error for a problem (a :class:`TokenFileError` naming the
    file, for the file store).
    """
    if len(raw) > MAX_FILE:  # a file read at most one byte over
        raise error(TOO_LARGE)
    if not raw.strip():
        raise error("is empty")
    try:
        data = strict_json(raw)
    except RecursionError:
        raise error("is not JSON (nested too deep)") from None
    except ValueError as e:
        raise error(f"is not JSON ({_json_where(e)})") from None
    if not isinstance(data, dict):
        raise error(f"holds a JSON {type(data).__name__}, not an object")
    try:
        return Token.from_dict(data, issued_at=issued_at)
    except ValueError as e:
        said = str(e)  # "no access_token", "expires_in is not a number": each its own sentence
        raise error(f"has {said}" if said.startswith("no ") else f"holds an unusable token: {said}") from None


def _json_where(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"line {e.lineno} column {e.colno}"
    return "not UTF-8 text"
