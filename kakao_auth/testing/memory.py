"""MemoryTokenStore: a TokenStore in memory, for tests of the refresh decisions without a disk."""

from __future__ import annotations

from typing import Optional

from ..errors import TokenStoreConflict, TokenStoreError
from ..stores import InMemoryStore
from ..token import Token

__all__ = ["MemoryTokenStore"]


class MemoryTokenStore(InMemoryStore):
    """One token in memory, shared by whoever holds this object (threads of one process).

    ``fail_save`` (an exception) makes the next saves raise it; ``fence`` makes saves refuse
    to overwrite a token that is no longer ``previous``, as a store with a TTL lock must;
    ``saves`` counts the saves that went through.
    """

    def __init__(self, token: Optional[Token] = None, *, fence: bool = False) -> None:
        super().__init__(token)
        self.fence = fence
        self.fail_save: Optional[Exception] = None
        self.unwritable = False
        self.saves = 0

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        if self.fail_save is not None:
            raise self.fail_save
        if self.fence and previous is not None and self.token != previous:
            raise TokenStoreConflict("memory changed since it was read; not overwritten")
        self.token = token
        self.saves += 1

    def check_writable(self) -> None:
        if self.unwritable:
            raise TokenStoreError("memory is not writable (MemoryTokenStore.unwritable)")
