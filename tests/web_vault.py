"""A stand-in for the token vault in the web tests: a dict of user id -> Token, thread-safe.

It does what ``kakao_auth.web.Vault`` asks (save, load, delete, session) and counts the
writes, so a test can say "the vault was not touched". The real ``TokenVault`` replaces it.
"""

from __future__ import annotations

import threading
from typing import Optional, Union

from kakao_auth import KakaoSession, LoginRequired, Token
from kakao_auth.testing import MemoryTokenStore


class _UserStore(MemoryTokenStore):
    """One user's token, kept in the DictVault (so a refresh saves back to the dict)."""

    def __init__(self, vault: DictVault, user_id: str) -> None:
        super().__init__(vault.tokens.get(user_id))
        self._vault, self._user = vault, user_id

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        super().save(token, previous=previous)
        self._vault.save(self._user, token)


class DictVault:
    """Users' tokens in a dict; ``writes`` counts saves and deletes."""

    def __init__(self) -> None:
        self.tokens: dict[str, Token] = {}
        self.writes = 0
        self.deleted: list[str] = []
        self.fail_delete: Optional[Exception] = None
        self._lock = threading.Lock()

    def save(self, user_id: Union[str, int], token: Token) -> None:
        with self._lock:
            self.tokens[str(user_id)] = token
            self.writes += 1

    def load(self, user_id: Union[str, int]) -> Token:
        with self._lock:
            token = self.tokens.get(str(user_id))
        if token is None:
            raise LoginRequired("invalid_grant", None, "no login for this user")
        return token

    def delete(self, user_id: Union[str, int]) -> None:
        if self.fail_delete is not None:
            raise self.fail_delete
        with self._lock:
            self.tokens.pop(str(user_id), None)
            self.deleted.append(str(user_id))
            self.writes += 1

    def session(self, user_id: Union[str, int]) -> KakaoSession:
        self.load(user_id)
        return KakaoSession.from_store(_UserStore(self, str(user_id)))
