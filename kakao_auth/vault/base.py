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
import dataclasses
import inspect
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any, Optional, Union

from ..errors import LoginRequired, TokenStoreError, printable
from ..stores import TokenStore
from ..token import Token
from .crypto import Sealer

__all__ = [
    "LEASE_MARGIN",
    "NoLogin",
    "Row",
    "RowBackend",
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        parameters = inspect.signature(cls.claim).parameters.values()
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        if not any(p.name == "version" or p.kind in variadic for p in parameters):
            # Told when the plug-in loads (a ConfigurationError naming it), not at each refresh.
            raise TypeError(f"{cls.__qualname__}.claim() must take the version read (see RowBackend.claim)")

    def __init__(self, options: VaultOptions) -> None:
        self.options = options

    # -- the row operations a backend implements ------------------------------------------

    @abc.abstractmethod
    def read(self, user: str) -> Optional[Row]:
        """The row of ``user``, or None."""

    @abc.abstractmethod
    def claim(self, user: str, owner: str, until: float, now: float, version: int) -> bool:
        """Lease the row to ``owner`` until ``until`` if free at ``now``, still at ``version``, not dead.

        Free: :meth:`Row.lease_free`. ``now`` is :meth:`Row.now`; a backend with a clock of its
        own may use it instead, for a lease of ``until - now`` seconds. The version makes the row
        read before the claim the row claimed: the holder goes on from it without reading it again.
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
        new holder has just rotated (and not saved yet): that is no dead login. The version
        stays: that holder's save at it still lands (and clears the mark); a claim at it does
        not (:meth:`claim` takes no dead row).
        """

    @abc.abstractmethod
    def reseal(self, user: str, fields: dict[str, Any], version: int) -> bool:
        """Replace the secret ``fields`` at ``version`` without bumping it (a re-encryption)."""

    # -- the vault contract, on rows ------------------------------------------------------

    def store(self, user: str) -> TokenStore:
        from .row_store import RowStore  # it builds on this module's Row and RowBackend

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
