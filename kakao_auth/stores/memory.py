"""A token in this process's memory: ``KakaoSession(token=...)`` without a store, and the test kit's.

Threads of one process share it through the object; nothing is written anywhere, so another
process never sees it (OAuth2Session's ``token_updater`` is how such a token persists).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Optional

from ..errors import TokenStoreError
from ..token import Token
from .base import TokenStore

__all__ = ["InMemoryStore"]

LOCK_WAIT = 60.0  # seconds: a refresh holds the lock for at most the token exchange's deadline


class InMemoryStore(TokenStore):
    """One token in memory, locked by an ``RLock`` (the threads of one process)."""

    def __init__(
        self, token: Optional[Token] = None, *, where: str = "memory", empty: str = "holds no token"
    ) -> None:
        self.token = token
        self._where = where
        self._empty = empty
        self._lock = threading.RLock()

    @property
    def location(self) -> str:
        return self._where

    def load(self) -> Token:
        if self.token is None:
            raise self.error(self._empty)
        return self.token

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        self.token = token

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=LOCK_WAIT):
            raise TokenStoreError(f"timed out waiting for the lock of {self._where}; try again")
        try:
            yield
        finally:
            self._lock.release()

    def delete(self) -> None:
        self.token = None
