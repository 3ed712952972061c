"""What makes KakaoSession an ``OAuth2Session``: its arguments, its hooks, its oauthlib client.

requests-oauthlib's promises kept by :class:`KakaoSession` (session.py) without its code: a
token given as ``token=`` held in memory (:class:`MemoryStore`), a refresh token given alone,
the oauthlib client's ``token``/``access_token`` as views of kakao_auth's token, the compliance
hooks run around each token request (:class:`HookedEndpoint`), ``state`` checked as
``MismatchingStateError`` is, and what Kakao's endpoint does not take refused rather than dropped.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ContextManager, Optional, Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from oauthlib.oauth2 import MismatchingStateError, WebApplicationClient

from ..config import require_https, seconds_setting
from ..errors import ConfigurationError, KakaoAuthError, TokenStoreError
from ..net import exchange
from ..oauth import TokenEndpoint, parse_redirect
from ..stores import Adopt, InMemoryStore, TokenStore
from ..token import Token

if TYPE_CHECKING:
    from .session import KakaoSession

Hooks = Mapping[str, Any]  # OAuth2Session's compliance_hook: hook type -> set of callables
_Outcome = Union[tuple[int, bytes], str]


class StateMismatch(KakaoAuthError, MismatchingStateError):
    """The redirect's ``state`` is not this login's: oauthlib's ``MismatchingStateError`` too."""

    def __init__(self, message: str) -> None:
        MismatchingStateError.__init__(self, description=message)
        Exception.__init__(self, message)  # args: what pickling rebuilds it from

    def __str__(self) -> str:
        return str(self.args[0])


class MemoryStore(InMemoryStore):
    """Where ``token=`` lives without a store or file, as in OAuth2Session: this process only."""

    def __init__(self) -> None:
        super().__init__(
            where="memory (token= without a store; token_updater persists it)",
            empty="holds no token: set session.token, or log in with fetch_token()",
        )


# OAuth2Session's compliance hook types (requests-oauthlib 1.3.1 and later).
HOOK_TYPES = (
    "access_token_response",
    "refresh_token_response",
    "protected_request",
    "refresh_token_request",
    "access_token_request",
)
STAND_IN = "-"  # the access token of a refresh token given alone: replaced by Kakao's answer


class GivenRefreshToken(TokenStore):
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
        base = self._stored if self._stored is not None else Token(access_token=STAND_IN)
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


class ClientView(WebApplicationClient):
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


class HookedEndpoint(TokenEndpoint):
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
        if not str_map(headers) or not str_map(data):
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


def str_map(value: Any) -> bool:
    """Whether ``value`` maps text to text (headers, a form)."""
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def secret_setting(value: object) -> Optional[str]:
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


def request_options(verify: Any, proxies: Any, cert: Any) -> dict[str, Any]:
    """The ``verify``, ``proxies`` and ``cert`` of one token request (requests'), type-checked."""
    options: dict[str, Any] = {}
    if verify is not None:
        if not isinstance(verify, (bool, str)):
            raise ConfigurationError("verify must be True, False or the path of a CA bundle")
        options["verify"] = verify
    if proxies is not None:
        if not str_map(proxies):
            raise ConfigurationError("proxies must map a scheme (or scheme://host) to a proxy URL")
        options["proxies"] = dict(proxies)
    if cert is not None:
        pair = isinstance(cert, tuple) and len(cert) == 2 and all(isinstance(c, str) for c in cert)
        if not (isinstance(cert, str) or pair):
            raise ConfigurationError("cert must be a file path, or a (certificate, key) pair of paths")
        options["cert"] = cert
    return options


def token_from(value: Mapping[str, Any], now: float) -> Token:
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


def client_id_text(value: object) -> str:
    """A client id given to the session, checked as the environment's is."""
    from ..config import client_id_setting

    return client_id_setting(value, "the client id")


def client_settings(
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
    if unknown or not str_map(extra):
        raise ConfigurationError(
            "auto_refresh_kwargs takes client_id and client_secret (text) only: Kakao's refresh "
            "form has no other field"
        )
    ids = {v for v in (client_id, getattr(client, "client_id", None), extra.get("client_id")) if v}
    if len(ids) > 1:
        raise ConfigurationError("client_id, client= and auto_refresh_kwargs name different client ids")
    secret = client_secret if client_secret is not None else extra.get("client_secret")
    return (ids.pop() if ids else None), secret


def check_session_args(
    scope: Any, pkce: Optional[str], token_updater: Any, token: Any, store: Any, token_file: Any
) -> None:
    """Refuse a combination of OAuth2Session's arguments that kakao_auth cannot honour."""
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


def only_kakao_grant(
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


def code_from(authorization_response: str, expected_state: Optional[str]) -> str:
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


def with_query(endpoint: str, query: str) -> str:
    """``endpoint`` with ``query`` after the query it already has."""
    parts = urlsplit(endpoint)
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


def use_hooks(self: KakaoSession, url: str) -> None:
    """Automatic refreshes go to ``url`` and run the refresh compliance hooks, as OAuth2Session's."""
    refresher = self.kakao_auth.core.refresher
    old = refresher.endpoint
    refresher.endpoint = HookedEndpoint(
        url, self.compliance_hook, timeout=old.timeout, retries=old.retries, backoff=old.backoff
    )


def endpoint_for(
    self: KakaoSession,
    url: Optional[str],
    timeout: Optional[float],
    headers: Optional[Mapping[str, str]],
    options: Mapping[str, Any],
    **settings: Any,
) -> HookedEndpoint:
    """The token endpoint for one explicit call: its URL, deadline, headers and TLS settings."""
    if headers is not None and not str_map(headers):
        raise ConfigurationError("headers must map header names to text values")
    old = self.kakao_auth.core.refresher.endpoint
    return HookedEndpoint(
        require_https(url, "token_url") if url else old.url,
        self.compliance_hook,
        headers=headers,
        options=options,
        timeout=seconds_setting(timeout, "timeout") if timeout is not None else old.timeout,
        **{"retries": old.retries, "backoff": old.backoff, **settings},
    )


def need_client_id(client_id: Optional[str]) -> str:
    """``client_id``, or the setting to fix when a login or refresh has none."""
    if not client_id:
        raise ConfigurationError(
            "no client id (the app's REST API key): set KAKAO_REST_API_KEY or pass --client-id "
            "(client_id= in Python)"
        )
    return client_id


def need_redirect_uri(redirect_uri: Any) -> str:
    """``redirect_uri``, or the setting to fix: Kakao refuses a login without it."""
    if not redirect_uri:
        raise ConfigurationError(
            "no redirect URI: pass --redirect-uri (redirect_uri= in Python), one registered for the app"
        )
    return str(redirect_uri)
