"""The SQL vault's engines: drivers chosen, every wait bounded, connections not shared by a fork.

A plain ``postgresql://`` URL uses psycopg 3; the connection, the pool and the database's own
lock waits are bounded by ``connect_timeout``; SQLite runs in WAL mode (readers never wait for
the writer) and retries its lock itself, sooner than SQLite's own busy handler would. Messages
name the database without its password or query (libpq takes ``?password=``).
"""

from __future__ import annotations

import os
import time
import weakref
from typing import Any, Optional

from ..errors import ConfigurationError, printable

__all__ = ["engines", "locked", "make_engine", "ping_when_idle", "public", "query_secrets", "sqlite_setup"]

# A pooled connection unused for longer than this is pinged before use (the database may have
# restarted meanwhile); one used since was working a moment ago, and its statement will tell.
PING_AFTER_IDLE = 1.0

# Every engine a vault made or was given: a forked child must not share their connections.
engines: weakref.WeakSet[Any] = weakref.WeakSet()


def _forget_connections() -> None:
    for engine in list(engines):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_connections)


def locked(error: Exception) -> bool:
    """Whether ``error`` is SQLite's "database is locked" (or busy): a wait, not a failure."""
    text = str(getattr(error, "orig", "")).lower()
    return "locked" in text or "busy" in text


def make_engine(url: str, timeout: float) -> tuple[Any, Optional[str], bool]:
    """An engine for a SQLAlchemy URL, its password (to scrub), and whether its waits are bounded."""
    try:
        import sqlalchemy
        from sqlalchemy.engine import make_url
    except ImportError:
        raise ConfigurationError("a SQL vault needs SQLAlchemy: pip install 'kakao-auth[sql]'") from None
    try:
        parsed = make_url(_with_driver(url))
    except (sqlalchemy.exc.ArgumentError, ValueError):
        raise ConfigurationError(f"the vault URL {_scheme_only(url)}... is not a SQLAlchemy URL") from None
    try:
        engine = sqlalchemy.create_engine(parsed, **_engine_options(parsed, timeout))
    except ImportError as e:
        hint = (
            "pip install 'kakao-auth[postgres]'"
            if parsed.get_backend_name() == "postgresql"
            else "install it"
        )
        raise ConfigurationError(f"the vault's database driver is not installed ({e.name}): {hint}") from None
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, TypeError, ValueError) as e:
        where = public(parsed)
        raise ConfigurationError(f"the vault URL {where} cannot be used ({type(e).__name__})") from None
    if parsed.get_backend_name() == "sqlite":
        sqlite_setup(engine)
    ping_when_idle(engine)
    password = parsed.password if isinstance(parsed.password, str) else None
    bounded = "options" in _engine_options(parsed, timeout).get("connect_args", {})
    return engine, password, bounded


def public(url: Any) -> str:
    """``url`` for messages: no password, and no query (libpq takes ``?password=``, ``?sslpassword=``)."""
    return printable(url.set(query={}).render_as_string(hide_password=True), hide_tokens=False)


def query_secrets(url: Any) -> list[str]:
    """The values of the URL query's password-like keys, to be scrubbed from the driver's words."""
    found: list[str] = []
    for key, value in url.query.items():
        if any(word in key.lower() for word in ("pass", "secret", "key", "token")):
            found += [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
    return found


def _with_driver(url: str) -> str:
    for plain in ("postgresql://", "postgres://"):
        if url.lower().startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def _scheme_only(url: str) -> str:
    return printable(url.split("://", 1)[0] + "://", 40)


def _engine_options(url: Any, timeout: float) -> dict[str, Any]:
    """Bounded waits everywhere: the connection, the pool, and the database's own lock waits."""
    options: dict[str, Any] = {"pool_timeout": timeout}
    backend = url.get_backend_name()
    if backend == "sqlite":
        options.pop("pool_timeout")
        # SQLite's own wait for its lock: short, _when_unlocked tries again sooner than it would.
        options["connect_args"] = {"timeout": 0.01}
        return options
    if backend == "postgresql" and url.get_driver_name() == "psycopg":
        millis = int(timeout * 1000)
        options["connect_args"] = {
            "connect_timeout": max(1, int(timeout)),
            "options": f"-c lock_timeout={millis} -c statement_timeout={millis * 2}",
        }
    return options


def sqlite_setup(engine: Any) -> None:
    """SQLite in WAL mode: readers (waiters looking at a row) never wait for the writer."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()


def ping_when_idle(engine: Any) -> None:
    """Ping a pooled connection before use only when it sat idle for ``PING_AFTER_IDLE`` seconds.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip before each of the
    vault's statements, three of them per refresh. A dead connection found by the ping is
    replaced (``DisconnectionError``: the pool connects afresh); one that died after its last
    use less than a second ago fails its statement, which the backend sends once more on a new
    connection (``SQLBackend._run``).
    """
    from sqlalchemy import event, exc

    @event.listens_for(engine, "checkin")
    def _used(_dbapi_connection: Any, record: Any) -> None:
        record.info["kakao_auth_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        used = record.info.get("kakao_auth_used")
        if used is None or time.monotonic() - used < PING_AFTER_IDLE:
            return  # a connection made just now, or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception:
            alive = False
        if alive is False:  # SQLAlchemy 2.0.0's psycopg dialect answers False, later ones raise
            raise exc.DisconnectionError("the pooled connection is gone")
