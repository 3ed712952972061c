"""The one refresh path: lock, re-read, adopt or refresh once, save, release.

Every refresh, pre-emptive or after a -401, from any thread or process, goes through
:meth:`Refresher.refresh`. Under the store's lock it re-reads the store: when someone else
already refreshed (the stored access token is not the one that failed, and it is fresh) it adopts
that token without calling Kakao. Otherwise it calls the token endpoint once and saves the merged
answer before the lock is released, because Kakao rotates refresh tokens in their last month and
kills the old one at once: a refresh whose answer is not saved can lose the login for good.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Optional

from .errors import KakaoAuthError, TokenStoreConflict, TokenStoreError
from .oauth import TokenEndpoint, merge_answer, refresh_form
from .store import TokenStore
from .token import DEFAULT_LEEWAY, Token

__all__ = ["Refresher"]

log = logging.getLogger("kakao_auth")


class Refresher:
    """Single-flight refresh of the token in ``store`` through ``endpoint``."""

    def __init__(
        self,
        store: TokenStore,
        endpoint: TokenEndpoint,
        *,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        leeway: float = DEFAULT_LEEWAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.endpoint = endpoint
        self.client_id = client_id
        self._client_secret = client_secret
        self.leeway = leeway
        self.clock = clock

    def __repr__(self) -> str:
        return f"Refresher({self.store!r}, client_id={self.client_id!r})"

    def refresh(self, failed: Optional[str], *, force: bool = False) -> Token:
        """Return a token newer than the access token ``failed``, refreshing at most once.

        ``force`` refreshes even when the store holds a newer fresh token (``kakao-auth refresh``).
        """
        with self.store.lock():
            current = self.store.load()
            if not force and current.supersedes(failed, self.clock(), self.leeway):
                log.info("adopted a token refreshed by another holder of %s", self.store.location)
                return current
            new = self._call(current)
            try:
                self._save(new, current)
            except TokenStoreConflict:
                return self._adopt_after_conflict()
            log.info("refreshed the access token in %s", self.store.location)
            return new

    def _adopt_after_conflict(self) -> Token:
        # This holder's lock lapsed mid-refresh and another holder saved meanwhile: theirs stands.
        stored = self.store.load()
        if not stored.is_fresh(self.clock(), self.leeway):
            raise TokenStoreError(
                f"the token in {self.store.location} changed during a refresh and is not fresh"
            )
        log.warning(
            "the lock on %s lapsed during a refresh; adopted the newer stored token", self.store.location
        )
        return stored

    def _call(self, current: Token) -> Token:
        if not current.refresh_token:
            raise self.store.error("has no refresh_token, so the access token cannot be renewed")
        client_id = self.client_id or current.client_id
        if not client_id:
            raise KakaoAuthError(
                f"no client id to refresh the token in {self.store.location}: pass client_id=, "
                "set KAKAO_REST_API_KEY, or log in with `kakao-auth login` (it stores the id)"
            )
        secret = self._client_secret or current.client_secret
        sent_at = self.clock()
        answer = self.endpoint.post(refresh_form(client_id, current.refresh_token, secret))
        # Remember the app the token belongs to, so later runs need no KAKAO_REST_API_KEY.
        return merge_answer(current, answer, sent_at, client_id=client_id)

    def _save(self, new: Token, current: Token) -> None:
        try:
            self.store.save(new, previous=current)
        except TokenStoreConflict:
            raise
        except TokenStoreError as e:
            raise TokenStoreError(
                f"Kakao issued a new token but it could not be saved to {self.store.location} "
                f"({e}); if Kakao rotated the refresh token, run `kakao-auth login`"
            ) from e
