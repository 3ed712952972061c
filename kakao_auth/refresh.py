"""The one refresh path: lock, re-read, adopt or refresh once, save, release.

Every refresh, pre-emptive or after a -401, from any thread or process, goes through
:meth:`Refresher.refresh`. It first looks at the store without the lock (the file is replaced
atomically, so an unlocked read sees a whole token): when someone else already refreshed (the
stored access token is not the one that failed, and it is fresh; :meth:`Token.supersedes`) it
adopts that token. Otherwise it waits for the store's lock, and keeps looking while it waits, so
that once the holder saves, every waiter adopts at once instead of queueing for the lock. The
holder re-reads under the lock, calls the token endpoint once and saves the merged answer before
the lock is released, because Kakao rotates refresh tokens in their last month and kills the old
one at once: a refresh whose answer is not saved can lose the login for good. So Kakao is never
called unless the store can take the answer (:meth:`TokenStore.check_writable`).

A token that is due but still valid (inside the leeway) is refreshed ahead by
:meth:`Refresher.refresh_ahead` (in a thread of the core's), which never waits: if another
holder has the lock, or Kakao or the store cannot be reached, it gives up for now, and the
requests go on with the token in hand, which is still good.

A refresh token Kakao refused (``invalid_grant``) is remembered: later calls fail fast instead of
posting it again (toward KOE237), until the store holds a different one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Callable, Optional

from .errors import (
    ConfigurationError,
    KakaoAuthError,
    KakaoOAuthError,
    KakaoUnavailable,
    LoginRequired,
    TokenStoreConflict,
    TokenStoreError,
)
from .oauth import TokenEndpoint, merge_answer, refresh_form
from .stores import StoreBusy, TokenStore
from .token import DEFAULT_LEEWAY, Token

__all__ = ["Refresher", "TokenNotSaved"]

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
        # Digests of refresh tokens Kakao refused, with the error it gave: never posted again.
        self._dead: dict[str, LoginRequired] = {}

    def __repr__(self) -> str:
        return f"Refresher({self.store!r}, client_id={self.client_id!r})"

    def refresh(self, failed: Optional[str], *, force: bool = False) -> Token:
        """Return a token newer than the access token ``failed``, refreshing at most once.

        ``force`` refreshes even when the store holds a newer fresh token (``kakao-auth refresh``).
        """
        adopt = None if force else _Newer(self, failed)
        with self.store.lock_or_adopt(adopt) as adopted:
            return self._adopt_or_refresh(adopted, failed, force=force)

    def refresh_ahead(self, due: str) -> Optional[Token]:
        """Refresh the due (still valid) access token ``due`` if no one else is: None if not done.

        The store's lock is tried, not waited for: a holder refreshing it now is as good. A token
        saved meanwhile is adopted. Kakao unreachable, Kakao refusing for any reason but a dead
        login (KOE237, its issuance limit), or the store out of reach before Kakao was asked, is
        logged and answered with None: the token in hand is still valid, the store as it was,
        and a later call tries again. A dead login, a token issued but not saved
        (:class:`TokenNotSaved`) and a wrong setup are raised, as by :meth:`refresh`.
        """
        try:
            with self.store.try_lock_or_adopt(_Newer(self, due)) as adopted:
                return self._adopt_or_refresh(adopted, due, force=False)
        except StoreBusy:
            return None
        except (LoginRequired, TokenNotSaved):
            raise  # a dead login, or one Kakao may just have rotated away: say so now
        except (KakaoUnavailable, KakaoOAuthError, TokenStoreError) as e:
            # Kakao down, slow or limiting (KOE237), the store out of reach: the token in hand
            # is still good, and the store is as it was.
            log.warning("could not refresh ahead of expiry, the token in hand is still valid: %s", e)
            return None

    def save(self, token: Token) -> None:
        """Store a login's or a copy's ``token`` under the store's lock (the one write path)."""
        with self.store.lock():
            self.store.check_writable()
            self._save(token, None)
        self._dead.clear()  # a new login: nothing remembered applies to it

    def save_set(self, token: Token) -> None:
        """Store a token set by hand, unless it could put a dead refresh token over a live one.

        Under the store's lock: saved when the store holds no usable token, no refresh token, or
        the same refresh token as ``token`` (only the access token changes). A different refresh
        token is refused with :class:`ConfigurationError`, the store untouched: the stored one
        may be a rotation of the one set (Kakao killed the old one then), and which is newer
        cannot be told without asking Kakao, which ``refresh_token(refresh_token=...)`` does.
        """
        with self.store.lock():
            self.store.check_writable()
            try:
                stored: Optional[Token] = self.store.load()
            except TokenStoreError:  # nothing usable stored (no file yet): nothing to lose
                stored = None
            if stored is not None and stored.refresh_token and stored.refresh_token != token.refresh_token:
                raise ConfigurationError(
                    f"not saved: {self.store.location} holds another refresh token, maybe a newer "
                    "one; log in again (fetch_token), or pass yours to "
                    "session.refresh_token(refresh_token=...) to have Kakao check it first"
                )
            self._save(token, stored)
        self._dead.clear()

    def _adopt_or_refresh(self, adopted: Optional[Token], failed: Optional[str], *, force: bool) -> Token:
        """Under the lock (or with a token adopted while waiting for it): adopt, or refresh once."""
        if adopted is not None:
            log.info("adopted a token refreshed by another holder of %s", self.store.location)
            return adopted
        current = self.store.load()
        if not force and current.supersedes(failed, self.clock(), self.leeway):
            log.info("adopted a token refreshed by another holder of %s", self.store.location)
            return current
        return self._refresh_locked(current, failed)

    def _refresh_locked(self, current: Token, failed: Optional[str], *, look_again: bool = True) -> Token:
        self._check_not_dead(current)
        self.store.check_writable()  # never call Kakao for an answer that could not be saved
        try:
            new = self._call(current)
        except LoginRequired as e:
            self._remember_dead(current, e)
            if not look_again:
                raise
            return self._after_invalid_grant(current, failed, e)
        try:
            self._save(new, current)
        except TokenStoreConflict:
            return self._adopt_after_conflict()
        log.info("refreshed the access token in %s", self.store.location)
        return new

    def _after_invalid_grant(self, current: Token, failed: Optional[str], error: LoginRequired) -> Token:
        # A holder whose lock lapsed (Redis TTL) may have posted a refresh token that another
        # holder had just rotated away: the store then holds the live one. Look once.
        stored = self.store.load()
        if stored.refresh_token == current.refresh_token:
            raise error
        if stored.supersedes(failed, self.clock(), self.leeway):
            log.warning("Kakao refused a rotated-away refresh token; adopted the stored one")
            return stored
        return self._refresh_locked(stored, failed, look_again=False)

    def _check_not_dead(self, current: Token) -> None:
        refused = self._dead.get(_digest(current.refresh_token))
        if refused is not None:
            raise LoginRequired(refused.error, refused.error_code, None, refused.status_code)

    def _remember_dead(self, current: Token, error: LoginRequired) -> None:
        self._dead[_digest(current.refresh_token)] = error

    def _adopt_after_conflict(self) -> Token:
        # This holder's lock lapsed mid-refresh and another holder saved meanwhile: theirs stands.
        stored = self.store.load()
        if not stored.is_fresh(self.clock(), self.leeway):
            raise TokenStoreError(
                f"the token in {self.store.location} changed during a refresh and is not fresh; try again"
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
            raise ConfigurationError(
                f"no client id to refresh the token in {self.store.location}: set KAKAO_REST_API_KEY "
                "(client_id= in Python), or log in with `kakao-auth login` (it stores the id)"
            )
        secret = self._client_secret or current.client_secret
        sent_at = self.clock()
        answer = self.endpoint.post(refresh_form(client_id, current.refresh_token, secret))
        # Remember the app the token belongs to, so later runs need no KAKAO_REST_API_KEY.
        return merge_answer(current, answer, sent_at, client_id=client_id)

    def _save(self, new: Token, current: Optional[Token]) -> None:
        try:
            self.store.save(new, previous=current)
        except TokenStoreConflict:
            raise
        except KakaoAuthError as e:
            raise TokenNotSaved(
                f"Kakao issued a new token but it could not be saved to {self.store.location} "
                f"({e}); if Kakao rotated the refresh token, run `kakao-auth login`"
            ) from None
        except (OSError, ValueError) as e:
            raise TokenNotSaved(
                f"Kakao issued a new token but it could not be saved to {self.store.location} "
                f"({type(e).__name__}); if Kakao rotated the refresh token, run `kakao-auth login`"
            ) from None


class TokenNotSaved(TokenStoreError):
    """Kakao issued a token that could not be saved: if it rotated the refresh token, the login is lost."""


class _Newer:
    """The store's ``Adopt``: a stored token supersedes the access token that failed."""

    def __init__(self, refresher: Refresher, failed: Optional[str]) -> None:
        self._refresher = refresher
        self._failed = failed

    def __call__(self) -> Optional[Token]:
        # Unlocked: the store is replaced as a whole, so this sees the old token or the new one.
        try:
            stored = self._refresher.store.load()
        except TokenStoreError:
            return None
        return self.consider(stored)

    def consider(self, token: Token) -> Optional[Token]:
        refresher = self._refresher
        return token if token.supersedes(self._failed, refresher.clock(), refresher.leeway) else None


def _digest(refresh_token: Optional[str]) -> str:
    return hashlib.sha256((refresh_token or "").encode()).hexdigest()
