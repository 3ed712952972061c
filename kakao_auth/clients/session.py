"""KakaoSession: a requests-oauthlib ``OAuth2Session`` whose requests go through KakaoAuth.

It takes ``OAuth2Session``'s arguments in its order (``client_id``, ``client``,
``auto_refresh_url``, ``auto_refresh_kwargs``, ``scope``, ``redirect_uri``, ``token``, ``state``,
``token_updater``, ``pkce``) and keeps its promises: ``token=`` without a store is held in memory
and persisted by ``token_updater``, a token set by hand is used and refreshed, the compliance
hooks run where OAuth2Session runs them. What only Kakao needs (``client_secret``,
``token_file``, ``store``, ``kauth_url``...) is keyword-only. The token is attached by
``self.auth``, a :class:`KakaoAuth`, so ``prepare_request()`` + ``send()`` is covered too and
requests-oauthlib's ``TokenExpiredError`` / ``TokenUpdated`` never reach the caller. Token
requests go to Kakao through kakao_auth's own bounded endpoint client, which logs no token, code
or secret (requests-oauthlib's would, at DEBUG); the differences that are deliberate are listed
in the README ("Coming from requests-oauthlib").
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any, Callable, Optional, TypeVar, Union
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from ..config import authorize_base, require_https
from ..errors import ConfigurationError, TokenStoreError, TokenUpdaterFailed
from ..net import no_auth
from ..oauth import TOKEN_PATH, authorize_url, code_form, new_pkce, new_state
from ..refresh import Refresher
from ..stores import PathLike, TokenStore, open_store
from ..token import Token
from . import oauth2_compat as compat
from .kapi import KapiCalls
from .requests_auth import KakaoAuth

__all__ = ["KakaoSession", "TokenUpdaterFailed"]  # the error stays importable from here

_S = TypeVar("_S", bound="KakaoSession")


class KakaoSession(KapiCalls, OAuth2Session):
    """A session for kapi.kakao.com that logs in, attaches and refreshes the token itself.

    ``KakaoSession.from_file(path)`` for scripts; ``KakaoSession(client_id, redirect_uri=...)``
    to log in (``authorization_url()`` then ``fetch_token(...)``, which saves the token file).
    As with OAuth2Session, ``KakaoSession(client_id, token=saved, token_updater=save)`` holds the
    token in memory and calls ``save`` with every new one. With a store (``store=``,
    ``token_file=``, the default token file), the store is the truth, and ``token_updater`` is
    also called after each refresh and login this process makes or adopts. ``options`` are
    :class:`KakaoAuth`'s (``kauth_url``, ``kapi_url``, ``leeway``, ``timeout``...).
    """

    def __init__(
        self,
        client_id: Optional[str] = None,
        client: Optional[WebApplicationClient] = None,
        auto_refresh_url: Optional[str] = None,
        auto_refresh_kwargs: Optional[Mapping[str, str]] = None,
        scope: Any = None,
        redirect_uri: Optional[str] = None,
        token: Optional[Mapping[str, Any]] = None,
        state: Any = None,
        token_updater: Optional[Callable[[dict[str, Any]], Any]] = None,
        pkce: Optional[str] = None,
        *,
        client_secret: Optional[str] = None,
        token_file: Optional[PathLike] = None,
        store: Optional[TokenStore] = None,
        **options: Any,
    ) -> None:
        client_id, client_secret = compat.client_settings(
            client_id, client, client_secret, auto_refresh_kwargs
        )
        if token is None and isinstance(client, WebApplicationClient):
            token = client.token or None  # OAuth2Session takes the client's token too
        compat.check_session_args(scope, pkce, token_updater, token, store, token_file)
        if store is None:
            memory = token_file is None and (token is not None or token_updater is not None)
            store = compat.MemoryStore() if memory else open_store(token_file, client_id=client_id)
        # The settings are resolved once, by KakaoAuth; the session reads them from it.
        self.kakao_auth = KakaoAuth(store, client_id=client_id, client_secret=client_secret, **options)
        settings = self.kakao_auth.settings
        self._token_set: Optional[tuple[Token, dict[str, Any]]] = None  # a token set, as set
        self._code_verifier: Optional[str] = None
        refresh_url = require_https(auto_refresh_url, "auto_refresh_url") if auto_refresh_url else None
        super().__init__(
            client_id=settings.client_id,
            client=client,
            auto_refresh_url=refresh_url,
            auto_refresh_kwargs=dict(auto_refresh_kwargs or {}),
            scope=scope,
            redirect_uri=redirect_uri,
            state=state,
            token_updater=token_updater,
        )
        self._pkce = "S256"  # always on (requests-oauthlib before 1.4 has no pkce= to pass it to)
        hooks: Any = self.compliance_hook
        for kind in compat.HOOK_TYPES:  # requests-oauthlib 1.3.0 has three of the five
            hooks.setdefault(kind, set())
        self.auth = self.kakao_auth
        # The oauthlib client holds the client id (and a code given with it); the token is ours.
        self._client = compat.ClientView(self, settings.client_id, getattr(client, "code", None))
        if state is None:
            self.state = new_state  # 32 characters of secrets.token_urlsafe, not oauthlib's 30
        compat.use_hooks(self, refresh_url or settings.kauth_url + TOKEN_PATH)
        self.kakao_auth.core.on_update = self._updated
        if token:
            self.token = dict(token)

    @classmethod
    def from_file(
        cls: type[_S],
        path: Optional[PathLike] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        **options: Any,
    ) -> _S:
        """A session on the token file ``path`` (read now; see :meth:`KakaoAuth.from_file`)."""
        store = open_store(path, client_id=client_id)
        return cls.from_store(store, client_id, client_secret, **options)

    @classmethod
    def from_store(
        cls: type[_S],
        store: TokenStore,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        **options: Any,
    ) -> _S:
        """A session on the token in ``store`` (read now)."""
        session = cls(client_id, client_secret=client_secret, store=store, **options)
        session.kakao_auth.reload()
        return session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} store={self.kakao_auth.store!r}>"

    # -- the OAuth2Session surface ----------------------------------------------------------

    @property
    def client_id(self) -> Optional[str]:
        """The app's REST API key (OAuth2Session keeps it on its oauthlib client, as here)."""
        return getattr(self.__dict__.get("_client"), "client_id", None)

    @client_id.setter
    def client_id(self, value: Optional[str]) -> None:
        if value is not None:
            value = compat.client_id_text(value)
        self.__dict__["_client"].client_id = value
        self.kakao_auth.core.refresher.client_id = value

    @client_id.deleter
    def client_id(self) -> None:
        self.client_id = None

    @property
    def token(self) -> dict[str, Any]:
        """The token in hand: what was set, as set; else Kakao's fields plus absolute expiries.

        ``{}`` before login (a store is read at the first request, not here).
        """
        auth = self.__dict__.get("kakao_auth")  # absent while OAuth2Session.__init__ runs
        held = auth.held if auth is not None else None
        if held is None:
            return {}
        given = self.__dict__.get("_token_set")
        if given is not None and given[0] is held:
            return dict(given[1])
        data: dict[str, Any] = held.to_dict(time.time())
        data.pop("client_secret", None)
        return data

    @token.setter
    def token(self, value: Optional[Mapping[str, Any]]) -> None:
        """Use ``value`` from now on, and refresh it when due (saved to the store, if any).

        With a store, the token set is saved only when the store holds no token, or one with the
        same refresh token (or none): another refresh token may be the rotation of the one set,
        which Kakao killed, so it is a :class:`ConfigurationError` and the store stays as it was.
        To switch the store to another login, use :meth:`fetch_token` or
        ``refresh_token(refresh_token=...)`` (saved once Kakao accepts it).
        """
        if "kakao_auth" not in self.__dict__:
            return  # OAuth2Session.__init__ assigns {}: the token comes from __init__'s own code
        if not value:
            self._forget()
            return
        self._set(compat.token_from(value, time.time()), dict(value))

    @property
    def access_token(self) -> Optional[str]:
        value = self.token.get("access_token")
        return value if isinstance(value, str) else None

    @access_token.setter
    def access_token(self, value: Optional[str]) -> None:
        if value is None:
            self._forget()
            return
        held = self._held_or_stored()
        given = dict(self.token)
        given["access_token"] = value
        try:
            token = dataclasses.replace(held, access_token=value) if held else Token(access_token=value)
        except (TypeError, ValueError) as e:
            raise ConfigurationError(f"the access token set is not usable: {e}") from None
        self._set(token, given)

    @access_token.deleter
    def access_token(self) -> None:
        self._forget()

    def _held_or_stored(self) -> Optional[Token]:
        """The token in hand, else the store's: a new access token keeps its refresh token."""
        try:
            return self.kakao_auth.core.token
        except TokenStoreError:  # an empty store (a missing file): nothing to keep
            return None

    def _set(self, token: Token, given: dict[str, Any]) -> None:
        """Hold ``token`` set by hand, through the one write path (fenced, when there is a store)."""
        core = self.kakao_auth.core
        if isinstance(core.store, compat.MemoryStore):
            core.save(token)  # this session's own memory: what is set replaces it, as in OAuth2Session
        else:
            core.save_set(token)  # never a dead refresh token over the store's rotated one
        self._token_set = (token, given)

    def _forget(self) -> None:
        """Hold no token; an in-memory one is dropped, a store's stays where it is."""
        self._token_set = None
        store = self.kakao_auth.store
        if isinstance(store, compat.MemoryStore):
            store.delete()
        self.kakao_auth.core.forget()

    def _updated(self, token: Token) -> None:
        """A refresh or a login brought ``token``: hand it to ``token_updater``, as OAuth2Session does.

        The one place the updater is called. Its failure is a :class:`TokenUpdaterFailed` that
        names the exception's type only (its text could hold the token), raised outside the
        ``except`` so that no ``__context__`` leads back to it.
        """
        updater = self.__dict__.get("token_updater")
        if updater is None:
            return
        data = token.to_dict(time.time())
        data.pop("client_secret", None)
        try:
            updater(data)
            return
        except Exception as e:  # the caller's code: anything
            name = type(e).__name__
        store = self.kakao_auth.store
        if isinstance(store, compat.MemoryStore):
            where = "is only in this session (session.token) and was not persisted"
        else:
            where = f"was saved to {store.location} but not passed to your updater"
        raise TokenUpdaterFailed(name, where)

    @property
    def authorized(self) -> bool:
        return bool(self.access_token)

    @property
    def code_verifier(self) -> Optional[str]:
        """The PKCE verifier of the last :meth:`authorization_url`: a web app keeps it for the callback."""
        return self._code_verifier

    @code_verifier.setter
    def code_verifier(self, value: Optional[str]) -> None:
        if value is not None and not (isinstance(value, str) and 43 <= len(value) <= 128 and value.isascii()):
            raise ConfigurationError(
                "code_verifier must be the 43 to 128 characters authorization_url() made"
            )
        self._code_verifier = value

    def authorization_url(
        self, url: Optional[str] = None, state: Optional[str] = None, **kwargs: Any
    ) -> tuple[str, str]:
        """The URL to open in a browser, and its ``state``; PKCE S256 is always on.

        ``url`` is the authorization endpoint (a query it has is kept), else kauth's, or
        ``KAKAO_AUTHORIZE_URL``'s (a fake Kakao's page a real browser accepts); ``state`` defaults
        to the constructor's (a value, or a callable making one), else a new random one.
        """
        client_id = compat.need_client_id(self.client_id)
        redirect_uri = compat.need_redirect_uri(self.redirect_uri)
        if not compat.str_map(kwargs):
            raise ConfigurationError("authorization_url()'s extra parameters must be text")
        endpoint = require_https(url, "the authorization URL") if url else None
        self._state = state or self.new_state()  # type: ignore[no-untyped-call]
        if not isinstance(self._state, str) or not self._state:
            raise ConfigurationError("state must be text (or a callable that returns text)")
        self._code_verifier, challenge = new_pkce()
        link = authorize_url(
            authorize_base() or self.kakao_auth.settings.kauth_url,
            client_id,
            redirect_uri,
            state=self._state,
            code_challenge=challenge,
            scope=self.scope,
            **kwargs,
        )
        return (compat.with_query(endpoint, urlsplit(link).query) if endpoint else link), self._state

    def fetch_token(  # type: ignore[override]
        self,
        token_url: Optional[str] = None,
        code: Optional[str] = None,
        authorization_response: Optional[str] = None,
        body: str = "",
        auth: Any = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        method: str = "POST",
        force_querystring: bool = False,
        timeout: Optional[float] = None,
        headers: Optional[Mapping[str, str]] = None,
        verify: Union[bool, str, None] = None,
        proxies: Optional[Mapping[str, str]] = None,
        include_client_id: Optional[bool] = None,
        client_secret: Optional[str] = None,
        cert: Union[str, tuple[str, str], None] = None,
        *,
        state: Optional[str] = None,
        code_verifier: Optional[str] = None,
    ) -> dict[str, Any]:
        """Exchange the code (or the redirected URL) for tokens and save them to the store.

        OAuth2Session's arguments, in its order; ``state`` and ``code_verifier`` are for a web
        app's callback (a new session object): the redirect's state must match. What Kakao does
        not take (another grant, HTTP Basic client authentication, GET, extra body) is a
        :class:`ConfigurationError`; an unknown keyword is a ``TypeError``.
        """
        compat.only_kakao_grant(body, auth, username, password, method, force_querystring, include_client_id)
        expected = state or self._state
        if authorization_response and not code:
            code = compat.code_from(authorization_response, expected)
        code = code or getattr(self.__dict__.get("_client"), "code", None)
        if not code:
            raise ConfigurationError("pass code= or authorization_response= to fetch_token()")
        client_id = compat.need_client_id(self.client_id)
        secret = (
            self.kakao_auth.settings.client_secret
            if client_secret is None
            else compat.secret_setting(client_secret)
        )
        verifier = code_verifier or self._code_verifier
        form = code_form(client_id, compat.need_redirect_uri(self.redirect_uri), code, secret, verifier)
        # retries=0: the code is single use, a retry after a lost answer could only fail (KOE320).
        endpoint = compat.endpoint_for(
            self, token_url, timeout, headers, compat.request_options(verify, proxies, cert), retries=0
        )
        self.kakao_auth.core.log_in(endpoint, form, client_id=client_id, client_secret=secret)
        return self.token

    def refresh_token(  # type: ignore[override]
        self,
        token_url: Optional[str] = None,
        refresh_token: Optional[str] = None,
        body: str = "",
        auth: Any = None,
        timeout: Optional[float] = None,
        headers: Optional[Mapping[str, str]] = None,
        verify: Union[bool, str, None] = None,
        proxies: Optional[Mapping[str, str]] = None,
        *,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        cert: Union[str, tuple[str, str], None] = None,
        include_client_id: Optional[bool] = None,
    ) -> dict[str, Any]:
        """Refresh now, under the store's lock, with this call's arguments; returns the new token.

        ``refresh_token`` replaces the one held first. ``client_id``/``client_secret`` are what
        OAuth2Session users pass as extra arguments (or ``auto_refresh_kwargs``).
        """
        compat.only_kakao_grant(body, auth, None, None, "POST", False, include_client_id)
        core = self.kakao_auth.core
        endpoint = compat.endpoint_for(
            self, token_url, timeout, headers, compat.request_options(verify, proxies, cert)
        )
        refresher = Refresher(
            core.store if refresh_token is None else compat.GivenRefreshToken(core.store, refresh_token),
            endpoint,
            client_id=compat.client_id_text(client_id) if client_id is not None else self.client_id,
            client_secret=(
                compat.secret_setting(client_secret)
                if client_secret is not None
                else core.refresher._client_secret
            ),
            leeway=core.leeway,
            clock=core.clock,
        )
        held = core.held
        new = refresher.refresh(held.access_token if held else None, force=True)
        core.adopt(new)
        self._updated(new)
        return self.token

    def register_compliance_hook(self, hook_type: str, hook: Callable[..., Any]) -> None:
        """Run ``hook`` where OAuth2Session runs the hooks of ``hook_type``."""
        hooks: Any = self.compliance_hook  # the stubs know three of its five types
        if hook_type not in hooks or not callable(hook):
            kinds = ", ".join(sorted(hooks))
            raise ConfigurationError(f"register_compliance_hook takes a function and one of: {kinds}")
        hooks[hook_type].add(hook)

    def token_from_fragment(self, authorization_response: str) -> dict[str, Any]:
        """The implicit grant, which Kakao's REST API login does not have: always refused."""
        raise ConfigurationError(
            "Kakao's REST API login is the authorization-code grant: use authorization_url() and "
            "fetch_token(), not token_from_fragment()"
        )

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        data: Any = None,
        headers: Any = None,
        withhold_token: bool = False,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        files: Any = None,
        **kwargs: Any,
    ) -> requests.Response:
        """A ``requests.Session.request`` whose token ``self.auth`` (KakaoAuth) attaches.

        The ``protected_request`` compliance hooks run first, as in OAuth2Session. ``client_id``
        and ``client_secret`` are taken for OAuth2Session's signature and not used: nothing of a
        request's arguments goes into a refresh.
        """
        if withhold_token:
            kwargs.setdefault("auth", no_auth)
        else:
            for hook in list(self.compliance_hook["protected_request"]):
                url, headers, data = hook(url, headers, data)
        return requests.Session.request(self, method, url, data=data, headers=headers, files=files, **kwargs)
