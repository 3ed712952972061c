"""The SQL vault: one row per user in the app's own database, through SQLAlchemy 2 Core.

Any SQLAlchemy URL works (``sqlite:///kakao.db``, ``postgresql://app@db/app``, ...), or the app's
own ``Engine``. A plain ``postgresql://`` URL uses psycopg 3 (``postgresql+psycopg``). The table
(``kakao_tokens`` unless ``table=``) is created on first use, with its index and a schema table
``<table>_schema`` holding the schema version; a table of that name that is not a vault's is
refused, never altered. ``kakao-auth vault schema`` prints the DDL.

Every statement is short: a read, or one UPDATE (the claim, the save, the release), each
committing by itself on the vault's own engines (an app's own engine runs each in a
transaction, begun as that engine begins them); a new login's save is one transaction (UPDATE,
else INSERT). No lock of the database is held while Kakao is asked; SQLite's write lock
(database-wide) is held only for those few statements. Waits are bounded: the connection and the
database's lock waits by ``connect_timeout`` (on PostgreSQL through an app's own ``Engine`` too:
``SET LOCAL`` in each of the vault's transactions, the app's own left as they were).

Needs SQLAlchemy (``pip install 'kakao-auth[sql]'``; PostgreSQL: ``'kakao-auth[postgres]'``).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

from ..errors import TokenStoreError, printable
from .base import Row, RowBackend, VaultOptions, new_version
from .sql_engine import engines, locked, make_engine, public, query_secrets
from .sql_schema import COLUMNS, SCHEMA_VERSION, TOKEN_COLUMNS, bad_bookkeeping, table_name, tables

if TYPE_CHECKING:
    import sqlalchemy

__all__ = ["SCHEMA_VERSION", "SQLBackend", "from_engine", "from_url"]

PAGE = 1000  # rows per query when users() or expiring() stream
_T = TypeVar("_T")


class SQLBackend(RowBackend):
    """A vault table reached through a SQLAlchemy ``Engine``."""

    def __init__(
        self,
        engine: sqlalchemy.Engine,
        options: VaultOptions,
        *,
        password: Optional[str] = None,
        bounded: bool = False,
        own: bool = False,
    ) -> None:
        super().__init__(options)
        self.engine = engine
        # PostgreSQL's lock and statement waits: set by the connection of an engine built here
        # (``bounded``), else in each of the vault's transactions (the app's own engine is left
        # as the app set it).
        self._bound_waits = engine.dialect.name == "postgresql" and not bounded
        # Leases and save times in the database's clock: machines (or processes under a faked
        # clock) whose clocks differ still agree on when a lease runs out.
        self._db_clock = engine.dialect.name in ("postgresql", "sqlite")
        # A statement alone commits by itself: no BEGIN and COMMIT round trips around it. Only
        # on an engine built here (``own``): an app's engine may begin its transactions itself
        # (SQLAlchemy's pysqlite recipe), and gets its connections back as it lent them.
        self._single = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if own and engine.dialect.name in ("postgresql", "sqlite") and not self._bound_waits
            else None
        )
        self.table, self.schema_table = tables(table_name(options.table))
        self._secrets = [p for p in (password, engine.url.password, *query_secrets(engine.url)) if p]
        self._where = public(engine.url)
        self._ready = False
        self._ready_lock = threading.Lock()
        self._read = 0
        engines.add(engine)

    @property
    def location(self) -> str:
        return f"{self._where} table {self.table.name}"

    @property
    def rows_read(self) -> int:
        return self._read

    def close(self) -> None:
        self.engine.dispose()

    # -- the rows -------------------------------------------------------------------------

    def read(self, user: str) -> Optional[Row]:
        from sqlalchemy import select

        t = self.table
        columns = [t.c[name] for name in COLUMNS[1:]]
        if self._db_clock:
            columns.append(self._clock_sql().label("db_clock"))
        query = select(*columns).where(t.c.user_id == user)
        found = self._run("read the token", lambda c: c.execute(query).first(), resend=True)
        if found is None:
            return None
        self._read += 1
        values = found._mapping
        fields = {name: values[name] for name in TOKEN_COLUMNS}
        problem = bad_bookkeeping(values)
        if problem:
            raise TokenStoreError(
                f"{self.location}: the row of user {user} is unusable: {problem}; save the user's "
                "login again (vault.save) or delete it"
            )
        clock = values["db_clock"] if self._db_clock else None
        return Row(
            fields,
            values["version"],
            values["dead"],
            values["lease_owner"],
            values["lease_until"],
            float(clock) if isinstance(clock, (int, float)) else None,
        )

    def claim(self, user: str, owner: str, until: float, now: float, version: int) -> bool:
        from sqlalchemy import or_, update

        t = self.table
        lease = until - now
        if self._db_clock:  # every machine's lease in the database's one clock
            now_at: Any = self._clock_sql()
            until_at: Any = now_at + lease
        else:
            now_at, until_at = now, until
        # A lease further ahead than two leases is no live one (Row.lease_free): free.
        horizon = now_at + 2 * lease
        free = or_(
            t.c.lease_owner.is_(None),
            t.c.lease_owner == owner,  # this claim, sent again after its connection dropped
            t.c.lease_until.is_(None),
            t.c.lease_until < now_at,
            t.c.lease_until > horizon,
        )
        statement = (
            update(t)
            .where(t.c.user_id == user, t.c.version == version, t.c.dead.is_(None), free)
            .values(lease_owner=owner, lease_until=until_at)
        )
        return self._changed("claim the user", statement)

    def release(self, user: str, owner: str) -> None:
        from sqlalchemy import update

        t = self.table
        statement = (
            update(t)
            .where(t.c.user_id == user, t.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
        with contextlib.suppress(TokenStoreError):  # a claim not let go runs out with its lease
            self._changed("let go of the claim", statement)

    def write(self, user: str, fields: dict[str, Any], version: Optional[int], owner: Optional[str]) -> bool:
        from sqlalchemy import case, insert, update

        t = self.table
        saved_at: Any = self._clock_sql() if self._db_clock else time.time()
        values: dict[str, Any] = dict(fields, version=t.c.version + 1, dead=None, updated_at=saved_at)
        if owner is not None:  # the save that ends a refresh lets go of its claim
            values["lease_owner"] = case((t.c.lease_owner == owner, None), else_=t.c.lease_owner)
            values["lease_until"] = case((t.c.lease_owner == owner, None), else_=t.c.lease_until)
        if version is not None:
            statement = update(t).where(t.c.user_id == user, t.c.version == version).values(**values)
            return self._changed("save the token", statement)
        # A new login starts afresh: a version read before a delete never comes back, and no
        # lease of the old login holds it up (one far ahead would hold it for ever).
        values.update(version=new_version(), lease_owner=None, lease_until=None)
        upsert = update(t).where(t.c.user_id == user).values(**values)
        row = dict(fields, user_id=user, version=values["version"], updated_at=values["updated_at"])

        def save(c: sqlalchemy.Connection) -> bool:
            if c.execute(upsert).rowcount == 0:
                c.execute(insert(t).values(**row))
            return True

        from sqlalchemy.exc import IntegrityError

        try:
            return self._run("save the token", save, begin=True, reraise=(IntegrityError,))
        except IntegrityError:  # another saver created the row meanwhile: now it is there
            pass
        # Outside the except block: a failure here carries no context (its SQL quotes the tokens).
        return self._run("save the token", save, begin=True)

    def mark_dead(self, user: str, version: int, code: str, owner: str) -> bool:
        from sqlalchemy import update

        t = self.table
        statement = (
            update(t)
            .where(t.c.user_id == user, t.c.version == version, t.c.lease_owner == owner)
            .values(dead=code[:64])
        )
        try:
            return self._changed("mark the login dead", statement)
        except TokenStoreError:
            return False  # the caller learns it is dead all the same; the next one asks Kakao once more

    def reseal(self, user: str, fields: dict[str, Any], version: int) -> bool:
        from sqlalchemy import update

        t = self.table
        statement = update(t).where(t.c.user_id == user, t.c.version == version).values(**fields)
        return self._changed("re-encrypt the token", statement)

    def delete(self, user: str) -> None:
        from sqlalchemy import delete

        t = self.table
        # Not sent again: a delete that landed, sent once more, could take a login saved since.
        self._changed("delete the token", delete(t).where(t.c.user_id == user), resend=False)

    def users(self) -> Iterator[str]:
        from sqlalchemy import select

        t = self.table
        last: Optional[str] = None
        while True:
            query = select(t.c.user_id).order_by(t.c.user_id).limit(PAGE)
            if last is not None:
                query = query.where(t.c.user_id > last)
            page = self._page(query)
            yield from page
            if len(page) < PAGE:
                return
            last = page[-1]

    def expiring(self, before: float) -> Iterator[str]:
        """The due users as they were when the listing began, in pages of the expiry index.

        A row saved since (renewed, by this keep-alive or another, or a new login) is left out:
        a renewal moves the expiry forward, and with ``within`` past the new refresh token's
        lifetime the renewed user would come up again in a later page, to be refreshed twice.
        """
        from sqlalchemy import select, tuple_

        t = self.table
        key = (t.c.refresh_token_expires_at, t.c.user_id)
        started = self._now()
        last: Optional[tuple[float, str]] = None
        while True:
            query = (
                select(*key)
                .where(t.c.refresh_token_expires_at < before, t.c.dead.is_(None), t.c.updated_at <= started)
                .order_by(*key)
                .limit(PAGE)
            )
            if last is not None:
                query = query.where(tuple_(*key) > tuple_(*last))
            rows = self._run("list the due users", _rows(query))
            self._read += len(rows)
            yield from (str(r[1]) for r in rows)
            if len(rows) < PAGE:
                return
            last = (rows[-1][0], rows[-1][1])

    def _now(self) -> float:
        """Now, by the clock the rows' ``updated_at`` and leases are kept in."""
        if not self._db_clock:
            return time.time()
        from sqlalchemy import select

        now = self._run("read the database's clock", lambda c: c.execute(select(self._clock_sql())).scalar())
        return float(now) if isinstance(now, (int, float)) else time.time()

    def _clock_sql(self) -> Any:
        """The database's clock in epoch seconds: every machine's leases in one clock."""
        from sqlalchemy import Float, cast, extract, func, literal

        if self.engine.dialect.name == "sqlite":  # milliseconds, from the C library's own clock
            return (func.julianday(literal("now")) - 2440587.5) * 86400.0
        return cast(extract("epoch", func.clock_timestamp()), Float)

    def _page(self, query: Any) -> list[str]:
        page = self._run("list the users", lambda c: [str(r[0]) for r in c.execute(query)])
        self._read += len(page)
        return page

    # -- the schema -----------------------------------------------------------------------

    def schema(self) -> str:
        from sqlalchemy.schema import CreateIndex, CreateTable

        dialect = self.engine.dialect
        parts = [str(CreateTable(self.table).compile(dialect=dialect)).strip()]
        parts += [str(CreateIndex(index).compile(dialect=dialect)).strip() for index in self.table.indexes]
        parts.append(str(CreateTable(self.schema_table).compile(dialect=dialect)).strip())
        parts.append(f"INSERT INTO {self.schema_table.name} (version) VALUES ({SCHEMA_VERSION})")  # noqa: S608  # a checked table name
        return ";\n\n".join(parts) + ";\n"

    def _prepare(self) -> None:
        """Create the tables on first use, or check that the ones there are a vault's."""
        from sqlalchemy import insert, inspect, select

        inspector = inspect(self.engine)
        if not inspector.has_table(self.table.name):
            try:
                self.table.metadata.create_all(self.engine)
            except Exception:  # another process created it at the same moment
                inspector = inspect(self.engine)
                if not inspector.has_table(self.table.name):
                    raise
            inspector = inspect(self.engine)
        self._check_table(inspector)
        if not inspector.has_table(self.schema_table.name):
            self.schema_table.create(self.engine, checkfirst=True)
        with self.engine.begin() as c:
            self._bound(c)
            found = c.execute(select(self.schema_table.c.version)).scalars().all()
            if not found:
                c.execute(insert(self.schema_table).values(version=SCHEMA_VERSION))
        if any(not isinstance(v, int) or v > SCHEMA_VERSION for v in found):
            raise TokenStoreError(
                f"{self.location} was made by a newer kakao_auth (schema version {printable(str(found))}); "
                "upgrade kakao_auth"
            )

    def _check_table(self, inspector: Any) -> None:
        have = {column["name"] for column in inspector.get_columns(self.table.name)}
        missing = [name for name in COLUMNS if name not in have]
        if missing:
            raise TokenStoreError(
                f"{self.location} is not a kakao_auth vault table (it has no column "
                f"{', '.join(missing[:3])}), and is left as it is: pass table= another name"
            )

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                self._guarded("prepare the vault table", self._prepare_soon)
                self._ready = True

    def _prepare_soon(self) -> None:
        """:meth:`_prepare`, again after a moment when another process is preparing it too."""
        from sqlalchemy.exc import OperationalError

        for attempt in range(4):
            try:
                return self._prepare()
            except OperationalError:  # SQLite: "database is locked" while another creates it
                if attempt == 3:
                    raise
                time.sleep(0.05 * (attempt + 1))

    # -- running statements ---------------------------------------------------------------

    def _changed(self, doing: str, statement: Any, *, resend: bool = True) -> bool:
        """One UPDATE or DELETE; whether it changed the row.

        Sent once more if its connection drops: the vault's UPDATEs are compare-and-sets (on the
        version, or on the claim's owner).
        """
        return self._run(doing, lambda c: c.execute(statement).rowcount == 1, resend=resend)

    def _run(
        self,
        doing: str,
        work: Callable[[sqlalchemy.Connection], _T],
        *,
        begin: bool = False,
        reraise: tuple[type[BaseException], ...] = (),
        resend: bool = False,
    ) -> _T:
        """``work`` on a connection, in a transaction with ``begin``; errors as TokenStoreError.

        Without ``begin``, ``work`` is one statement, which is atomic by itself. With ``resend``
        (``work`` is safe to run twice), once more on a new connection if its connection dropped.
        """
        self._ensure_ready()

        def once() -> _T:
            if self._single is not None and not begin:
                with self._single.connect() as c:
                    return work(c)
            with self.engine.begin() as c:
                self._bound(c)
                return work(c)

        def run() -> _T:
            from sqlalchemy.exc import DBAPIError

            try:
                return once()
            except DBAPIError as e:
                if not (resend and e.connection_invalidated):
                    raise
            # The connection dropped (a restart, a failover, a killed backend) mid-use: once more
            # on a new one. A save that did land is then fenced off, and found in the row
            # (RowStore._landed); a claim that did is this owner's already.
            return once()

        if self.engine.dialect.name == "sqlite":
            return self._guarded(doing, lambda: self._when_unlocked(run), reraise)
        return self._guarded(doing, run, reraise)

    def _bound(self, connection: sqlalchemy.Connection) -> None:
        """Bound PostgreSQL's waits (a lock, a statement) in this transaction only: SET LOCAL."""
        if self._bound_waits:
            from sqlalchemy import text

            millis = int(self.options.connect_timeout * 1000)
            connection.execute(
                text(
                    "SELECT set_config('lock_timeout', :lock, true), "
                    "set_config('statement_timeout', :run, true)"
                ),
                {"lock": f"{millis}ms", "run": f"{millis * 2}ms"},
            )

    def _when_unlocked(self, run: Callable[[], _T]) -> _T:
        """``run``, again every millisecond or two while SQLite's write lock is taken.

        SQLite's own busy handler sleeps up to 100 ms between tries: 32 users saving at once
        would wait on one another's sleeps, not on their (sub-millisecond) writes. Bounded by
        ``connect_timeout``, then the "database is locked" error stands.
        """
        from sqlalchemy.exc import OperationalError

        deadline = time.monotonic() + self.options.connect_timeout
        while True:
            try:
                return run()
            except OperationalError as e:
                if not locked(e) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.0005 + random.random() * 0.0015)  # noqa: S311  # jitter, not a secret

    def _guarded(
        self, doing: str, work: Callable[[], _T], reraise: tuple[type[BaseException], ...] = ()
    ) -> _T:
        from sqlalchemy.exc import SQLAlchemyError

        # The driver's own errors too: SQLAlchemy leaves unwrapped what the driver raises in
        # its events (psycopg's "connection is lost" as an isolation level is set, with 2.0.0).
        driver = getattr(getattr(self.engine.dialect, "dbapi", None), "Error", SQLAlchemyError)
        try:
            return work()
        except reraise:
            raise
        except TokenStoreError:
            raise
        except (SQLAlchemyError, driver) as e:
            failure = f"cannot {doing} at {self.location}: {self._describe(e)}"
        # Raised outside the except block: SQLAlchemy's error, whose text quotes the statement's
        # values (tokens), stays out of the __context__ of what the caller gets.
        raise TokenStoreError(failure)

    def _describe(self, error: Exception) -> str:
        """The database's own words (its first line), without the statement, its values or a password.

        SQLAlchemy's message quotes the statement and its parameters, tokens included: only the
        driver's error is used, scrubbed of the URL's password and of anything token-shaped.
        """
        cause = getattr(error, "orig", None) or error
        text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        if getattr(error, "orig", None) is None:
            text = ""  # SQLAlchemy's own text may quote the statement
        for secret in self._secrets:
            text = text.replace(secret, "***")
        kind = type(cause).__name__
        return f"{kind}: {printable(text)}" if text else kind


def _rows(query: Any) -> Callable[[Any], list[tuple[Any, ...]]]:
    return lambda c: [tuple(r) for r in c.execute(query)]


def from_engine(engine: sqlalchemy.Engine, options: VaultOptions) -> SQLBackend:
    """A vault in the app's own ``engine``."""
    return SQLBackend(engine, options)


def from_url(url: str, options: VaultOptions) -> SQLBackend:
    """A vault at a SQLAlchemy URL; ``postgresql://`` and ``postgres://`` use psycopg 3."""
    engine, password, bounded = make_engine(url, options.connect_timeout)
    return SQLBackend(engine, options, password=password, bounded=bounded, own=True)
