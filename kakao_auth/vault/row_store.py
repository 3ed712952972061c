"""A user's row as a TokenStore: the per-user lease that stands in for a database lock.

``lock`` claims the row (a short transaction writes a lease owner and deadline; no database lock
is held while Kakao answers); waiters look at the row every few milliseconds and adopt the saved
token when its version moves; a save is a compare-and-set on the version; a login Kakao refused
is marked dead in the row itself, unless this holder's claim was taken meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, ContextManager, Optional, Union

from ..errors import LoginRequired, TokenStoreConflict, TokenStoreError, printable
from ..stores import Adopt, StoreBusy, TokenStore, lock_only
from ..token import Token
from .base import LEASE_MARGIN, WAKE_MAX, WAKE_MIN, NoLogin, Row, RowBackend

__all__ = ["RowStore"]


class RowStore(TokenStore):
    """One user's token in a :class:`RowBackend`: a row, claimed with a lease, saved with fencing."""

    def __init__(self, backend: RowBackend, user: str) -> None:
        self.backend = backend
        self.user = user
        self._hold = backend.options.hold
        self._holds = threading.local()  # .current: the _Claim this thread holds on the row

    @property
    def location(self) -> str:
        return f"{self.backend.location} user {self.user}"

    @property
    def lease(self) -> float:
        """Seconds a claim lives unless the save or the release ends it sooner."""
        if self.backend.options.lease is not None:
            return self.backend.options.lease
        return self._hold + LEASE_MARGIN

    @property
    def lock_timeout(self) -> float:
        """Seconds a waiter waits for the claim before a :class:`TokenStoreError`."""
        if self.backend.options.lock_timeout is not None:
            return self.backend.options.lock_timeout
        return self.lease + LEASE_MARGIN

    def expect_hold(self, seconds: float) -> None:
        self._hold = max(self._hold, seconds)

    def error(self, problem: str) -> TokenStoreError:
        return TokenStoreError(f"{self.location} {problem}; save the user's login again")

    # -- load and save --------------------------------------------------------------------

    def load(self) -> Token:
        claim: Optional[_Claim] = getattr(self._holds, "current", None)
        # The holder's first look is the row it claimed: the claim held only at that version.
        row = claim.row if claim is not None and claim.row is not None else self.backend.read(self.user)
        if claim is not None:
            claim.row = None
            if row is not None and row.version == claim.version:
                row = self._after_lost_claim(claim, row)
            claim.version = None if row is None else row.version
        return self._token(row)

    def _after_lost_claim(self, claim: _Claim, row: Row) -> Optional[Row]:
        """The row once the holder that took this one's claim is done with it; ``row`` if none did.

        A holder reads the row again only after Kakao's answer. If its lease ran out meanwhile
        and another holder took it, that one may have rotated the refresh token this one was
        refused, and not saved yet: its outcome is the row to go on from, not the old one.
        Bounded by ``lock_timeout``.
        """
        deadline = time.monotonic() + self.lock_timeout
        pause = WAKE_MIN
        current: Optional[Row] = row
        # Its lease may run out too (a slow save): it is waited for all the same, until it saves,
        # lets go, or lock_timeout passes.
        while (
            current is not None
            and current.version == claim.version
            and current.lease_owner not in (None, claim.owner)
        ):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(pause, left))
            pause = min(pause * 1.5, WAKE_MAX)
            current = self.backend.read(self.user)
        return current

    def _token(self, row: Optional[Row]) -> Token:
        if row is None:
            raise NoLogin(f"{self.backend.location} holds no login for user {self.user}: log the user in")
        if row.dead is not None:
            code = printable(str(row.dead), 64)  # stored: another program may have written it
            raise NoLogin(
                f"the login of user {self.user} in {self.backend.location} is gone (Kakao "
                f"answered {code}): log the user in again",
                code,
            )
        return self.backend.to_token(self.user, row)

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        claim: Optional[_Claim] = getattr(self._holds, "current", None)
        owner = claim.owner if claim is not None else None
        version = None
        if previous is not None:
            version = claim.version if claim is not None else None
            if version is None:  # a save outside a claim: fenced against what is stored now
                version = self._version_holding(previous)
        fields = self.backend.to_fields(token)
        if not self.backend.write(self.user, fields, version, owner) and not self._landed(fields, version):
            raise TokenStoreConflict(f"{self.location} changed since it was read; not overwritten")
        if claim is not None:
            claim.released = True

    def _landed(self, fields: dict[str, Any], version: Optional[int]) -> bool:
        """Whether a save found fenced off is in the row all the same (its answer was lost).

        Its first sending landed and the connection dropped before the answer: the backend sent
        it once more, and the row had moved on, by this very save.
        """
        if version is None:
            return False
        row = self.backend.read(self.user)
        # The very fields sent (ciphertext included, sealed once): no other save writes them.
        return row is not None and row.version == version + 1 and row.fields == fields

    def _version_holding(self, previous: Token) -> int:
        row = self.backend.read(self.user)
        if row is None or row.dead is not None:
            return -1  # nothing to overwrite: the write is fenced off
        stored = self.backend.to_token(self.user, row)
        return row.version if stored.access_token == previous.access_token else -1

    def delete(self) -> None:
        self.backend.delete(self.user)

    # -- the claim ------------------------------------------------------------------------

    def lock(self) -> ContextManager[None]:
        return lock_only(self.lock_or_adopt(None))

    def lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        return self._claimed(adopt, wait=True)

    def try_lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        return self._claimed(adopt, wait=False)

    @contextlib.contextmanager
    def _claimed(self, adopt: Optional[Adopt], *, wait: bool) -> Iterator[Optional[Token]]:
        owner = os.urandom(12).hex()
        taken = self._acquire(owner, adopt, wait)
        if isinstance(taken, Token):
            yield taken
            return
        # A dead row is not claimed: the holder's load says the login is gone, and a new
        # login's save needs no claim.
        claim = self._holds.current = _Claim(owner, taken is not None and taken.dead is None, taken)
        try:
            yield None
        except LoginRequired as e:
            self._remember_dead(claim, e)
            raise
        finally:
            self._holds.current = None
            if claim.claimed and not claim.released:
                self.backend.release(self.user, owner)

    def _acquire(self, owner: str, adopt: Optional[Adopt], wait: bool) -> Union[Token, Row, None]:
        """Claim the row (the row claimed; None when there is no row to claim), or a token saved meanwhile.

        Each look is one read of the row: a waiter adopts the token once the version moves,
        and claims the row once the lease is free (let go, or run out). Bounded by
        ``lock_timeout``; without ``wait``, :class:`StoreBusy` instead of waiting.
        """
        deadline = time.monotonic() + self.lock_timeout
        seen: Optional[int] = None
        pause = WAKE_MIN
        while True:
            row = self.backend.read(self.user)
            if row is None:
                return None  # nothing stored: a login's save needs no claim
            if adopt is not None and row.version != seen:
                seen = row.version
                token = self._consider(row, adopt)
                if token is not None:
                    return token
            if row.dead is not None:
                return row  # gone: nothing to refresh, so nothing to claim
            now = row.now()  # leases are kept in one clock (the database's, when it has one)
            if row.lease_free(now, self.lease) and self.backend.claim(
                self.user, owner, now + self.lease, now, row.version
            ):
                return row
            if not wait:
                raise StoreBusy(f"{self.location} is being refreshed by another holder")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TokenStoreError(
                    f"timed out after {self.lock_timeout:g}s waiting for the claim on {self.location}; "
                    f"a holder is refreshing, or died less than {self.lease:g}s ago"
                )
            time.sleep(min(pause, left))
            pause = min(pause * 1.5, WAKE_MAX)

    def _consider(self, row: Row, adopt: Adopt) -> Optional[Token]:
        if row.dead is not None:
            return None  # the holder's load says so
        try:
            return adopt.consider(self.backend.to_token(self.user, row))
        except TokenStoreError:
            return None

    def _remember_dead(self, claim: _Claim, error: LoginRequired) -> None:
        """Kakao refused the refresh token this holder read: the row is marked dead, unless it moved.

        The refresh path raises only when the row still holds the refused refresh token (it looks
        once more after Kakao's answer), so the version last read is the one that died; and only
        while this holder still holds the lease (none took it over and refreshed meanwhile).
        """
        if isinstance(error, NoLogin) or claim.version is None:
            return  # the row was empty or dead already: nothing new learned
        self.backend.mark_dead(self.user, claim.version, error.error_code or error.error, claim.owner)


class _Claim:
    """The claim one thread holds on a row: its owner id, the row claimed, the version it last read."""

    def __init__(self, owner: str, claimed: bool, row: Optional[Row]) -> None:
        self.owner = owner
        self.claimed = claimed
        self.row = row  # the row as claimed, until the holder's first load
        self.version: Optional[int] = None
        self.released = False
