"""Moving the Kakao logins a Django app already keeps into a vault: django-allauth and social-auth.

Where the peers keep Kakao tokens (../shared/KAKAO.md, "What Python web peers do"):

- django-allauth, with ``SOCIALACCOUNT_STORE_TOKENS``: ``socialaccount_socialtoken`` (``token``,
  ``token_secret`` = the refresh token, ``expires_at``, ``account_id``) joined to
  ``socialaccount_socialaccount`` (``provider = 'kakao'``, ``uid`` = the Kakao user id).
- social-auth (social-core + social-app-django): ``social_auth_usersocialauth`` (``provider =
  'kakao'``, ``uid``, ``extra_data`` JSON with ``access_token``, ``refresh_token``, ``expires``
  seconds and ``auth_time``, the epoch second they were issued).

The app's database is only read, through SQLAlchemy Core (the ``sql`` extra), one row at a
time. A row without a refresh token cannot be kept alive: it is reported, never guessed at or
imported. A row with garbage in it is reported with what is wrong (never its tokens). A user the
vault already holds is left alone unless ``replace``: the vault's token is likely the newer one.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from ..config import resolve
from ..errors import ConfigurationError, LoginRequired, TokenStoreError, printable
from ..token import Token
from .vault import Vault

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["ALLAUTH", "SOCIAL_AUTH", "ImportReport", "import_allauth", "import_social_auth"]

ALLAUTH = "allauth"
SOCIAL_AUTH = "social-auth"
PROVIDER = "kakao"
CONNECT_TIMEOUT = 10  # seconds to reach the app's database
BATCH = 500  # rows fetched at a time: 100,000 users are never all in memory
_UID = re.compile(r"[0-9]{1,20}")

Database = Union[str, "Engine"]
Progress = Callable[[int], None]


@dataclasses.dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do).

    ``checked``: Kakao rows read. ``imported``: saved to the vault (would be, on a dry run).
    ``existing``: users the vault already held, left alone. ``no_refresh_token``: users whose
    row has no refresh token (they must log in again). ``invalid``: ``(user id, problem)`` for
    rows that hold no usable token.
    """

    source: str
    dry_run: bool
    checked: int = 0
    imported: int = 0
    existing: list[str] = dataclasses.field(default_factory=list)
    no_refresh_token: list[str] = dataclasses.field(default_factory=list)
    invalid: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        """One line for a terminal or a log."""
        verb = "would import" if self.dry_run else "imported"
        return (
            f"{self.source}: {self.checked} Kakao logins read, {verb} {self.imported}, "
            f"{len(self.existing)} already in the vault, {len(self.no_refresh_token)} without a "
            f"refresh token (they must log in again), {len(self.invalid)} unusable"
        )


def import_allauth(
    vault: Vault,
    database: Database,
    *,
    dry_run: bool = False,
    replace: bool = False,
    progress: Optional[Progress] = None,
) -> ImportReport:
    """Import django-allauth's Kakao tokens from ``database`` (a SQLAlchemy URL or Engine) into ``vault``."""
    report = ImportReport(ALLAUTH, dry_run)
    for uid, token in _rows(database, ALLAUTH, _allauth_rows):
        _import_one(vault, report, uid, token, replace, progress)
    return report


def import_social_auth(
    vault: Vault,
    database: Database,
    *,
    dry_run: bool = False,
    replace: bool = False,
    progress: Optional[Progress] = None,
) -> ImportReport:
    """Import social-auth's Kakao tokens from ``database`` (a SQLAlchemy URL or Engine) into ``vault``."""
    report = ImportReport(SOCIAL_AUTH, dry_run)
    for uid, token in _rows(database, SOCIAL_AUTH, _social_auth_rows):
        _import_one(vault, report, uid, token, replace, progress)
    return report


# A row read: the user id and their token, or what is wrong with the row.
_Row = tuple[str, Union[Token, str, None]]


def _import_one(
    vault: Vault,
    report: ImportReport,
    uid: str,
    token: Union[Token, str, None],
    replace: bool,
    progress: Optional[Progress],
) -> None:
    report.checked += 1
    if token is None:
        report.no_refresh_token.append(uid)
    elif isinstance(token, str):
        report.invalid.append((uid, token))
    elif not replace and _held(vault, uid):
        report.existing.append(uid)
    else:
        if not report.dry_run:
            vault.save(uid, token)
        report.imported += 1
    if progress is not None:
        progress(report.checked)


def _held(vault: Vault, uid: str) -> bool:
    try:
        vault.load(uid)
    except LoginRequired:
        return False
    return True


def _rows(database: Database, source: str, read: Callable[[Any], Iterator[_Row]]) -> Iterator[_Row]:
    """The rows ``read`` gives from ``database``, within one read-only connection."""
    import sqlalchemy

    engine = _engine(sqlalchemy, database)
    where = _where(engine.url)
    failure: Optional[str] = None
    client_id = resolve().client_id
    try:
        with engine.connect() as connection:
            _require_tables(sqlalchemy, connection, source, where)
            yield from (_with_client(row, client_id) for row in read(connection))
    except sqlalchemy.exc.SQLAlchemyError as e:
        failure = type(e).__name__  # its text holds the statement and may hold the URL: not shown
    finally:
        if not isinstance(database, sqlalchemy.engine.Engine):
            engine.dispose()
    if failure is not None:
        raise TokenStoreError(
            f"cannot read the {source} tables at {printable(where, hide_tokens=False)} ({failure})"
        )


def _with_client(row: _Row, client_id: Optional[str]) -> _Row:
    uid, token = row
    if isinstance(token, Token) and client_id:
        token = dataclasses.replace(token, client_id=client_id)
    return uid, token


def _engine(sqlalchemy: Any, database: Database) -> Any:
    if isinstance(database, sqlalchemy.engine.Engine):
        return database
    try:
        url = sqlalchemy.engine.make_url(database)
    except (sqlalchemy.exc.ArgumentError, ValueError, TypeError):
        url = None
    if url is None:
        raise ConfigurationError(
            "DB_URL is not a database URL, such as postgresql://user@host/db or sqlite:///app.db"
        )
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database and not os.path.isfile(url.database):
        # SQLite would create an empty file there: say that nothing is at that path instead.
        shown = printable(url.database, hide_tokens=False)
        raise ConfigurationError(f"no SQLite database at {shown}: check DB_URL")
    timeouts = {"sqlite": "timeout", "postgresql": "connect_timeout", "mysql": "connect_timeout"}
    connect_args = {timeouts[backend]: CONNECT_TIMEOUT} if backend in timeouts else {}
    try:
        return sqlalchemy.create_engine(url, connect_args=connect_args)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as e:
        failure = type(e).__name__
    where = _where(url)
    raise ConfigurationError(
        f"cannot open {printable(where, hide_tokens=False)} ({failure}): is its driver installed?"
    )


def _where(url: Any) -> str:
    """The database a SQLAlchemy URL names, for a message: backend, host, port and database only.

    Not the user info, nor the query: a driver takes its password from ``?password=`` too, which
    ``render_as_string(hide_password=True)`` would show.
    """
    host = f"{url.host}:{url.port}" if url.port else (url.host or "")
    return f"{url.get_backend_name()}://{host}/{url.database or ''}"


_TABLES = {
    ALLAUTH: ("socialaccount_socialtoken", "socialaccount_socialaccount"),
    SOCIAL_AUTH: ("social_auth_usersocialauth",),
}


def _require_tables(sqlalchemy: Any, connection: Any, source: str, where: str) -> None:
    inspector = sqlalchemy.inspect(connection)
    missing = [name for name in _TABLES[source] if not inspector.has_table(name)]
    if missing:
        shown = printable(where, hide_tokens=False)
        raise ConfigurationError(
            f"{shown} has no table {missing[0]}: is it the database of the app that uses {source}?"
        )


def _allauth_rows(connection: Any) -> Iterator[_Row]:
    from sqlalchemy import column, select, table

    token = table(
        "socialaccount_socialtoken",
        column("token"),
        column("token_secret"),
        column("expires_at"),
        column("account_id"),
    )
    account = table("socialaccount_socialaccount", column("id"), column("uid"), column("provider"))
    query = (
        select(account.c.uid, token.c.token, token.c.token_secret, token.c.expires_at)
        .select_from(token.join(account, token.c.account_id == account.c.id))
        .where(account.c.provider == PROVIDER)
        .order_by(account.c.id)
    )
    for uid, access, refresh, expires_at in connection.execution_options(yield_per=BATCH).execute(query):
        yield _row(uid, functools.partial(_allauth_token, access, refresh, expires_at))


def _allauth_token(access: Any, refresh: Any, expires_at: Any) -> Optional[Token]:
    if not refresh:
        return None
    return Token(access_token=access, refresh_token=refresh, expires_at=_epoch(expires_at))


def _social_auth_rows(connection: Any) -> Iterator[_Row]:
    from sqlalchemy import column, select, table

    social = table(
        "social_auth_usersocialauth", column("id"), column("uid"), column("provider"), column("extra_data")
    )
    query = (
        select(social.c.uid, social.c.extra_data).where(social.c.provider == PROVIDER).order_by(social.c.id)
    )
    for uid, extra in connection.execution_options(yield_per=BATCH).execute(query):
        yield _row(uid, functools.partial(_social_auth_token, extra))


def _social_auth_token(extra: Any) -> Optional[Token]:
    data = json.loads(extra) if isinstance(extra, (str, bytes)) else extra
    if not isinstance(data, Mapping):
        raise ValueError("extra_data is not a JSON object")
    if not data.get("refresh_token"):
        return None  # social-core's default extra data keeps none: the user must log in again
    issued = _number(data.get("auth_time"))
    return Token(
        access_token=data.get("access_token"),  # type: ignore[arg-type]  # Token checks it
        token_type=data.get("token_type") or "bearer",
        refresh_token=data.get("refresh_token"),
        expires_at=_after(issued, data.get("expires", data.get("expires_in"))),
        refresh_token_expires_at=_after(issued, data.get("refresh_token_expires_in")),
        scope=data.get("scope") if isinstance(data.get("scope"), str) else None,
    )


def _row(uid: Any, build: Callable[[], Optional[Token]]) -> _Row:
    """``(uid, token)``, ``(uid, None)`` without a refresh token, or ``(uid, problem)``."""
    shown = str(uid) if isinstance(uid, (str, int)) and not isinstance(uid, bool) else ""
    if not _UID.fullmatch(shown):
        return printable(shown, 40) or "?", "uid is not a Kakao user id"
    try:
        return shown, build()
    except (ValueError, TypeError, RecursionError) as e:
        # Token's and this module's messages name the field, never its value.
        problem = (
            str(e) if isinstance(e, ValueError) and not isinstance(e, json.JSONDecodeError) else "not JSON"
        )
        return shown, printable(problem, 80)


def _epoch(value: Any) -> Optional[float]:
    """A database's timestamp (a datetime, or SQLite's text) as epoch seconds; naive is UTC (Django's)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("expires_at is not a time") from None
    if not isinstance(value, datetime.datetime):
        raise ValueError("expires_at is not a time")
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return float(value.timestamp())


def _number(value: Any) -> Optional[float]:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok and 0 < value < 32503680000 else None


def _after(issued: Optional[float], seconds: Any) -> Optional[float]:
    lifetime = _number(seconds)
    return issued + lifetime if issued is not None and lifetime is not None else None
