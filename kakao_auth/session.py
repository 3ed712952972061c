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

import contextlib
import dataclasses
import math
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from typing import Any, Callable, ContextManager, Optional, TypeVar, Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from oauthlib.oauth2 import MismatchingStateError, WebApplicationClient
from requests_oauthlib import OAuth2Session

from .auth import KakaoAuth
from .config import authorize_base, require_https, seconds_setting
from .errors import ConfigurationError, KakaoAuthError, TokenStoreError
from .memo import MEMO_PATH, send, text_template
from .net import exchange, no_auth
from .oauth import TOKEN_PATH, TokenEndpoint, authorize_url, code_form, new_pkce, new_state, parse_redirect
from .refresh import Refresher
from .stores import Adopt, PathLike, TokenStore, open_store
from .token import Token

__all__ = ["KakaoSession"]

_S = TypeVar("_S", bound="KakaoSession")
Hooks = Mapping[str, Any]  # OAuth2Session's compliance_hook: hook type -> set of callables
_Outcome = Union[tuple[int, bytes], str]


class StateMismatch(KakaoAuthError, MismatchingStateError):
    """The redirect's ``state`` is not this login's: oauthlib's ``MismatchingStateError`` too."""

    def __init__(self, message: str) -> None:
        MismatchingStateError.__init__(self, description=message)
        Exception.__init__(self, message)  # args: what pickling rebuilds it from

    def __str__(self) -> str:
        return str(self.args[0])


class _MemoryStore(TokenStore):
    """Where ``token=`` lives without a store or file, as in OAuth2Session: this process only."""

    def __init__(self) -> None:
        self.token: Optional[Token] = None
        self._lock = threading.RLock()

    @property
    def location(self) -> str:
        return "memory (token= without a store; token_updater persists it)"

    def load(self) -> Token:
        if self.token is None:
            raise self.error("holds no token: set session.token, or log in with fetch_token()")
        return self.token

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        self.token = token

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=60):
            raise TokenStoreError("timed out waiting for the in-memory token's lock; try again")
        try:
            yield
        finally:
            self._lock.release()

    def delete(self) -> None:
        self.token = None


# OAuth2Session's compliance hook types (requests-oauthlib 1.3.1 and later).
_HOOK_TYPES = (
    "access_token_response",
    "refresh_token_response",
    "protected_request",
    "refresh_token_request",
    "access_token_request",
)
_STAND_IN = "-"  # the access token of a refresh token given alone: replaced by Kakao's answer


class _GivenRefreshToken(TokenStore):
    """``store`` as one ``refresh_token(refresh_token=...)`` call sees it: holding that refresh token.

    The refresh then takes the store's one path (its lock, a save before letting go), and the
    store changes only once Kakao has answered: a refresh token Kakao refuses is never saved.
    """

    def __init__(self, store: TokenStore, refresh_token: str) -> None:
        self._store = store
        self._refresh_token = refresh_token
        self._stored: Optional[Token] = None  # what the store held, for a fenced save

    @property
    def location(self) -> str:
        return self._store.location

    def load(self) -> Token:
        try:
            self._stored = self._store.load()
        except TokenStoreError:  # nothing stored yet (a new session): the refresh token is all
            self._stored = None
        # A stand-in access token when nothing is stored: the answer replaces it, it is never sent.
        base = self._stored if self._stored is not None else Token(access_token=_STAND_IN)
        try:
            return dataclasses.replace(base, refresh_token=self._refresh_token)
        except (TypeError, ValueError) as e:
            raise ConfigurationError(f"the refresh token given is not usable: {e}") from None

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        self._store.save(token, previous=self._stored)

    def lock(self) -> ContextManager[None]:
        return self._store.lock()

    def lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        return self._store.lock_or_adopt(adopt)

    def check_writable(self) -> None:
        self._store.check_writable()

    def delete(self) -> None:
        self._store.delete()

    def error(self, problem: str) -> TokenStoreError:
        return self._store.error(problem)


class _ClientView(WebApplicationClient):
    """The session's oauthlib client (``_client``), whose token is the session's own.

    OAuth2Session keeps its token on its oauthlib client, and code reaches it there
    (``session._client.access_token = ...``); here what is set there is set on the session, and
    what is read there is the token the session holds.
    """

    def __init__(self, session: KakaoSession, client_id: Optional[str], code: Optional[str] = None) -> None:
        self.__dict__["_session"] = None  # oauthlib's __init__ assigns the token fields: not ours yet
        super().__init__(client_id, code=code)  # type: ignore[arg-type]  # None, as OAuth2Session allows
        self.__dict__["_session"] = weakref.ref(session)

    def _owner(self) -> Optional[KakaoSession]:
        ref = self.__dict__.get("_session")
        return ref() if ref is not None else None

    @property
    def access_token(self) -> Optional[str]:
        owner = self._owner()
        return owner.access_token if owner is not None else None

    @access_token.setter
    def access_token(self, value: Optional[str]) -> None:
        owner = self._owner()
        if owner is not None:
            owner.access_token = value

    @property
    def token(self) -> dict[str, Any]:
        owner = self._owner()
        return owner.token if owner is not None else {}

    @token.setter
    def token(self, value: Optional[Mapping[str, Any]]) -> None:
        owner = self._owner()
        if owner is not None:
            owner.token = value


class _HookedEndpoint(TokenEndpoint):
    """The token endpoint, with OAuth2Session's compliance hooks and one call's own options.

    ``options`` (``verify``, ``proxies``, ``cert``) are the explicit arguments of one
    ``fetch_token``/``refresh_token`` call, never a request's: an automatic refresh has none.
    """

    def __init__(
        self,
        url: str,
        hooks: Hooks,
        *,
        headers: Optional[Mapping[str, str]] = None,
        options: Optional[Mapping[str, Any]] = None,
        **settings: Any,
    ) -> None:
        super().__init__(url, **settings)
        self._hooks = hooks
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._options = dict(options or {})

    def _exchange(self, form: Mapping[str, str]) -> _Outcome:
        kind = "access_token" if form.get("grant_type") == "authorization_code" else "refresh_token"
        url, headers, data = self._before(kind, dict(form))
        outcome = exchange("POST", url, self.timeout, data=data, headers=headers, **self._options)
        return outcome if isinstance(outcome, str) else self._after(kind, url, outcome)

    def _before(self, kind: str, form: dict[str, str]) -> tuple[str, dict[str, str], dict[str, str]]:
        """The ``*_token_request`` hooks, given what OAuth2Session gives them; their result checked."""
        url, headers = self.url, dict(self._headers)
        data: Any = form
        for hook in list(self._hooks[f"{kind}_request"]):
            if kind == "access_token":  # (url, headers, request kwargs)
                url, headers, kwargs = hook(url, headers, {"data": data})
                data = kwargs.get("data") if isinstance(kwargs, Mapping) else None
            else:  # (url, headers, urlencoded body)
                url, headers, body = hook(url, headers, urlencode(data))
                data = dict(parse_qsl(body)) if isinstance(body, str) else None
        if not _str_map(headers) or not _str_map(data):
            raise ConfigurationError(
                f"a {kind}_request compliance hook returned headers or a form that are not text"
            )
        return require_https(url, f"the URL a {kind}_request compliance hook returned"), headers, data

    def _after(self, kind: str, url: str, outcome: tuple[int, bytes]) -> tuple[int, bytes]:
        """The ``*_token_response`` hooks, on the answer as a ``requests.Response``."""
        hooks = list(self._hooks[f"{kind}_response"])
        if not hooks:
            return outcome
        response = requests.Response()
        response.status_code, response._content, response.url = outcome[0], outcome[1], url
        response.encoding = "utf-8"
        for hook in hooks:
            response = hook(response)
        if not isinstance(response, requests.Response) or not isinstance(response.content, bytes):
            raise ConfigurationError(f"a {kind}_response compliance hook returned no requests.Response")
        return response.status_code, response.content


def _str_map(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _secret_setting(value: object) -> Optional[str]:
    """An explicit ``client_secret``: text without blanks ("" sends none); never shown."""
    if not isinstance(value, str) or (value.strip() and not value.strip().isprintable()):
        raise ConfigurationError("client_secret must be the app's client secret as text")
    secret = value.strip()
    if any(c.isspace() or not c.isascii() for c in secret) or len(secret) > 512:
        raise ConfigurationError(
            "client_secret is not a Kakao client secret: copy it again from the Kakao console "
            "(Security > Client Secret)"
        )
    return secret or None


def _request_options(verify: Any, proxies: Any, cert: Any) -> dict[str, Any]:
    """The ``verify``, ``proxies`` and ``cert`` of one token request (requests'), type-checked."""
    options: dict[str, Any] = {}
    if verify is not None:
        if not isinstance(verify, (bool, str)):
            raise ConfigurationError("verify must be True, False or the path of a CA bundle")
        options["verify"] = verify
    if proxies is not None:
        if not _str_map(proxies):
            raise ConfigurationError("proxies must map a scheme (or scheme://host) to a proxy URL")
        options["proxies"] = dict(proxies)
    if cert is not None:
        pair = isinstance(cert, tuple) and len(cert) == 2 and all(isinstance(c, str) for c in cert)
        if not (isinstance(cert, str) or pair):
            raise ConfigurationError("cert must be a file path, or a (certificate, key) pair of paths")
        options["cert"] = cert
    return options


def _token_from(value: Mapping[str, Any], now: float) -> Token:
    """A token a caller set, as oauthlib reads one: numbers may be text, ``expires_in`` negative.

    A field that fails a check is a ConfigurationError naming the field, never its value.
    """
    if not isinstance(value, Mapping):
        raise ConfigurationError("a token is a dict with at least access_token")
    data = dict(value)
    for name in ("expires_in", "expires_at", "refresh_token_expires_in", "refresh_token_expires_at"):
        if isinstance(data.get(name), str):
            try:
                data[name] = float(data[name])
            except ValueError:
                raise ConfigurationError(f"the token's {name} is not a number") from None
    lifetime = data.get("expires_in")
    if isinstance(lifetime, (int, float)) and not isinstance(lifetime, bool) and lifetime < 0:
        data.pop("expires_in")  # already expired, as oauthlib reads it
        if math.isfinite(lifetime):
            data.setdefault("expires_at", max(0.0, now + lifetime))
    try:
        return Token.from_dict(data, issued_at=now)
    except ValueError as e:
        raise ConfigurationError(f"the token set is not usable: {e}") from None


class KakaoSession(OAuth2Session):
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
        client_id, client_secret = _client_settings(client_id, client, client_secret, auto_refresh_kwargs)
        if token is None and isinstance(client, WebApplicationClient):
            token = client.token or None  # OAuth2Session takes the client's token too
        _check_session_args(scope, pkce, token_updater, token, store, token_file)
        if store is None:
            memory = token_file is None and (token is not None or token_updater is not None)
            store = _MemoryStore() if memory else open_store(token_file, client_id=client_id)
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
        for kind in _HOOK_TYPES:  # requests-oauthlib 1.3.0 has three of the five
            hooks.setdefault(kind, set())
        self.auth = self.kakao_auth
        # The oauthlib client holds the client id (and a code given with it); the token is ours.
        self._client = _ClientView(self, settings.client_id, getattr(client, "code", None))
        if state is None:
            self.state = new_state  # 32 characters of secrets.token_urlsafe, not oauthlib's 30
        self._use_hooks(refresh_url or settings.kauth_url + TOKEN_PATH)
        self.kakao_auth.core.on_update = self._updated
        if token:
            self.token = dict(token)

    def _use_hooks(self, url: str) -> None:
        """Automatic refreshes go to ``url`` and run the refresh compliance hooks, as OAuth2Session's."""
        refresher = self.kakao_auth.core.refresher
        old = refresher.endpoint
        refresher.endpoint = _HookedEndpoint(
            url, self.compliance_hook, timeout=old.timeout, retries=old.retries, backoff=old.backoff
        )

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
            value = _client_id_setting(value)
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
        """Use ``value`` from now on, and refresh it when due (saved to the store, if any)."""
        if "kakao_auth" not in self.__dict__:
            return  # OAuth2Session.__init__ assigns {}: the token comes from __init__'s own code
        if not value:
            self._forget()
            return
        self._set(_token_from(value, time.time()), dict(value))

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
        """Hold ``token`` set by hand, through the one write path (the store, when there is one)."""
        self._token_set = (token, given)
        self.kakao_auth.core.save(token)

    def _forget(self) -> None:
        """Hold no token; an in-memory one is dropped, a store's stays where it is."""
        self._token_set = None
        store = self.kakao_auth.store
        if isinstance(store, _MemoryStore):
            store.delete()
        self.kakao_auth.core.forget()

    def _updated(self, token: Token) -> None:
        """A refresh or a login brought ``token``: hand it to ``token_updater``, as OAuth2Session does."""
        updater = self.__dict__.get("token_updater")
        if updater is not None:
            data = token.to_dict(time.time())
            data.pop("client_secret", None)
            updater(data)

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
        client_id = self._require_client_id()
        redirect_uri = self._require_redirect_uri()
        if not _str_map(kwargs):
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
        return (_with_query(endpoint, urlsplit(link).query) if endpoint else link), self._state

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
        _only_kakao_grant(body, auth, username, password, method, force_querystring, include_client_id)
        expected = state or self._state
        if authorization_response and not code:
            code = _code_from(authorization_response, expected)
        code = code or getattr(self.__dict__.get("_client"), "code", None)
        if not code:
            raise ConfigurationError("pass code= or authorization_response= to fetch_token()")
        client_id = self._require_client_id()
        secret = (
            self.kakao_auth.settings.client_secret
            if client_secret is None
            else _secret_setting(client_secret)
        )
        verifier = code_verifier or self._code_verifier
        form = code_form(client_id, self._require_redirect_uri(), code, secret, verifier)
        # retries=0: the code is single use, a retry after a lost answer could only fail (KOE320).
        endpoint = self._endpoint(
            token_url, timeout, headers, _request_options(verify, proxies, cert), retries=0
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
        _only_kakao_grant(body, auth, None, None, "POST", False, include_client_id)
        core = self.kakao_auth.core
        endpoint = self._endpoint(token_url, timeout, headers, _request_options(verify, proxies, cert))
        refresher = Refresher(
            core.store if refresh_token is None else _GivenRefreshToken(core.store, refresh_token),
            endpoint,
            client_id=_client_id_setting(client_id) if client_id is not None else self.client_id,
            client_secret=(
                _secret_setting(client_secret) if client_secret is not None else core.refresher._client_secret
            ),
            leeway=core.leeway,
            clock=core.clock,
        )
        held = core.held
        new = refresher.refresh(held.access_token if held else None, force=True)
        core.adopt(new)
        self._updated(new)
        return self.token

    def _endpoint(
        self,
        url: Optional[str],
        timeout: Optional[float],
        headers: Optional[Mapping[str, str]],
        options: Mapping[str, Any],
        **settings: Any,
    ) -> _HookedEndpoint:
        """The token endpoint for one explicit call: its URL, deadline, headers and TLS settings."""
        if headers is not None and not _str_map(headers):
            raise ConfigurationError("headers must map header names to text values")
        old = self.kakao_auth.core.refresher.endpoint
        return _HookedEndpoint(
            require_https(url, "token_url") if url else old.url,
            self.compliance_hook,
            headers=headers,
            options=options,
            timeout=seconds_setting(timeout, "timeout") if timeout is not None else old.timeout,
            **{"retries": old.retries, "backoff": old.backoff, **settings},
        )

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

    def send_memo(
        self, text: str, *, link: Optional[str] = None, button: Optional[str] = None
    ) -> dict[str, Any]:
        """Send yourself a KakaoTalk message ("나와의 채팅"); return Kakao's answer.

        ``text``: at most 200 characters (longer text is refused before the call, never cut);
        ``link``: an http(s) URL to open (Kakao opens only domains registered for the app);
        ``button``: the button's title instead of "자세히 보기". Raises :class:`KakaoApiError`
        when Kakao refuses (-402: the ``talk_message`` consent is missing, and the message says
        which ``kakao-auth login --scope`` to run), :class:`KakaoUnavailable` when Kakao cannot be
        reached or is too slow (the call is bounded: 30 s, 64 KiB), :class:`ConfigurationError`
        when its certificate is not trusted here.
        """
        template = text_template(text, link=link, button=button)
        return send(self, self.kakao_auth.settings.kapi_url + MEMO_PATH, template)

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

    def _require_client_id(self) -> str:
        client_id = self.client_id
        if not client_id:
            raise ConfigurationError(
                "no client id (the app's REST API key): set KAKAO_REST_API_KEY or pass --client-id "
                "(client_id= in Python)"
            )
        return client_id

    def _require_redirect_uri(self) -> str:
        if not self.redirect_uri:
            raise ConfigurationError(
                "no redirect URI: pass --redirect-uri (redirect_uri= in Python), one registered for the app"
            )
        return str(self.redirect_uri)


def _client_id_setting(value: object) -> str:
    from .config import client_id_setting

    return client_id_setting(value, "the client id")


def _client_settings(
    client_id: Optional[str],
    client: Any,
    client_secret: Optional[str],
    auto_refresh_kwargs: Optional[Mapping[str, str]],
) -> tuple[Optional[str], Optional[str]]:
    """The client id and secret from the arguments, ``client=`` and ``auto_refresh_kwargs``."""
    if isinstance(client, str):
        raise ConfigurationError(
            "KakaoSession's second argument is client=, as in OAuth2Session: pass the secret as "
            "client_secret=..."
        )
    if client is not None and not isinstance(client, WebApplicationClient):
        raise ConfigurationError(
            "client= must be an oauthlib WebApplicationClient: Kakao's REST API login is the "
            "authorization-code grant only"
        )
    extra = dict(auto_refresh_kwargs or {})
    unknown = sorted(set(extra) - {"client_id", "client_secret"})
    if unknown or not _str_map(extra):
        raise ConfigurationError(
            "auto_refresh_kwargs takes client_id and client_secret (text) only: Kakao's refresh "
            "form has no other field"
        )
    ids = {v for v in (client_id, getattr(client, "client_id", None), extra.get("client_id")) if v}
    if len(ids) > 1:
        raise ConfigurationError("client_id, client= and auto_refresh_kwargs name different client ids")
    secret = client_secret if client_secret is not None else extra.get("client_secret")
    return (ids.pop() if ids else None), secret


def _check_session_args(
    scope: Any, pkce: Optional[str], token_updater: Any, token: Any, store: Any, token_file: Any
) -> None:
    items = isinstance(scope, (list, tuple)) and all(isinstance(item, str) for item in scope)
    if not (scope is None or isinstance(scope, str) or items):
        raise ConfigurationError("scope must be Kakao's consent items: a string, or a list of strings")
    if pkce not in (None, "S256"):
        raise ConfigurationError("pkce must be 'S256' (always on) or None: Kakao checks S256 only")
    if token_updater is not None and not callable(token_updater):
        raise ConfigurationError("token_updater must be a function that takes the new token (a dict)")
    if token is not None and (store is not None or token_file is not None):
        # A saved token= could be older than the store's, whose refresh token Kakao may have rotated.
        raise ConfigurationError(
            "pass token= or a store (store=, token_file=), not both: the store is the truth"
        )


def _only_kakao_grant(
    body: Any, auth: Any, username: Any, password: Any, method: Any, querystring: Any, include_client_id: Any
) -> None:
    """Refuse what Kakao's token endpoint does not take, rather than drop it without a word."""
    if username is not None or password is not None:
        raise ConfigurationError(
            "Kakao has no password grant (username=, password=): log in with authorization_url()"
        )
    if auth is not None or include_client_id is False:
        raise ConfigurationError(
            "Kakao takes the client id and secret in the form only: no auth= (HTTP Basic), no "
            "include_client_id=False; pass client_secret="
        )
    if include_client_id not in (None, True):
        raise ConfigurationError("include_client_id must be True or None")
    if not isinstance(method, str) or method.upper() != "POST" or querystring:
        raise ConfigurationError(
            "Kakao's token endpoint takes a POST form only (method=, force_querystring=)"
        )
    if body:
        raise ConfigurationError("Kakao's token form has no extra fields (body=)")


def _code_from(authorization_response: str, expected_state: Optional[str]) -> str:
    """The code in the redirected URL; a state that is not this login's is a StateMismatch."""
    if not isinstance(authorization_response, str):
        raise ConfigurationError("authorization_response must be the redirected URL (text)")
    text = authorization_response.strip()
    bare = "?" not in text and "=" not in text  # a pasted code alone: no state to compare
    params = dict(parse_qsl(urlsplit(text).query or text))
    if (
        not bare
        and "error" not in params
        and expected_state is not None
        and params.get("state") != expected_state
    ):
        raise StateMismatch(
            "the redirect's state does not match this login (a stale or forged redirect); "
            "start the login again"
        )
    return parse_redirect(authorization_response, expected_state)


def _with_query(endpoint: str, query: str) -> str:
    """``endpoint`` with ``query`` after the query it already has."""
    parts = urlsplit(endpoint)
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))
