"""The SQL vault's tables: a row per user, its expiry index, and a schema-version table.

Token fields are text (ciphertext when ``KAKAO_VAULT_KEY`` is set); the columns the vault queries
(the user id, the refresh token's expiry, the version, the lease, the dead marker) stay plain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from .base import LAST_VERSION

if TYPE_CHECKING:
    import sqlalchemy

__all__ = ["COLUMNS", "SCHEMA_VERSION", "TOKEN_COLUMNS", "bad_bookkeeping", "table_name", "tables"]

SCHEMA_VERSION = 1
# The columns a vault table must have; a table of the name without them is someone else's.
COLUMNS = (
    "user_id",
    "access_token",
    "refresh_token",
    "id_token",
    "expires_at",
    "expires_in",
    "refresh_token_expires_at",
    "scope",
    "client_id",
    "version",
    "lease_owner",
    "lease_until",
    "dead",
    "updated_at",
)
TOKEN_COLUMNS = COLUMNS[1:9]


def tables(name: str) -> tuple[sqlalchemy.Table, sqlalchemy.Table]:
    """The vault's table ``name`` and its schema table, in a MetaData of their own."""
    from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text

    metadata = MetaData()
    table = Table(
        name,
        metadata,
        Column(
            "user_id", String(255), primary_key=True, comment="the app's user id (Kakao's, or its own key)"
        ),
        Column("access_token", Text, nullable=False, comment="fernet:... when KAKAO_VAULT_KEY is set"),
        Column("refresh_token", Text, comment="fernet:... when KAKAO_VAULT_KEY is set"),
        Column("id_token", Text, comment="fernet:... when KAKAO_VAULT_KEY is set"),
        Column("expires_at", Float, comment="access token expiry, epoch seconds"),
        Column("expires_in", Integer, comment="the access token's lifetime as Kakao gave it"),
        Column("refresh_token_expires_at", Float, comment="refresh token expiry, epoch seconds"),
        Column("scope", Text),
        Column("client_id", String(128), comment="the app's REST API key"),
        Column(
            "version",
            BigInteger,
            nullable=False,
            comment="random at a new login, +1 at every save (fencing)",
        ),
        Column("lease_owner", String(64), comment="the holder refreshing this user now"),
        Column("lease_until", Float, comment="when that claim runs out, epoch seconds"),
        Column("dead", String(64), comment="the Kakao error code that ended the login"),
        Column("updated_at", Float, nullable=False, comment="the last save, epoch seconds"),
    )
    # Serves expiring() and keep_alive: only the due rows are read, in pages.
    Index(f"{name}_refresh_expiry", table.c.refresh_token_expires_at, table.c.user_id)
    schema = Table(f"{name}_schema", metadata, Column("version", Integer, nullable=False))
    return table, schema


def table_name(name: object) -> str:
    """``table=`` checked: letters, digits and _ (it is never quoted into SQL by hand)."""
    if (
        not isinstance(name, str)
        or not name.replace("_", "a").isalnum()
        or not name.isascii()
        or len(name) > 48
    ):
        raise ConfigurationError("table= is a table name: letters, digits and _, at most 48 characters")
    return name


def bad_bookkeeping(values: Any) -> str:
    """What is wrong with a row's version, lease and dead marker (another program's writes); "" if none."""
    version, until = values["version"], values["lease_until"]
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= LAST_VERSION:
        return f"its version is not a whole number from 0 to {LAST_VERSION}"
    if until is not None and (isinstance(until, bool) or not isinstance(until, (int, float))):
        return "its lease_until is not a number"
    if not all(values[name] is None or isinstance(values[name], str) for name in ("lease_owner", "dead")):
        return "its lease_owner or dead is not text"
    return ""
