"""KakaoSession: a requests-oauthlib ``OAuth2Session`` whose requests go through KakaoAuth.

It is a real ``OAuth2Session`` (``authorization_url``, ``fetch_token``, ``refresh_token``,
``token``, ``authorized``), but the token is attached by ``self.auth``, a :class:`KakaoAuth`, so
``prepare_request()`` + ``send()`` is covered too and requests-oauthlib's ``TokenExpiredError`` /
``TokenUpdated`` never reach the caller. Token requests go to Kakao through kakao_auth's own
endpoint client, which logs no token, code or secret (requests-oauthlib's would, at DEBUG).
"""

from __future__ import annotations

import time
from typing import Any, Optional, TypeVar

import requests
from requests_oauthlib import OAuth2Session

from .auth import KakaoAuth
from .errors import ConfigurationError
from .login import AUTHORIZE_PATH, Scope, authorize_url, new_pkce, new_state, parse_redirect
from .memo import MEMO_PATH, send, text_template
from .oauth import DEFAULT_TIMEOUT, TOKEN_PATH, TokenEndpoint, code_form, no_auth
from .store import PathLike, TokenStore
from .stores import open_store
from .token import Token

__all__ = ["KakaoSession"]

_S = TypeVar("_S", bound="KakaoSession")


class KakaoSession(OAuth2Session):
    """A session for kapi.kakao.com that logs in, attaches and refreshes the token itself.

    ``KakaoSession.from_file(path)`` for scripts; ``KakaoSession(client_id, redirect_uri=...)``
    to log in (``authorization_url()`` then ``fetch_token(...)``, which saves the token file).
    ``options`` are :class:`KakaoAuth`'s (``kauth_url``, ``kapi_url``, ``leeway``, ``timeout``...).
    """

    def __init__(
        self,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        *,
        redirect_uri: Optional[str] = None,
        scope: Scope = None,
        token_file: Optional[PathLike] = None,
        store: Optional[TokenStore] = None,
        state: Optional[str] = None,
        **options: Any,
    ) -> None:
        store = store if store is not None else open_store(token_file, client_id=client_id)
        # The settings are resolved once, by KakaoAuth; the session reads them from it.
        self.kakao_auth = KakaoAuth(store, client_id=client_id, client_secret=client_secret, **options)
        settings = self.kakao_auth.settings
        super().__init__(client_id=settings.client_id, redirect_uri=redirect_uri, scope=scope, state=state)
        self.auth = self.kakao_auth
        self._code_verifier: Optional[str] = None
        self._timeout = float(options.get("timeout", DEFAULT_TIMEOUT))

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
        session = cls(client_id, client_secret, store=store, **options)
        session.kakao_auth.reload()
        return session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} store={self.kakao_auth.store!r}>"

    # -- the OAuth2Session surface ----------------------------------------------------------

    @property
    def token(self) -> dict[str, Any]:
        """The token in hand as Kakao's fields plus absolute expiries ({} before login)."""
        auth = self.__dict__.get("kakao_auth")  # absent while OAuth2Session.__init__ runs
        if auth is None or auth.held is None:
            return {}
        data: dict[str, Any] = auth.held.to_dict(time.time())
        data.pop("client_secret", None)
        return data

    @token.setter
    def token(self, value: Optional[dict[str, Any]]) -> None:
        # OAuth2Session.__init__ assigns {} here; a real token is held in memory only.
        if value:
            self.kakao_auth.adopt(Token.from_dict(value, issued_at=time.time()))

    @property
    def access_token(self) -> Optional[str]:
        value = self.token.get("access_token")
        return value if isinstance(value, str) else None

    @access_token.setter
    def access_token(self, value: Optional[str]) -> None:
        raise AttributeError("set KakaoSession.token (a whole token), not access_token alone")

    @property
    def authorized(self) -> bool:
        return bool(self.access_token)

    def authorization_url(
        self, url: Optional[str] = None, state: Optional[str] = None, **kwargs: Any
    ) -> tuple[str, str]:
        """The URL to open in a browser, and its ``state``; PKCE S256 is always on."""
        client_id = self._require_client_id()
        redirect_uri = self._require_redirect_uri()
        self._state = state or new_state()
        self._code_verifier, challenge = new_pkce()
        base = url[: -len(AUTHORIZE_PATH)] if url and url.endswith(AUTHORIZE_PATH) else url
        link = authorize_url(
            base or self.kakao_auth.settings.kauth_url,
            client_id,
            redirect_uri,
            state=self._state,
            code_challenge=challenge,
            scope=self.scope,
            **kwargs,
        )
        return link, self._state

    def fetch_token(  # type: ignore[override]
        self,
        token_url: Optional[str] = None,
        code: Optional[str] = None,
        authorization_response: Optional[str] = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Exchange the code (or the redirected URL) for tokens and save them to the store.

        ``state`` and ``code_verifier`` may be passed, as a web app's callback (a new session
        object) does; the redirect's state must then match. Other keyword arguments are ignored:
        nothing a caller passes is forwarded into the token request.
        """
        state = kwargs.get("state") or self._state
        verifier = kwargs.get("code_verifier") or self._code_verifier
        if authorization_response:
            code = parse_redirect(authorization_response, state)
        if not code:
            raise ConfigurationError("pass code= or authorization_response= to fetch_token()")
        client_id = self._require_client_id()
        secret = self.kakao_auth.settings.client_secret
        form = code_form(client_id, self._require_redirect_uri(), code, secret, verifier)
        # retries=0: the code is single use, a retry after a lost answer could only fail (KOE320).
        url = token_url or self.kakao_auth.settings.kauth_url + TOKEN_PATH
        endpoint = TokenEndpoint(url, timeout=self._timeout, retries=0)
        self.kakao_auth.core.log_in(endpoint, form, client_id=client_id, client_secret=secret)
        return self.token

    def refresh_token(self, token_url: Optional[str] = None, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """Refresh now through the locked single-flight path; returns the new token."""
        self.kakao_auth.refresh()
        return self.token

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
        """A plain ``requests.Session.request``: ``self.auth`` (KakaoAuth) handles the token."""
        if withhold_token:
            kwargs.setdefault("auth", no_auth)
        return requests.Session.request(self, method, url, data=data, headers=headers, files=files, **kwargs)

    def _require_client_id(self) -> str:
        if not self.kakao_auth.settings.client_id:
            raise ConfigurationError(
                "no client id (the app's REST API key): set KAKAO_REST_API_KEY or pass --client-id "
                "(client_id= in Python)"
            )
        return self.kakao_auth.settings.client_id

    def _require_redirect_uri(self) -> str:
        if not self.redirect_uri:
            raise ConfigurationError(
                "no redirect URI: pass --redirect-uri (redirect_uri= in Python), one registered for the app"
            )
        return str(self.redirect_uri)
