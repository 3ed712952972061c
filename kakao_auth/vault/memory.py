"""``memory://``: a vault in this process's memory, for tests (``memory://NAME`` is shared by name)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any, Optional

from .base import Row, RowBackend, VaultOptions, new_version

__all__ = ["MemoryBackend", "from_url"]

_named: dict[str, dict[str, Row]] = {}
_named_guard = threading.Lock()


class MemoryBackend(RowBackend):
    """Rows in a dict: every operation is one step under a lock, as a database transaction is."""

    def __init__(self, options: VaultOptions, name: str = "") -> None:
        super().__init__(options)
        self.name = name
        with _named_guard:
            self._rows = _named.setdefault(name, {}) if name else {}
        self._lock = threading.Lock()
        self._read = 0

    @property
    def location(self) -> str:
        return f"memory://{self.name}"

    @property
    def rows_read(self) -> int:
        return self._read

    def read(self, user: str) -> Optional[Row]:
        with self._lock:
            self._read += 1
            return self._rows.get(user)

    def claim(self, user: str, owner: str, until: float, now: float, version: int) -> bool:
        with self._lock:
            row = self._rows.get(user)
            if row is None or row.version != version or row.dead is not None:
                return False
            if not row.lease_free(now, until - now):
                return False
            self._rows[user] = _replace(row, lease_owner=owner, lease_until=until)
            return True

    def release(self, user: str, owner: str) -> None:
        with self._lock:
            row = self._rows.get(user)
            if row is not None and row.lease_owner == owner:
                self._rows[user] = _replace(row, lease_owner=None, lease_until=None)

    def write(self, user: str, fields: dict[str, Any], version: Optional[int], owner: Optional[str]) -> bool:
        with self._lock:
            row = self._rows.get(user)
            if version is not None and (row is None or row.version != version):
                return False
            lease = (
                (None, None)
                if row is None or version is None or row.lease_owner == owner
                else (row.lease_owner, row.lease_until)
            )
            # A new login starts afresh: a version read before a delete never comes back.
            number = new_version() if version is None or row is None else row.version + 1
            self._rows[user] = Row(dict(fields), number, None, *lease)
            return True

    def mark_dead(self, user: str, version: int, code: str, owner: str) -> bool:
        with self._lock:
            row = self._rows.get(user)
            if row is None or row.version != version or row.lease_owner != owner:
                return False
            self._rows[user] = _replace(row, dead=code)
            return True

    def reseal(self, user: str, fields: dict[str, Any], version: int) -> bool:
        with self._lock:
            row = self._rows.get(user)
            if row is None or row.version != version:
                return False
            self._rows[user] = _replace(row, fields={**row.fields, **fields})
            return True

    def delete(self, user: str) -> None:
        with self._lock:
            self._rows.pop(user, None)

    def users(self) -> Iterator[str]:
        with self._lock:
            names = sorted(self._rows)
        yield from names

    def expiring(self, before: float) -> Iterator[str]:
        with self._lock:
            due = sorted(
                user
                for user, row in self._rows.items()
                if row.dead is None
                and row.fields.get("refresh_token_expires_at") is not None
                and row.fields["refresh_token_expires_at"] < before
            )
            self._read += len(due)
        yield from due


def _replace(row: Row, **changes: Any) -> Row:
    return dataclasses.replace(row, **changes)


def from_url(url: str, options: VaultOptions) -> MemoryBackend:
    """A memory backend: ``memory://`` of its own, ``memory://NAME`` shared by name in this process."""
    name = url.split("://", 1)[1].strip("/") if "://" in url else ""
    return MemoryBackend(options, name)
