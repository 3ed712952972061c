"""The part of an auth adapter that does not depend on the HTTP stack.

:class:`TokenAuth` resolves the settings once, builds the token endpoint, the route and the
:class:`~kakao_auth.core.TokenCore`, and gives both adapters (``KakaoAuth`` for requests,
``KakaoHttpxAuth`` for httpx) the same constructors, options and token methods.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, TypeVar

from ..api import ApiRoute
from ..config import resolve
from ..core import TokenCore
from ..oauth import DEFAULT_BACKOFF, DEFAULT_RETRIES, DEFAULT_TIMEOUT, TOKEN_PATH, TokenEndpoint
from ..refresh import Refresher
from ..stores import PathLike, TokenStore
from ..token import DEFAULT_LEEWAY, Token

__all__ = ["MAX_401", "TokenAuth"]

_T = TypeVar("_T", bound="TokenAuth")

# How much of a 401's body is read to tell kapi's -401 (a JSON object of some 60 bytes) from any
# other 401: the rest is the caller's to read, or not. A 401 with a larger body is answered with
# a refresh only when its WWW-Authenticate header says invalid_token.
MAX_401 = 16 * 1024


class TokenAuth:
    """What KakaoAuth (requests) and KakaoHttpxAuth (httpx) share: settings, route and core.

    Build one with :meth:`from_file` or :meth:`from_store`. Options: ``kauth_url``, ``kapi_url``
    (else ``KAKAO_KAUTH_URL`` / ``KAKAO_KAPI_URL``), ``leeway`` (seconds before expiry to refresh,
    clamped to a tenth of the token's lifetime), ``timeout`` (seconds for one whole exchange with
    the token endpoint), ``retries`` and ``backoff`` (first delay, doubling) for it, ``clock`` (a
    ``time.time`` stand-in for tests).
    """

    def __init__(
        self,
        store: TokenStore,
        *,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        kauth_url: Optional[str] = None,
        kapi_url: Optional[str] = None,
        leeway: float = DEFAULT_LEEWAY,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = resolve(client_id, client_secret, kauth_url, kapi_url)
        self.store = store
        self.settings = settings
        self.leeway = leeway
        self.route = ApiRoute(settings.kapi_url)
        endpoint = TokenEndpoint(
            settings.kauth_url + TOKEN_PATH, timeout=timeout, retries=retries, backoff=backoff
        )
        refresher = Refresher(
            store,
            endpoint,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            leeway=leeway,
            clock=clock,
        )
        self.core = TokenCore(refresher)

    @classmethod
    def from_file(
        cls: type[_T],
        path: Optional[PathLike] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        **options: Any,
    ) -> _T:
        """Use the token file ``path``; a store URL (``redis://...``) works where a path does.

        Without ``path``: ``KAKAO_TOKEN_STORE``, else ``KAKAO_TOKEN_FILE``, else
        ``./kakao_token.json``. The file is read now, so a missing or broken file raises
        :class:`TokenFileError` here.
        """
        from ..stores import open_store

        store = open_store(path, client_id=client_id)
        return cls.from_store(store, client_id, client_secret, **options)

    @classmethod
    def from_store(
        cls: type[_T],
        store: TokenStore,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        **options: Any,
    ) -> _T:
        """Use the token in ``store`` (any :class:`TokenStore`); it is read now."""
        auth = cls(store, client_id=client_id, client_secret=client_secret, **options)
        auth.reload()
        return auth

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.store!r}, client_id={self.client_id!r})"

    @property
    def client_id(self) -> Optional[str]:
        """The app's REST API key: the setting, else the one stored with the token."""
        held = self.core.held
        return self.settings.client_id or (held.client_id if held else None)

    @property
    def held(self) -> Optional[Token]:
        """The token in hand, without reading the store (None before first use)."""
        return self.core.held

    @property
    def token(self) -> Token:
        """The token in hand (read from the store on first use); it may be due for refresh."""
        return self.core.token

    def reload(self) -> Token:
        """Read the store again and hold what it has."""
        return self.core.reload()

    def adopt(self, token: Token) -> None:
        """Hold ``token``, just saved to the store by a login."""
        self.core.adopt(token)

    def valid_token(self) -> Token:
        """A token fresh enough to use now, refreshing it first when due."""
        return self.core.valid_token()

    def refresh(self) -> Token:
        """Refresh now, through the locked path, even when the token is fresh."""
        return self.core.refresh(self.token.access_token, force=True)

    def bearer(self, token: Token) -> str:
        """The ``Authorization`` header value for ``token``."""
        return f"Bearer {token.access_token}"
