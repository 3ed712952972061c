"""What every vault backend is: a per-user TokenStore factory, and the rows behind it.

:class:`VaultBackend` is the contract :class:`~kakao_auth.vault.TokenVault` needs of a backend
(a third party registers its own through the ``kakao_auth.vaults`` entry-point group):
``store(user)`` (a :class:`~kakao_auth.stores.TokenStore` for one user, so the refresh path serves
every user unchanged), ``save``, ``load``, ``delete``, ``users``, ``expiring`` and ``location``.

:class:`RowBackend` builds that contract from a handful of row operations, which the SQL and the
memory backends implement. Each user is one row: the token's fields, a ``version`` bumped by
every save (fencing, and the news a waiter watches for), a lease (``lease_owner``,
``lease_until``) that one holder at a time claims for its refresh, and a ``dead`` marker (the
Kakao error code that killed the login). The lease is claimed with one short write and released
by the save that ends the refresh: no database lock is held while Kakao is asked, so users never
wait for each other, and a holder killed mid-refresh holds up its own user only until the lease
runs out.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any, ContextManager, Optional, Union

from ..errors import LoginRequired, TokenStoreConflict, TokenStoreError, printable
from ..stores import Adopt, StoreBusy, TokenStore, lock_only
from ..token import Token
from .crypto import Sealer

__all__ = [
    "LEASE_MARGIN",
    "NoLogin",
    "Row",
    "RowBackend",
    "RowStore",
    "UserId",
    "VaultBackend",
    "VaultOptions",
    "new_version",
    "user_key",
]

UserId = Union[str, int]
# How much a lease outlives the slowest refresh its holder can make (the token exchange's own
# deadline): a holder alive is never overtaken, a dead one holds up its user for this long more.
LEASE_MARGIN = 5.0
# A waiter's first look at the row comes this soon; later looks back off to WAKE_MAX.
WAKE_MIN = 0.002
WAKE_MAX = 0.025
MAX_USER_ID = 255
# A row's version: a new login starts it at a random number in [2**32, 2**62), saves add 1. A
# version read before a delete and a new login never comes back (1 in 2**62), so a refresh in
# flight over the old row cannot pass the fence of the new one; a BIGINT holds 2**62 more saves.
FIRST_VERSION = 1 << 32
LAST_VERSION = (1 << 63) - 2  # a version past it would overflow a BIGINT at the next save
# The token fields a vault keeps secret (encrypted at rest when a key is set).
SECRET_FIELDS = ("access_token", "refresh_token", "id_token")


# How Token says what is wrong with a field: its name, then words (no value in them).
_FIELD_PROBLEM = re.compile(r"[a-z_]{1,40} [a-z ,]{1,80}")


def new_version() -> int:
    """The version a new login starts its row at: random, so it never repeats one read before."""
    return FIRST_VERSION + secrets.randbelow((1 << 62) - FIRST_VERSION)


def user_key(user_id: object) -> str:
    """``user_id`` as the vault keeps it (str); TypeError or ValueError when it cannot be one.

    Kakao's ids are integers, an app's own keys strings: both are kept as str. Booleans are
    refused (``True`` is an int to Python, never a user). The id reaches messages and logs: no
    control character gets in.
    """
    if isinstance(user_id, bool) or not isinstance(user_id, (str, int)):
        raise TypeError(f"a user id is a str or an int, not {type(user_id).__name__}")
    text = str(user_id)
    if not text:
        raise ValueError("a user id cannot be empty")
    if len(text) > MAX_USER_ID:
        raise ValueError(f"a user id is at most {MAX_USER_ID} characters, got {len(text)}")
    if not text.isprintable():  # one C loop: control, format and separator characters
        raise ValueError("a user id cannot have control characters")
    return text


@dataclasses.dataclass(frozen=True)
class VaultOptions:
    """What a backend factory is given besides its URL.

    ``table`` (SQL), ``prefix`` (Redis), ``lease`` (seconds a claim lives; default: the longest
    refresh plus ``LEASE_MARGIN``), ``lock_timeout`` (seconds a waiter waits; default: a little
    over the lease), ``connect_timeout`` (seconds before a silent database is an error), the
    ``sealer`` (encryption at rest) and ``hold`` (the token exchange's worst case, in seconds).
    """

    table: str = "kakao_tokens"
    prefix: str = "kakao_auth:vault:"
    lease: Optional[float] = None
    lock_timeout: Optional[float] = None
    connect_timeout: float = 5.0
    sealer: Sealer = dataclasses.field(default_factory=Sealer)
    hold: float = 0.0


class NoLogin(LoginRequired, TokenStoreError):
    """The vault holds no live login for a user: none saved, or Kakao refused it (dead).

    Both a :class:`LoginRequired` (the user must log in again) and a :class:`TokenStoreError`
    (what a store's ``load`` raises when it has nothing usable).
    """

    def __init__(self, message: str, error_code: Optional[str] = None) -> None:
        self.text = message
        super().__init__("invalid_grant", error_code, None, None)

    def _message(self) -> str:
        return self.text

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.text, self.error_code))


class VaultBackend(abc.ABC):
    """Where a vault keeps its users' tokens: see the module docstring."""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the vault lives, for messages: never a password."""

    @abc.abstractmethod
    def store(self, user: str) -> TokenStore:
        """The TokenStore of ``user`` (a checked id)."""

    @abc.abstractmethod
    def save(self, user: str, token: Token) -> None:
        """Store a new login of ``user``: it wins over any refresh of that user under way."""

    @abc.abstractmethod
    def delete(self, user: str) -> None:
        """Forget ``user``; absent already is not an error."""

    @abc.abstractmethod
    def users(self) -> Iterator[str]:
        """Every user id, streamed."""

    @abc.abstractmethod
    def expiring(self, before: float) -> Iterator[str]:
        """Users whose (live) refresh token dies before the epoch time ``before``, streamed.

        Each user at most once, as the rows were when the listing began: a keep-alive renewing
        the users listed moves their expiry, and must not meet them again further on.
        """

    def load(self, user: str) -> Token:
        """The token of ``user``; :class:`NoLogin` when none is saved or it is dead."""
        return self.store(user).load()

    def rekey(self) -> int:
        """Seal every row under the first key; the number of rows rewritten."""
        raise TokenStoreError(f"{self.location} cannot be re-encrypted")

    def schema(self) -> str:
        """The DDL of the vault's tables, for a DBA or a migration."""
        raise TokenStoreError(f"{self.location} has no SQL schema")

    def close(self) -> None:  # noqa: B027  # optional: only backends with connections
        """Let go of connections."""

    @property
    def rows_read(self) -> int:
        """Rows read from the database so far (for benchmarks); 0 when not counted."""
        return 0


@dataclasses.dataclass(frozen=True)
class Row:
    """One user's row as stored: the token's columns (secret ones as stored), and the bookkeeping."""

    fields: dict[str, Any] = dataclasses.field(repr=False)  # tokens: never in a repr
    version: int
    dead: Optional[str] = None
    lease_owner: Optional[str] = None
    lease_until: Optional[float] = None
    clock: Optional[float] = None  # the database's clock when read (None: this machine's is used)

    def now(self) -> float:
        """Now by the clock the row's lease is kept in: the database's when it has one."""
        return time.time() if self.clock is None else self.clock

    def lease_free(self, now: float, lease: float) -> bool:
        """Whether a claim of ``lease`` seconds may be taken at ``now``: none held, or not a live one.

        A lease running out further ahead than two leases from now was never granted by a clock
        like ours (a clock far ahead, or garbage): it is free, or it would hold its user for ever.
        """
        if self.lease_owner is None or self.lease_until is None:
            return True
        return not now <= self.lease_until <= now + 2 * lease


class RowBackend(VaultBackend):
    """A backend of rows (SQL, memory): the per-user stores, saves and loads built on them."""

    def __init__(self, options: VaultOptions) -> None:
        self.options = options

    # -- the row operations a backend implements ------------------------------------------

    @abc.abstractmethod
    def read(self, user: str) -> Optional[Row]:
        """The row of ``user``, or None."""

    @abc.abstractmethod
    def claim(self, user: str, owner: str, until: float, now: float) -> bool:
        """Set the lease to ``owner`` until ``until`` if it is free at ``now`` (:meth:`Row.lease_free`).

        ``now`` is :meth:`Row.now`; a backend with a clock of its own may use it instead, for a
        lease of ``until - now`` seconds.
        """

    @abc.abstractmethod
    def release(self, user: str, owner: str) -> None:
        """Clear the lease if ``owner`` still holds it."""

    @abc.abstractmethod
    def write(self, user: str, fields: dict[str, Any], version: Optional[int], owner: Optional[str]) -> bool:
        """Store ``fields``, bump the version, clear ``dead``; False when fenced off.

        With ``version``: only over that version (compare-and-set). Without: whatever is there
        (a new login), creating the row, at a :func:`new_version`, the lease cleared (a new login
        owes nothing to a refresh of the old one). The lease is cleared when ``owner`` holds it.
        """

    @abc.abstractmethod
    def mark_dead(self, user: str, version: int, code: str, owner: str) -> bool:
        """Mark the row dead with ``code`` if it is still at ``version`` and ``owner`` holds the lease.

        A holder whose lease ran out and was taken may have been refused a refresh token the
        new holder has just rotated (and not saved yet): that is no dead login.
        """

    @abc.abstractmethod
    def reseal(self, user: str, fields: dict[str, Any], version: int) -> bool:
        """Replace the secret ``fields`` at ``version`` without bumping it (a re-encryption)."""

    # -- the vault contract, on rows ------------------------------------------------------

    def store(self, user: str) -> RowStore:
        return RowStore(self, user)

    def save(self, user: str, token: Token) -> None:
        self.write(user, self.to_fields(token), None, None)

    def rekey(self) -> int:
        """Every row that can be opened sealed under the first key; then the ones that could not.

        A row under a key no longer held (or garbage) does not stop the others: they are all
        re-encrypted, then a :class:`TokenStoreError` names the users left (never a token).
        """
        count = 0
        unopened: list[str] = []
        for user in self.users():
            try:
                row = self.read(user)
                fields = None if row is None else self._resealed(row)
            except (TokenStoreError, ValueError):
                unopened.append(user)
                continue
            if row is not None and fields is not None:
                count += self.reseal(user, fields, row.version)
        if unopened:
            names = ", ".join(printable(u, 40) for u in unopened[:3]) + (", ..." if len(unopened) > 3 else "")
            raise TokenStoreError(
                f"{self.location}: re-encrypted {count} rows; {len(unopened)} could not be opened "
                f"(user {names}): add their key to KAKAO_VAULT_KEY and run rekey again, or delete them"
            )
        return count

    def _resealed(self, row: Row) -> Optional[dict[str, Any]]:
        """The secret fields of ``row`` sealed under the first key; None when unchanged.

        ValueError when one cannot be opened (an unknown key) or is not text (garbage).
        """
        stored = {name: row.fields.get(name) for name in SECRET_FIELDS}
        if any(value is not None and not isinstance(value, str) for value in stored.values()):
            raise ValueError("a token field is not text")
        fields = {name: self.options.sealer.rotate(value) for name, value in stored.items()}
        return None if fields == stored else fields

    def to_fields(self, token: Token) -> dict[str, Any]:
        """The columns of ``token``: the secret ones sealed. No client secret: it is the app's."""
        seal = self.options.sealer.seal
        return {
            "access_token": seal(token.access_token),
            "refresh_token": seal(token.refresh_token),
            "id_token": seal(token.id_token),
            "expires_at": token.expires_at,
            "expires_in": token.expires_in,
            "refresh_token_expires_at": token.refresh_token_expires_at,
            "scope": token.scope,
            "client_id": token.client_id,
        }

    def to_token(self, user: str, row: Row) -> Token:
        """The token in ``row``; TokenStoreError naming the user (never a value) when it is garbage."""
        fields = dict(row.fields)
        try:
            for name in SECRET_FIELDS:
                fields[name] = self.options.sealer.open(fields.get(name))
        except ValueError as e:
            raise TokenStoreError(f"{self.location}: the token of user {user} {e}") from None
        try:
            return Token(**fields)
        except (TypeError, ValueError) as e:
            # Token's words name the field, never its value: "expires_at is not a number".
            problem = str(e) if _FIELD_PROBLEM.fullmatch(str(e)) else "a field of the wrong kind"
            raise TokenStoreError(
                f"{self.location}: the row of user {user} is unusable: {problem}; save the "
                "user's login again (vault.save) or delete it"
            ) from None


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
        row = self.backend.read(self.user)
        claim: Optional[_Claim] = getattr(self._holds, "current", None)
        if claim is not None:
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
        if not self.backend.write(self.user, self.backend.to_fields(token), version, owner):
            raise TokenStoreConflict(f"{self.location} changed since it was read; not overwritten")
        if claim is not None:
            claim.released = True

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
        claim = self._holds.current = _Claim(owner, taken)
        try:
            yield None
        except LoginRequired as e:
            self._remember_dead(claim, e)
            raise
        finally:
            self._holds.current = None
            if claim.claimed and not claim.released:
                self.backend.release(self.user, owner)

    def _acquire(self, owner: str, adopt: Optional[Adopt], wait: bool) -> Union[Token, bool]:
        """Claim the row (True; False when there is no row to claim), or a token saved meanwhile.

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
                return False  # nothing stored: a login's save needs no claim
            if adopt is not None and row.version != seen:
                seen = row.version
                token = self._consider(row, adopt)
                if token is not None:
                    return token
            now = row.now()  # leases are kept in one clock (the database's, when it has one)
            if row.lease_free(now, self.lease) and self.backend.claim(
                self.user, owner, now + self.lease, now
            ):
                return True
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
    """The claim one thread holds on a row: its owner id, the version it last read."""

    def __init__(self, owner: str, claimed: bool) -> None:
        self.owner = owner
        self.claimed = claimed
        self.version: Optional[int] = None
        self.released = False
