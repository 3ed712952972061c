"""TokenVault: every user's Kakao login, kept alive, in the app's own database.

::

    vault = TokenVault()                         # $KAKAO_TOKEN_VAULT, else sqlite:///kakao_tokens.db
    vault.save(user.id, token_answer)            # after the app's own Kakao login
    vault.session(user.id).get("https://kapi.kakao.com/v2/user/me")

``vault.store(user)`` is a :class:`~kakao_auth.stores.TokenStore` like any other, so one refresh
per user per expiry holds across threads, processes and machines exactly as for one login. The
per-user clients (``session``, ``auth``, ``httpx_auth``) are kept (a bounded number, most
recently used): a request for a user whose token is in hand reads no database.
"""

from __future__ import annotations

import collections
import datetime
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from ..config import resolve, seconds_setting, vault_location
from ..errors import ConfigurationError
from ..oauth import DEFAULT_BACKOFF, DEFAULT_RETRIES, DEFAULT_TIMEOUT, TOKEN_PATH, TokenEndpoint, merge_answer
from ..refresh import Refresher
from ..stores import TokenStore
from ..token import DEFAULT_LEEWAY, Token
from . import leave
from .base import UserId, VaultBackend, VaultOptions, user_key
from .crypto import Sealer
from .keepalive import KeepAliveReport, keep_alive
from .registry import open_backend

if TYPE_CHECKING:
    from ..clients import KakaoAuth, KakaoHttpxAuth, KakaoSession

__all__ = ["DEFAULT_CACHE", "KEEP_ALIVE_WITHIN", "TokenVault"]

KEEP_ALIVE_WITHIN = 30 * 86400.0  # Kakao rotates a refresh token in its last month
DEFAULT_CACHE = 1000  # users whose clients (and token in hand) are kept per kind


class TokenVault:
    """Every user's Kakao token, refreshed once per user per expiry, in one place.

    ``url``: a vault URL (``sqlite:///path``, ``postgresql://user@host/db``, any SQLAlchemy
    URL, ``redis://host:6379/0``, ``memory://``), or a SQLAlchemy ``Engine``; default
    ``$KAKAO_TOKEN_VAULT``, else ``sqlite:///kakao_tokens.db``. ``client_id``,
    ``client_secret``, ``kauth_url``, ``kapi_url``: as for :class:`KakaoAuth` (else the
    environment). ``table`` (SQL) and ``prefix`` (Redis): where in the database. ``key``:
    Fernet keys, comma separated (else ``KAKAO_VAULT_KEY``). ``lease``: seconds one holder's
    claim on a user lives (default: the token exchange's worst case plus 5 s); ``lock_timeout``:
    seconds a waiter waits for it; ``connect_timeout``: seconds before a silent database is an
    error. ``leeway``, ``timeout``, ``retries``, ``backoff``, ``clock``: as for
    :class:`KakaoAuth`. ``cache``: users whose clients are kept in memory, per kind.
    """

    def __init__(
        self,
        url: Union[str, Any, None] = None,
        *,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        table: str = "kakao_tokens",
        prefix: str = "kakao_auth:vault:",
        key: Optional[str] = None,
        lease: Optional[float] = None,
        lock_timeout: Optional[float] = None,
        connect_timeout: float = 5.0,
        leeway: float = DEFAULT_LEEWAY,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        kauth_url: Optional[str] = None,
        kapi_url: Optional[str] = None,
        cache: int = DEFAULT_CACHE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = resolve(client_id, client_secret, kauth_url, kapi_url)
        self.endpoint = TokenEndpoint(
            self.settings.kauth_url + TOKEN_PATH, timeout=timeout, retries=retries, backoff=backoff
        )
        options = VaultOptions(
            table=table,
            prefix=prefix,
            lease=None if lease is None else seconds_setting(lease, "lease"),
            lock_timeout=None if lock_timeout is None else seconds_setting(lock_timeout, "lock_timeout"),
            connect_timeout=seconds_setting(connect_timeout, "connect_timeout"),
            sealer=Sealer(key),
            hold=self.endpoint.worst_case,
        )
        self.backend = _backend(url, options)
        self.leeway = leeway
        self.clock = clock
        self._client_options: dict[str, Any] = {
            "kauth_url": self.settings.kauth_url,
            "kapi_url": self.settings.kapi_url,
            "leeway": leeway,
            "timeout": timeout,
            "retries": retries,
            "backoff": backoff,
            "clock": clock,
        }
        self._cache: collections.OrderedDict[tuple[str, str], Any] = collections.OrderedDict()
        self._cache_size = max(1, int(cache))
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenVault({self.location!r})"

    def __enter__(self) -> TokenVault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the database's connections (a vault is usable again after)."""
        self.backend.close()

    @property
    def location(self) -> str:
        """Where the vault lives, for messages: never a password."""
        return self.backend.location

    # -- one user's token -------------------------------------------------------------------

    def save(self, user_id: UserId, token: Union[Token, Mapping[str, Any]]) -> Token:
        """Store ``user_id``'s new login: a :class:`Token`, or Kakao's token answer (a dict).

        It never waits for a refresh of that user under way elsewhere: that refresh's own save
        is then fenced off, and its caller adopts this login. Returns the token saved.
        """
        user = user_key(user_id)
        saved = self._token(token)
        self.backend.save(user, saved)
        for client in self._cached(user):
            _adopt(client, saved)
        return saved

    def load(self, user_id: UserId) -> Token:
        """The stored token of ``user_id``; :class:`LoginRequired` when that user has none."""
        return self.backend.load(user_key(user_id))

    def delete(self, user_id: UserId) -> None:
        """Forget ``user_id``'s login (after a logout or unlink); absent already is not an error."""
        user = user_key(user_id)
        self.backend.delete(user)
        with self._cache_lock:
            for kind in _KINDS:
                self._cache.pop((kind, user), None)

    def logout(self, user_id: UserId) -> None:
        """Log ``user_id`` out at Kakao (``POST /v1/user/logout``), then delete their login.

        A login already gone at Kakao still ends deleted; Kakao unreachable raises and keeps it.
        """
        leave.logout(self, user_id)

    def unlink(self, user_id: UserId) -> None:
        """Unlink ``user_id`` from the app (``POST /v1/user/unlink``), then delete their login.

        Kakao sends no unlink webhook for an unlink the app makes itself: this deletes the row.
        """
        leave.unlink(self, user_id)

    def scopes(self, user_id: UserId) -> list[dict[str, Any]]:
        """The consent items ``user_id`` has given (``GET /v2/user/scopes``): Kakao's ``scopes``."""
        return leave.scopes(self, user_id)

    def store(self, user_id: UserId) -> TokenStore:
        """The :class:`TokenStore` of ``user_id``: whatever takes a store takes it."""
        return self.backend.store(user_key(user_id))

    def refresher(self, user_id: UserId) -> Refresher:
        """The one refresh path (``refresh.py``) for ``user_id``, with the vault's settings."""
        store = self.store(user_id)
        store.expect_hold(self.endpoint.worst_case)
        return Refresher(
            store,
            self.endpoint,
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            leeway=self.leeway,
            clock=self.clock,
        )

    # -- clients for one user -----------------------------------------------------------------

    def session(self, user_id: UserId) -> KakaoSession:
        """A :class:`KakaoSession` for ``user_id`` (kept: the same one for the next call)."""
        session: Optional[KakaoSession] = self._kept("session", user_id)
        if session is None:
            from ..clients import KakaoSession

            session = self._client("session", user_id, KakaoSession.from_store)
        return session

    def auth(self, user_id: UserId) -> KakaoAuth:
        """A :class:`KakaoAuth` (requests) for ``user_id`` (kept)."""
        auth: Optional[KakaoAuth] = self._kept("auth", user_id)
        if auth is None:
            from ..clients import KakaoAuth

            auth = self._client("auth", user_id, KakaoAuth.from_store)
        return auth

    def httpx_auth(self, user_id: UserId) -> KakaoHttpxAuth:
        """A :class:`KakaoHttpxAuth` (httpx, sync and async) for ``user_id`` (kept).

        Built without reading the database: an async handler may call this on the event loop,
        and the first request reads the user's row off the loop (a user without a login then
        gets :class:`LoginRequired` from that request).
        """
        from ..clients import KakaoHttpxAuth

        def build(store: TokenStore, client_id: Optional[str], secret: Optional[str], **options: Any) -> Any:
            return KakaoHttpxAuth(store, client_id=client_id, client_secret=secret, **options)

        auth: KakaoHttpxAuth = self._client("httpx", user_id, build)
        return auth

    def _kept(self, kind: str, user_id: UserId) -> Any:
        """The client of ``kind`` kept for ``user_id``, or None: the per-request path, no lock."""
        key = (kind, user_key(user_id))
        client = self._cache.get(key)
        if client is not None:
            try:  # noqa: SIM105  # suppress() would cost this path a microsecond
                self._cache.move_to_end(key)
            except KeyError:  # evicted by another thread meanwhile
                pass
        return client

    def _client(self, kind: str, user_id: UserId, build: Callable[..., Any]) -> Any:
        user = user_key(user_id)
        key = (kind, user)
        client = self._kept(kind, user)
        if client is not None:
            return client
        # Built outside the lock: it reads the user's row, and other users need not wait.
        settings = self.settings
        client = build(self.store(user), settings.client_id, settings.client_secret, **self._client_options)
        with self._cache_lock:
            client = self._cache.setdefault(key, client)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size * len(_KINDS):
                self._cache.popitem(last=False)
        return client

    def _cached(self, user: str) -> list[Any]:
        with self._cache_lock:
            return [c for c in (self._cache.get((kind, user)) for kind in _KINDS) if c is not None]

    def _token(self, token: Union[Token, Mapping[str, Any]]) -> Token:
        if isinstance(token, Token):
            saved = token
        elif isinstance(token, Mapping):
            try:
                saved = merge_answer(None, token, self.clock())
            except Exception as e:  # merge_answer types Kakao's bad answer; here it is the caller's
                raise ValueError(f"the token answer cannot be saved: {e}") from None
        else:
            raise TypeError(
                f"save() takes a Token or Kakao's token answer (a dict), not {type(token).__name__}"
            )
        if saved.client_id is None and self.settings.client_id is not None:
            import dataclasses

            saved = dataclasses.replace(saved, client_id=self.settings.client_id)
        return saved

    # -- every user ---------------------------------------------------------------------------

    def users(self) -> Iterator[str]:
        """Every user id in the vault (str), streamed."""
        return self.backend.users()

    def expiring(self, within: Union[float, datetime.timedelta]) -> Iterator[str]:
        """Users whose refresh token dies within ``within`` (seconds or a timedelta), streamed."""
        return self.backend.expiring(self.clock() + _seconds(within))

    def keep_alive(
        self,
        within: Union[float, datetime.timedelta] = KEEP_ALIVE_WITHIN,
        *,
        concurrency: int = 4,
        progress: Optional[Callable[[KeepAliveReport], object]] = None,
    ) -> KeepAliveReport:
        """Refresh, once each, every user whose refresh token dies within ``within`` (30 days).

        Kakao issues a new refresh token only in the old one's last month: a daily run keeps
        every login alive while its user stays linked. ``concurrency`` users at a time; a user
        Kakao refused is reported in ``.dead`` (and remembered in the vault), one that could not
        be refreshed now (KOE237, Kakao or the database unreachable) in ``.failed``.
        ``progress`` is called with the report after each user.
        """
        return keep_alive(self, _seconds(within), concurrency=concurrency, progress=progress)

    def rekey(self) -> int:
        """Encrypt every row under the first key of ``KAKAO_VAULT_KEY``; the rows rewritten.

        A row it cannot open (under a key no longer held) does not stop the others: once they
        are done, a :class:`TokenStoreError` names the users left.
        """
        return self.backend.rekey()

    def schema(self) -> str:
        """The DDL of the vault's tables (SQL backends), for a DBA or an Alembic migration."""
        return self.backend.schema()


_KINDS = ("session", "auth", "httpx")


def _adopt(client: Any, token: Token) -> None:
    holder = getattr(client, "kakao_auth", client)  # a KakaoSession holds its KakaoAuth
    holder.adopt(token)


def _seconds(within: Union[float, datetime.timedelta]) -> float:
    if isinstance(within, datetime.timedelta):
        return within.total_seconds()
    if isinstance(within, bool) or not isinstance(within, (int, float)):
        raise TypeError(f"within is seconds or a timedelta, not {type(within).__name__}")
    return seconds_setting(within, "within", zero=True)


def _backend(url: Union[str, Any, None], options: VaultOptions) -> VaultBackend:
    if isinstance(url, VaultBackend):
        return url
    if url is None or isinstance(url, str):
        return open_backend(vault_location(url), options)
    if type(url).__name__ == "Engine" and hasattr(url, "dialect"):  # the app's SQLAlchemy Engine
        from .sql import from_engine

        return from_engine(url, options)
    raise ConfigurationError(f"TokenVault takes a vault URL or a SQLAlchemy Engine, not {type(url).__name__}")
