"""Log in with Kakao on a website: the authorize redirect and the callback, into a token vault.

::

    login = WebLogin(vault, redirect_uri="https://app.example/auth/kakao/callback",
                     scope=["openid", "profile_nickname", "talk_message"])
    start = login.begin()                                   # redirect the browser to start.url
    session["kakao"] = start.to_dict()                      # kept by the app between the two
    user = login.complete(request.url, session.pop("kakao"))
    user.id, user.claims, user.token

``begin`` sends ``state`` (CSRF), ``nonce`` (OpenID Connect replay) and a PKCE S256 challenge.
``complete`` reads an error first (Kakao may leave ``state`` off an error), then compares the
state in constant time, refuses a start that is too old or already completed in this process,
exchanges the code with the verifier and the client secret in the body (``client_secret_post``,
the only client authentication Kakao takes), verifies the id_token when the login asked for
``openid`` (its ``sub`` is the user id) or asks ``/v2/user/me`` otherwise, and saves the token
in the vault under that id, replacing an older one. Nothing is saved unless every step passed
(../shared/KAKAO.md, "Login: authorization code" and "Web apps").
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Optional, Union
from urllib.parse import parse_qs, urlsplit

from ..api import USER_ME_PATH
from ..config import origin, resolve, seconds_setting
from ..errors import (
    ConfigurationError,
    IdTokenError,
    KakaoApiError,
    KakaoOAuthError,
    KakaoUnavailable,
    LoginDenied,
    LoginStateMismatch,
    TransportFailure,
    printable,
)
from ..net import exchange
from ..oauth import (
    DEFAULT_TIMEOUT,
    TOKEN_PATH,
    TokenEndpoint,
    authorize_url,
    code_form,
    json_object,
    merge_answer,
    new_pkce,
    new_state,
    verify_id_token,
)
from ..token import Token
from .vault import Vault

__all__ = ["PROMPTS", "LoginStart", "LoginUser", "WebLogin"]

PROMPTS = frozenset({"login", "none", "create", "select_account"})
OPENID = "openid"
DEFAULT_MAX_AGE = 1800.0  # seconds a started login may take at Kakao's pages
_REMEMBERED = 100_000  # completed states kept per process against replay (oldest dropped)

# A consent item: Kakao's are lower-case words joined by underscores (talk_message, openid).
_SCOPE_ITEM = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
# state, nonce and the PKCE verifier are ours (token_urlsafe); the code is Kakao's base64url.
_OURS = re.compile(r"[A-Za-z0-9_\-]{16,128}")
_CODE = re.compile(r"[A-Za-z0-9_\-.~]{1,1024}")
_ERROR = re.compile(r"[A-Za-z0-9_]{1,64}")
_USER_ID = re.compile(r"[0-9]{1,20}")
_CALLBACK_FIELDS = ("code", "state", "error", "error_description")

CallbackInput = Union[str, Mapping[str, Any]]


@dataclasses.dataclass(frozen=True)
class LoginStart:
    """One login in progress: the URL to send the browser to, and what the callback is checked with.

    Keep it between ``begin`` and ``complete`` (``to_dict()`` gives a JSON-able dict for the
    app's session; ``from_dict`` restores it). It holds the PKCE verifier: keep it server-side or
    in a signed session, never in the page.
    """

    url: str = dataclasses.field(repr=False)  # its query holds the state, nonce and challenge
    state: str = dataclasses.field(repr=False)
    nonce: str = dataclasses.field(repr=False)
    code_verifier: str = dataclasses.field(repr=False)
    scope: tuple[str, ...] = ()
    started_at: float = 0.0

    def __repr__(self) -> str:
        # Only where the URL leads: its query holds the state, the nonce and the PKCE challenge.
        try:
            path = urlsplit(self.url).path
        except ValueError:
            path = ""
        where = origin(self.url) + printable(path, 200, hide_tokens=False)
        return f"LoginStart(url={where!r}, scope={self.scope!r}, started_at={self.started_at!r})"

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict of this start (for ``session["kakao"]``)."""
        return {
            "url": self.url,
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.code_verifier,
            "scope": list(self.scope),
            "started_at": self.started_at,
        }

    @classmethod
    def from_dict(cls, data: Any) -> LoginStart:
        """The start ``to_dict`` gave; :class:`LoginStateMismatch` for anything else.

        The dict comes back from a session, a cookie or a cache: every field is checked.
        """
        if not isinstance(data, Mapping):
            raise LoginStateMismatch("no Kakao login is in progress in this session: start the login again")
        url, scope, started = data.get("url"), data.get("scope"), data.get("started_at")
        texts = [data.get(name) for name in ("state", "nonce", "code_verifier")]
        ok = (
            isinstance(url, str)
            and len(url) <= 8192
            and all(isinstance(t, str) and _OURS.fullmatch(t) for t in texts)
            and isinstance(scope, list)
            and all(isinstance(s, str) and _SCOPE_ITEM.fullmatch(s) for s in scope)
            and isinstance(started, (int, float))
            and not isinstance(started, bool)
            and 0 <= started < 32503680000
        )
        if not ok:
            raise LoginStateMismatch(
                "the saved Kakao login is not one WebLogin.begin made: start the login again"
            )
        state, nonce, verifier = (str(t) for t in texts)
        return cls(str(url), state, nonce, verifier, tuple(scope), float(started))  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class LoginUser:
    """A completed login: Kakao's user ``id`` (str), the verified id_token ``claims``, the saved ``token``.

    Without ``openid`` in the scope there is no id_token: ``claims`` is then ``{"sub": id}``.
    """

    id: str
    claims: dict[str, Any] = dataclasses.field(repr=False)
    token: Token


# What complete() takes as the start: the LoginStart, or its to_dict() back from the session.
StartInput = Union[LoginStart, Mapping[str, Any], None]


class WebLogin:
    """Kakao Login for a web app: ``begin`` for the redirect, ``complete`` in the callback.

    ``vault``: where users' tokens are kept (``kakao_auth.TokenVault``). ``redirect_uri``: the
    callback URL, registered for the app under Kakao Login > Redirect URI. ``scope``: the consent
    items to ask for; with ``openid`` the login is OpenID Connect and its id_token is verified.
    Options: ``client_id``, ``client_secret``, ``kauth_url``, ``kapi_url`` (else the environment,
    as everywhere in kakao_auth); ``audience``, more app keys an id_token may be issued for;
    ``timeout`` (seconds for each exchange with Kakao); ``max_age`` (seconds a login may take
    between ``begin`` and ``complete``); ``leeway`` (clock skew for the id_token's times).
    """

    def __init__(
        self,
        vault: Vault,
        *,
        redirect_uri: str,
        scope: Optional[Iterable[str]] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        kauth_url: Optional[str] = None,
        kapi_url: Optional[str] = None,
        audience: Union[str, Collection[str]] = (),
        timeout: float = DEFAULT_TIMEOUT,
        max_age: float = DEFAULT_MAX_AGE,
        leeway: float = 60,
    ) -> None:
        settings = resolve(client_id, client_secret, kauth_url, kapi_url)
        if not settings.client_id:
            raise ConfigurationError(
                "no client id (the app's REST API key): set KAKAO_REST_API_KEY or pass client_id="
            )
        self.vault = vault
        self.redirect_uri = _redirect_uri(redirect_uri)
        self.scope = _scope_items(scope)
        self.client_id: str = settings.client_id
        self.settings = settings
        self.audience = [self.client_id, *(a for a in _more_audiences(audience) if a != self.client_id)]
        self.timeout = seconds_setting(timeout, "timeout")
        self.max_age = seconds_setting(max_age, "max_age")
        self.leeway = seconds_setting(leeway, "leeway", zero=True)
        self._completed: OrderedDict[str, float] = OrderedDict()  # state -> when it expires
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WebLogin(redirect_uri={self.redirect_uri!r}, scope={list(self.scope)!r})"

    @property
    def uses_oidc(self) -> bool:
        """Whether the login is OpenID Connect (``openid`` in its scope)."""
        return OPENID in self.scope

    def begin(self, scope: Optional[Iterable[str]] = None, prompt: Optional[str] = None) -> LoginStart:
        """A new login: the authorize URL (``.url``) and what its callback is checked with.

        ``scope``: ask for these consent items instead of the login's (``ConsentRequired``'s
        ``required_scopes`` for additional consent; ``openid`` is added when the login uses
        OpenID Connect, or Kakao issues no new id_token). ``prompt``: Kakao's ``login``,
        ``none``, ``create`` or ``select_account``.
        """
        items = self.scope if scope is None else _scope_items(scope)
        if self.uses_oidc and OPENID not in items:
            items = (OPENID, *items)
        extra = {"nonce": secrets.token_urlsafe(24)}
        if prompt is not None:
            if prompt not in PROMPTS:
                raise ConfigurationError(f"prompt must be one of {', '.join(sorted(PROMPTS))}")
            extra["prompt"] = prompt
        state = new_state()
        verifier, challenge = new_pkce()
        url = authorize_url(
            self.settings.kauth_url,
            self.client_id,
            self.redirect_uri,
            state=state,
            code_challenge=challenge,
            scope=list(items),
            **extra,
        )
        return LoginStart(url, state, extra["nonce"], verifier, items, time.time())

    def complete(self, url_or_query: CallbackInput, start: StartInput) -> LoginUser:
        """Finish the login from its callback (the URL, its query string or its query mapping).

        Raises :class:`LoginDenied` when the user cancelled, :class:`KakaoOAuthError` for
        Kakao's other authorize errors and a refused code, :class:`LoginStateMismatch` for a
        callback this login did not start (or one already completed), :class:`IdTokenError`
        for an id_token that fails a check, :class:`KakaoUnavailable` when Kakao cannot be
        reached. The vault is written only when every check passed.
        """
        begun = start if isinstance(start, LoginStart) else LoginStart.from_dict(start)
        params = _callback_params(url_or_query)
        _raise_authorize_error(params)
        given = params.get("state", "")
        if not hmac.compare_digest(given.encode(), begun.state.encode()):
            raise LoginStateMismatch(
                "the Kakao callback's state is not this login's (a stale tab or a forged link): "
                "start the login again"
            )
        code = params.get("code", "")
        if not _CODE.fullmatch(code):
            raise LoginStateMismatch("the Kakao callback carries no usable code: start the login again")
        self._consume(begun)
        answer, issued = self._exchange(code, begun.code_verifier)
        user_id, claims = self._identify(answer, begun)
        token = merge_answer(None, answer, issued, client_id=self.client_id)
        self.vault.save(user_id, token)
        return LoginUser(user_id, claims, token)

    def _consume(self, begun: LoginStart) -> None:
        """Mark ``begun`` as completed; refuse it when it is too old or was completed before."""
        now = time.time()
        if not (begun.started_at <= now + 60 and now - begun.started_at <= self.max_age):
            raise LoginStateMismatch("this Kakao login was started too long ago: start the login again")
        with self._lock:
            while self._completed and (
                next(iter(self._completed.values())) < now or len(self._completed) >= _REMEMBERED
            ):
                self._completed.popitem(last=False)
            if begun.state in self._completed:
                raise LoginStateMismatch("this Kakao login was already completed (a replayed callback)")
            self._completed[begun.state] = begun.started_at + self.max_age

    def _exchange(self, code: str, verifier: str) -> tuple[dict[str, Any], float]:
        form = code_form(self.client_id, self.redirect_uri, code, self.settings.client_secret, verifier)
        # retries=0: the code is single use, a retry after a lost answer could only fail (KOE320).
        endpoint = TokenEndpoint(self.settings.kauth_url + TOKEN_PATH, timeout=self.timeout, retries=0)
        issued = time.time()
        return endpoint.post(form), issued

    def _identify(self, answer: Mapping[str, Any], begun: LoginStart) -> tuple[str, dict[str, Any]]:
        """The user id and claims the login's answer proves: the id_token's, else /v2/user/me's."""
        if OPENID in begun.scope:
            id_token = answer.get("id_token")
            if not isinstance(id_token, str):
                raise IdTokenError(
                    "presence", "Kakao's answer carries no id_token although openid was asked for"
                )
            claims = verify_id_token(
                id_token,
                audience=self.audience,
                nonce=begun.nonce,
                issuer=self.settings.kauth_url,
                leeway=self.leeway,
            )
            sub = claims.get("sub")
            if not isinstance(sub, str) or not _USER_ID.fullmatch(sub):
                raise IdTokenError("sub", "its sub is not a Kakao user id")
            return sub, claims
        user_id = self._user_me(str(answer.get("access_token", "")))
        return user_id, {"sub": user_id}

    def _user_me(self, access_token: str) -> str:
        url = self.settings.kapi_url + USER_ME_PATH
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        outcome = exchange("GET", url, self.timeout, headers=headers)
        if isinstance(outcome, str):
            raise KakaoUnavailable(
                f"cannot reach Kakao's API for the user id ({outcome}); try again later"
            ) from TransportFailure(outcome)
        status, body = outcome
        data = json_object(body)
        if status != 200 or data is None:
            raise KakaoApiError.from_answer(status, data)
        return _user_id(data.get("id"))


def _user_id(value: Any) -> str:
    """Kakao's user id (a positive number, sent as a number or a digit string) as a str."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _USER_ID.fullmatch(value) or int(value) <= 0:
        raise KakaoUnavailable("Kakao's answer names no user id; try again later")
    return value


def _more_audiences(audience: Any) -> list[str]:
    """More app keys an id_token may be issued for: a str is one key (never its characters)."""
    if isinstance(audience, str):
        audience = [audience]
    elif isinstance(audience, (bytes, Mapping)) or not isinstance(audience, Collection):
        audience = [None]  # bytes, a dict or a number: refused below
    if not all(isinstance(a, str) and a and a.isprintable() and len(a) <= 128 for a in audience):
        raise ConfigurationError("audience must be an app key (a str) or a list of app keys")
    return list(dict.fromkeys(audience))


def _redirect_uri(uri: Any) -> str:
    try:
        parts = urlsplit(uri) if isinstance(uri, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not uri.isprintable():
        raise ConfigurationError("redirect_uri must be the http(s) callback URL registered for the app")
    return str(uri)


def _scope_items(scope: Optional[Iterable[str]]) -> tuple[str, ...]:
    """Consent items from a list, or from a string separated by commas or spaces."""
    if scope is None:
        return ()
    items = scope.replace(",", " ").split() if isinstance(scope, str) else list(scope)
    for item in items:
        if not isinstance(item, str) or not _SCOPE_ITEM.fullmatch(item):
            raise ConfigurationError("scope items are Kakao consent item ids, such as talk_message")
    return tuple(dict.fromkeys(items))  # once each, in order


def _callback_params(given: CallbackInput) -> dict[str, str]:
    """The callback's fields (code, state, error...): one value each, or the callback is refused."""
    if isinstance(given, str):
        query = urlsplit(given).query if "?" in given else given
        mapping: Mapping[str, Any] = parse_qs(query[:16384], keep_blank_values=True)
    elif isinstance(given, Mapping):
        mapping = given
    else:
        raise ConfigurationError("complete() takes the callback URL, its query string or its query mapping")
    params: dict[str, str] = {}
    for name in _CALLBACK_FIELDS:
        values = _values(mapping, name)
        if len(values) > 1:  # a second code or state smuggled in: which one would be checked?
            raise LoginStateMismatch(f"the Kakao callback has {name} more than once: start the login again")
        if values:
            params[name] = values[0]
    return params


def _values(mapping: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(mapping, "getlist", None)  # Werkzeug's MultiDict, Django's QueryDict
    raw = getlist(name) if callable(getlist) else mapping.get(name)
    if raw is None:
        return []
    listed = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    return [v if isinstance(v, str) else "" for v in listed]


def _raise_authorize_error(params: Mapping[str, str]) -> None:
    """Kakao's authorize error, typed; read before the state, which an error may lack."""
    error = params.get("error")
    if error is None:
        return
    error = error if _ERROR.fullmatch(error) else "unknown_error"
    description = printable(params.get("error_description", ""), 120) or None
    if error == "access_denied":
        raise LoginDenied(error, None, description)
    raise KakaoOAuthError(error, None, description)
