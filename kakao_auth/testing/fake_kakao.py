"""A fake Kakao (kauth + kapi) over HTTPS on loopback, for kakao_auth's tests and yours.

::

    with FakeKakao() as fake:                      # two HTTPS servers on 127.0.0.1
        os.environ.update(fake.environ())          # KAKAO_KAUTH_URL, KAKAO_KAPI_URL, CA bundle
        fake.write_token_file("kakao_token.json")  # a logged-in token file
        ...                                        # run the code under test
        assert fake.refresh_calls == 1

It follows ../shared/KAKAO.md: authorization code with state and PKCE S256, client secret in the
body, refresh answers without a refresh token until the last month, rotation that kills the old
refresh token at once (KOE322), KOE errors by ``error_code``, the per-user issuance limits
(KOE237), and kapi's 401 ``-401`` with ``WWW-Authenticate: Bearer error=invalid_token`` and 403
``-402`` with ``required_scopes``. Certificates come from ``trustme``; ``ca_bundle`` is the CA to
trust. Faults can be injected into the token endpoint with :meth:`FakeKakao.fail_token`.

OpenID Connect (../shared/KAKAO.md, "Web apps"): a login whose scope holds ``openid`` gets an
RS256 id_token (``sub`` the user id, ``aud`` the client id, ``iss`` the kauth URL, the authorize
``nonce``), the keys are served at ``/.well-known/jwks.json`` with the discovery document beside
them, and :meth:`FakeKakao.rotate_signing_key` rotates them. ``browser_user`` picks the user the
next logins are for; ``/v2/user/scopes``, per-user logout and unlink, and -402 for every API in
``SCOPED_APIS`` whose scope the user lacks are served; :meth:`FakeKakao.send_unlink` plays
Kakao calling an app's unlink webhook; ``consent_page`` makes the authorize step a page with
agree and cancel buttons, for tests in a real browser.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import hashlib
import html
import http.server
import json
import os
import secrets
import ssl
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlencode, urlsplit

from ..stores import atomic_write
from ..token import Token
from .net import WRITE, Handler, ResetConnection, TLSServer

__all__ = ["DEFAULT_REDIRECT_URI", "FakeKakao"]

DEFAULT_CLIENT_ID = "fake-rest-api-key"
DEFAULT_REDIRECT_URI = "http://localhost:8765/callback"
DEFAULT_SCOPE = "profile_nickname talk_message"
MONTH = 30 * 24 * 3600
# The consent items (scope ids) Kakao knows, from its developer docs' consent item table; the
# authorize step refuses any other with KOE205, as Kakao does for an item the app has not set up.
# A test that needs one more adds it to ``FakeKakao.known_scopes``.
KNOWN_SCOPES = frozenset(
    {
        "profile_nickname",
        "profile_image",
        "account_email",
        "name",
        "gender",
        "age_range",
        "birthday",
        "birthyear",
        "phone_number",
        "account_ci",
        "shipping_address",
        "legal_name",
        "legal_birth_date",
        "legal_gender",
        "talk_message",
        "talk_calendar",
        "talk_calendar_task",
        "talk_chats",
        "friends",
        "plusfriends",
        "openid",
        "story_read",
        "story_publish",
        "story_permalink",
    }
)

# The token endpoint's injectable faults; a KOE code (e.g. "KOE237") injects that Kakao error.
# "drip" sends a valid answer one byte every ``fault_delay`` / 10 seconds; "cut" resets the
# connection halfway through the body; "bad-gzip" claims gzip and sends garbage; "redirect"
# answers 307 to ``redirect_target``; "huge" and "deep" send a 1 MiB and a 30,000-deep body.
FAULTS = (
    "500",
    "502-html",
    "not-json",
    "timeout",
    "reset",
    "drip",
    "cut",
    "bad-gzip",
    "redirect",
    "huge",
    "deep",
)
_KOE = {
    "KOE320": (400, "invalid_grant", "authorization code not found for code={code}"),
    "KOE322": (400, "invalid_grant", "Refresh token not found"),
    "KOE319": (400, "invalid_grant", "refresh_token is required"),
    "KOE303": (400, "invalid_grant", "Redirect URI mismatch."),
    "KOE101": (401, "invalid_client", "Not exist client_id []"),
    "KOE010": (401, "invalid_client", "Bad client credentials"),
    "KOE237": (400, "invalid_request", "token request rate limit exceeded"),
}


@dataclasses.dataclass
class _Grant:
    user_id: Any  # Kakao's ids are integers; a test may use its own keys
    scope: str
    expires_at: float


@dataclasses.dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    challenge: Optional[str]


class FakeKakao:
    """Kakao's kauth and kapi hosts, faked on two loopback HTTPS ports sharing one state.

    Counters (``token_calls``, ``refresh_calls``, ``code_calls``, ``api_calls``), the memos
    received (``memos``) and every knob are plain attributes; all are safe to read from the
    test while the servers run.
    """

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: Optional[str] = None,
        redirect_uris: Iterable[str] = (DEFAULT_REDIRECT_URI,),
        access_ttl: int = 21599,
        refresh_ttl: int = 5183999,
        access_limit: Optional[tuple[int, float]] = (20, 600.0),
        refresh_limit: Optional[tuple[int, float]] = (30, 3600.0),
        user_id: int = 4242424242,
        nickname: str = "라이언",
        scope: str = DEFAULT_SCOPE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = set(redirect_uris)
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.access_limit = access_limit
        self.refresh_limit = refresh_limit
        self.user_id = user_id
        self.nickname = nickname
        self.scope = scope
        self.known_scopes = set(KNOWN_SCOPES)  # what /oauth/authorize accepts in scope=
        self.clock = clock
        self.token_file: Optional[str] = None  # where write_token_file writes by default
        self.fault_delay = 3.0  # how long the "timeout" fault keeps the client waiting
        self.redirect_target = "http://127.0.0.1:9/steal"  # where the "redirect" fault points
        self.token_delay = 0.0  # seconds every token answer waits (a slow Kakao, a long refresh)
        # When an Event, every token answer waits until it is set (at most a minute): a refresh
        # held under way for as long as a test needs, without guessing at timings.
        self.token_gate: Optional[threading.Event] = None
        self.deny_next_login = False  # the next /oauth/authorize answers error=access_denied
        self.reject_all_tokens = False  # kapi answers -401 to every access token
        self.token_calls = 0
        self.refresh_calls = 0
        self.code_calls = 0
        self.api_calls = 0
        self.memos: list[dict[str, Any]] = []
        self.token_form_fields: list[list[str]] = []  # the field names of each token request
        # Per user id: refreshes made (a vault's "one refresh per user per expiry").
        self.refresh_calls_by_user: collections.Counter[Any] = collections.Counter()
        self.redirects: dict[str, str] = {}  # kapi path -> URL it answers 302 to
        self.api_bodies: dict[str, bytes] = {}  # kapi path -> a raw 200 body instead (a broken kapi)
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._codes: dict[str, _Code] = {}
        self._issued: dict[str, collections.deque[float]] = {
            "access": collections.deque(),
            "refresh": collections.deque(),
        }
        self._issued_by_user: dict[Any, dict[str, collections.deque[float]]] = {}
        self._faults: collections.deque[str] = collections.deque()
        self._lock = threading.RLock()
        self._servers: list[http.server.ThreadingHTTPServer] = []
        self._oidc_init()
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-kakao-")
        self.ca_bundle = os.path.join(self._tmp.name, "fake-kakao-ca.pem")
        self.kauth_url = ""
        self.kapi_url = ""
        # The authorize page again, over plain http on loopback: a real browser refuses the
        # test CA, and this page carries no secret (the code goes to the redirect URI).
        self.authorize_base = ""
        self.ca: Any = None  # the trustme.CA, once started: tests can issue more certificates

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeKakao:
        """Start both HTTPS servers (and the plain authorize page) on free loopback ports."""
        try:
            import trustme  # a test dependency: only needed when a fake actually runs
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                "the fake Kakao needs trustme, from kakao_auth's testing extra: "
                "pip install 'kakao-auth[testing]'",
                name="trustme",
            ) from None

        self.ca = ca = trustme.CA()
        ca.cert_pem.write_to_path(self.ca_bundle)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.kauth_url = self._serve(context, _KauthHandler)
        self.kapi_url = self._serve(context, _KapiHandler)
        self.authorize_base = self._serve(None, _AuthorizePageHandler)
        return self

    def _serve(self, context: Optional[ssl.SSLContext], handler: type[Handler]) -> str:
        server = TLSServer(handler, self, context)
        threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-kakao", daemon=True).start()
        self._servers.append(server)
        return server.url

    def stop(self) -> None:
        """Stop the servers and remove the certificate files."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        self._tmp.cleanup()

    def __enter__(self) -> FakeKakao:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FakeKakao(kauth={self.kauth_url!r}, kapi={self.kapi_url!r})"

    def environ(self) -> dict[str, str]:
        """The environment that points kakao_auth (and requests and httpx) at this fake.

        ``KAKAO_KAUTH_URL``, ``KAKAO_KAPI_URL``, ``KAKAO_REST_API_KEY`` (the fake app's key),
        ``REQUESTS_CA_BUNDLE`` and ``SSL_CERT_FILE`` (the fake's CA alone: only the fake is
        trusted), ``KAKAO_AUTHORIZE_URL`` (the authorize page a real browser can open, for
        ``kakao-auth login``), and ``KAKAO_TOKEN_FILE`` once :attr:`token_file` is set.
        ``os.environ.update(fake.environ())`` points this process at the fake; a child process
        takes it as its ``env``.
        """
        env = {
            "KAKAO_KAUTH_URL": self.kauth_url,
            "KAKAO_KAPI_URL": self.kapi_url,
            "KAKAO_AUTHORIZE_URL": self.authorize_base,
            "KAKAO_REST_API_KEY": self.client_id,
            "REQUESTS_CA_BUNDLE": self.ca_bundle,  # requests
            "SSL_CERT_FILE": self.ca_bundle,  # httpx, and Python's ssl module
        }
        if self.token_file is not None:
            env["KAKAO_TOKEN_FILE"] = self.token_file
        return env

    # -- helpers for tests ----------------------------------------------------------------

    def issue_tokens(
        self,
        *,
        access_ttl: Optional[int] = None,
        refresh_ttl: Optional[int] = None,
        scope: Optional[str] = None,
        user_id: Any = None,
    ) -> dict[str, Any]:
        """Log the user in without a browser: the token answer a code exchange would give.

        ``user_id``: whose tokens they are (default ``self.user_id``); ``/v2/user/me`` answers it,
        and every per-user knob (``expire_access_tokens(user_id=...)``...) selects by it.
        """
        unknown = set((scope or "").replace(",", " ").split()) - self.known_scopes
        if unknown:  # Kakao would refuse them at the authorize step (KOE205)
            raise ValueError(f"Kakao knows no consent item {', '.join(sorted(unknown))} (see known_scopes)")
        with self._lock:
            return self._login_answer(scope or self.scope, access_ttl, refresh_ttl, user_id)

    def write_token_file(
        self,
        path: Optional[str | os.PathLike[str]] = None,
        *,
        access_ttl: Optional[int] = None,
        refresh_ttl: Optional[int] = None,
        tutorial: bool = False,
        client_secret: Optional[str] = None,
        scope: Optional[str] = None,
    ) -> Token:
        """Write a logged-in token file (0600) as ``kakao-auth login`` would; return the Token.

        Without ``path`` it writes to :attr:`token_file`, and when that is unset too, to
        ``kakao_token.json`` in the fake's own folder (removed by :meth:`stop`), which then
        becomes :attr:`token_file` (and ``KAKAO_TOKEN_FILE`` in :meth:`environ`).

        ``access_ttl=0`` gives an already expired access token; ``refresh_ttl`` under a month puts
        the refresh token in Kakao's rotation window; ``tutorial=True`` writes the raw answer as
        the Korean tutorials do (no ``expires_at``, no ``client_id``); ``scope`` replaces the
        consented items (e.g. without ``talk_message``).
        """
        if path is None and self.token_file is None:
            self.token_file = os.path.join(self._tmp.name, "kakao_token.json")
        target = os.fspath(path) if path is not None else str(self.token_file)
        answer = self.issue_tokens(access_ttl=access_ttl, refresh_ttl=refresh_ttl, scope=scope)
        if tutorial:
            atomic_write(target, json.dumps(answer).encode())
            return Token.from_response(answer, self.clock())
        token = Token.from_response(
            answer, self.clock(), client_id=self.client_id, client_secret=client_secret
        )
        atomic_write(target, json.dumps(token.to_dict(self.clock())).encode())
        return token

    def expire_access_tokens(self, *, user_id: Any = None) -> None:
        """Make every access token issued so far (``user_id``'s only, if given) expired, as after ~6 hours."""
        with self._lock:
            for grant in self._access.values():
                if user_id is None or grant.user_id == user_id:
                    grant.expires_at = min(grant.expires_at, self.clock() - 1)

    def shorten_refresh_tokens(self, left: float, *, user_id: Any = None) -> None:
        """Give every refresh token (``user_id``'s only, if given) ``left`` seconds to live.

        Under a month left, the next refresh rotates it.
        """
        with self._lock:
            for grant in self._refresh.values():
                if user_id is None or grant.user_id == user_id:
                    grant.expires_at = self.clock() + left

    def revoke_all(self) -> None:
        """Revoke every token, as a logout from another device or a password change would."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    def revoke_user(self, user_id: Any) -> None:
        """Revoke ``user_id``'s tokens only (a logout, an unlink, a password change): others stay."""
        with self._lock:
            for grants in (self._access, self._refresh):
                for token in [t for t, grant in grants.items() if grant.user_id == user_id]:
                    del grants[token]

    def rotate_refresh_token(self, refresh_token: str) -> Optional[str]:
        """Rotate ``refresh_token`` away as another device's refresh would; the new one (the old one dies)."""
        with self._lock:
            grant = self._refresh.pop(refresh_token, None)
            if grant is None:
                return None
            return str(self._refresh_answer_fields(grant.scope, None, grant.user_id)["refresh_token"])

    def refresh_token_alive(self, refresh_token: Optional[str]) -> bool:
        """True when Kakao would still accept ``refresh_token``."""
        with self._lock:
            grant = self._refresh.get(refresh_token or "")
            return grant is not None and grant.expires_at > self.clock()

    def access_token_alive(self, access_token: Optional[str]) -> bool:
        """True when kapi would accept ``access_token``."""
        with self._lock:
            return self._access_grant(access_token or "") is not None

    def fail_token(self, fault: str, times: int = 1) -> None:
        """Make the next ``times`` token-endpoint calls fail with ``fault``.

        A fault is one of ``FAULTS`` ("500", "502-html", "not-json", "timeout", "reset") or a
        KOE code ("KOE237", "KOE010", "KOE101", "KOE322", ...).
        """
        if fault not in FAULTS and fault not in _KOE:
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._faults.extend([fault] * times)

    def authorize(self, url: str) -> str:
        """Play the browser: open the authorize ``url`` and return where Kakao redirects it.

        The fake consents on the user's behalf (unless ``deny_next_login``).
        """
        import requests

        response = requests.get(url, allow_redirects=False, verify=self.ca_bundle, timeout=10)
        location = response.headers.get("Location")
        if response.status_code != 302 or not location:
            raise AssertionError(f"authorize answered HTTP {response.status_code}: {response.text}")
        return location

    # -- kauth ----------------------------------------------------------------------------

    def _authorize(self, query: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        if query.get("client_id") != self.client_id:
            return 400, {"Content-Type": "text/html"}, b"<h1>KOE101</h1> invalid client_id"
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return 400, {"Content-Type": "text/html"}, b"<h1>KOE006</h1> redirect_uri not registered"
        if set(query.get("scope", "").replace(",", " ").split()) - self.known_scopes:
            # Kakao shows an error page, and does not redirect, for a consent item it does not know.
            return 400, {"Content-Type": "text/html"}, b"<h1>KOE205</h1> invalid scope"
        params = {"state": query["state"]} if "state" in query else {}
        with self._lock:
            if self.deny_next_login:
                self.deny_next_login = False
                params.update(error="access_denied", error_description="User denied access")
            else:
                code = secrets.token_urlsafe(64)
                challenge = (
                    query.get("code_challenge") if query.get("code_challenge_method") == "S256" else None
                )
                scope = " ".join(
                    sorted(set(self.scope.split()) | set(query.get("scope", "").replace(",", " ").split()))
                )
                self._codes[code] = _Code(self.client_id, redirect_uri, scope, challenge)
                params["code"] = code
        sep = "&" if "?" in redirect_uri else "?"
        return 302, {"Location": redirect_uri + sep + urlencode(params)}, b""

    def _token(self, form: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.token_calls += 1
            self.token_form_fields.append(sorted(form))
            fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault not in _KOE:
            return _fault_answer(fault, self.fault_delay, self.redirect_target)
        if self.token_delay:
            time.sleep(self.token_delay)
        gate = self.token_gate
        if gate is not None:
            gate.wait(60)
        with self._lock:
            return _json(*self._token_answer(form, fault))

    def _token_answer(self, form: Mapping[str, str], fault: Optional[str]) -> tuple[int, dict[str, Any]]:
        if fault is not None:
            return _koe(fault)
        if form.get("client_id") != self.client_id:
            return _koe("KOE101")
        if self.client_secret is not None and form.get("client_secret") != self.client_secret:
            return _koe("KOE010")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            self.code_calls += 1
            return self._exchange_oidc(form)
        if grant_type == "refresh_token":
            return self._refresh_answer_oidc(form)
        return 400, {
            "error": "unsupported_grant_type",
            "error_description": "grant_type",
            "error_code": "KOE004",
        }

    def _exchange(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        code = self._codes.pop(form.get("code", ""), None)
        if code is None:
            return _koe("KOE320")
        if form.get("redirect_uri") != code.redirect_uri:
            return _koe("KOE303")
        if code.challenge is not None and _s256(form.get("code_verifier", "")) != code.challenge:
            return 400, {
                "error": "invalid_grant",
                "error_description": "PKCE verification failed.",
                "error_code": "KOE320",
            }
        if not self._within_limit("access") or not self._within_limit("refresh"):
            return _koe("KOE237")
        return 200, self._login_answer(code.scope, None, None)

    def _refresh_answer(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        token = form.get("refresh_token")
        if not token:
            return _koe("KOE319")
        grant = self._refresh.get(token)
        now = self.clock()
        if grant is None or grant.expires_at <= now:
            return _koe("KOE322")
        rotate = grant.expires_at - now < MONTH
        limited = not self._within_limit("access", grant.user_id)
        if limited or (rotate and not self._within_limit("refresh", grant.user_id)):
            return _koe("KOE237")
        self.refresh_calls += 1
        self.refresh_calls_by_user[grant.user_id] += 1
        answer = self._access_answer(grant.scope, None, grant.user_id)
        if rotate:  # the last month: a new refresh token, and the old one dies at once
            del self._refresh[token]
            answer.update(self._refresh_answer_fields(grant.scope, None, grant.user_id))
        return 200, answer

    def _login_answer(
        self, scope: str, access_ttl: Optional[int], refresh_ttl: Optional[int], user_id: Any = None
    ) -> dict[str, Any]:
        answer = self._access_answer(scope, access_ttl, user_id)
        answer.update(self._refresh_answer_fields(scope, refresh_ttl, user_id))
        answer["scope"] = scope
        return answer

    def _access_answer(self, scope: str, ttl: Optional[int], user_id: Any = None) -> dict[str, Any]:
        ttl = self.access_ttl if ttl is None else ttl
        token = secrets.token_urlsafe(48)
        user = self.user_id if user_id is None else user_id
        self._access[token] = _Grant(user, scope, self.clock() + ttl)
        self._issued_to(user)["access"].append(self.clock())
        return {"token_type": "bearer", "access_token": token, "expires_in": ttl}

    def _refresh_answer_fields(self, scope: str, ttl: Optional[int], user_id: Any = None) -> dict[str, Any]:
        ttl = self.refresh_ttl if ttl is None else ttl
        token = secrets.token_urlsafe(48)
        user = self.user_id if user_id is None else user_id
        self._refresh[token] = _Grant(user, scope, self.clock() + ttl)
        self._issued_to(user)["refresh"].append(self.clock())
        return {"refresh_token": token, "refresh_token_expires_in": ttl}

    def _issued_to(self, user_id: Any) -> dict[str, collections.deque[float]]:
        # Kakao's issuance limits are per user: the default user's are the ones tests read.
        if user_id == self.user_id:
            return self._issued
        return self._issued_by_user.setdefault(
            user_id, {"access": collections.deque(), "refresh": collections.deque()}
        )

    def _within_limit(self, kind: str, user_id: Any = None) -> bool:
        limit = self.access_limit if kind == "access" else self.refresh_limit
        if limit is None:
            return True
        count, window = limit
        issued = self._issued_to(self.user_id if user_id is None else user_id)[kind]
        while issued and issued[0] < self.clock() - window:
            issued.popleft()
        return len(issued) < count

    # -- kapi -----------------------------------------------------------------------------

    def _api(
        self, method: str, path: str, authorization: str, form: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if path in self.redirects:
            return 302, {"Location": self.redirects[path]}, b""
        with self._lock:
            self.api_calls += 1
            token = authorization[7:] if authorization.startswith("Bearer ") else ""
            grant = None if self.reject_all_tokens else self._access_grant(token)
            if grant is None:
                headers = {"WWW-Authenticate": 'Bearer realm="oauth", error="invalid_token"'}
                return _with_headers(
                    _json(401, {"code": -401, "msg": "this access token does not exist"}), headers
                )
            if path in self.api_bodies:
                return 200, {"Content-Type": "application/json"}, self.api_bodies[path]
            return _json(*self._api_answer(method, path, token, grant, form))

    def _access_grant(self, token: str) -> Optional[_Grant]:
        grant = self._access.get(token)
        return grant if grant is not None and grant.expires_at > self.clock() else None

    def _api_answer(
        self, method: str, path: str, token: str, grant: _Grant, form: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        answer = self._oidc_api(method, path, grant)
        if answer is not None:
            return answer
        if path == "/v1/user/access_token_info" and method == "GET":
            return 200, {"id": grant.user_id, "expires_in": int(grant.expires_at - self.clock()), "app_id": 1}
        if path in ("/v1/user/logout", "/v1/user/unlink") and method == "POST":
            self.revoke_user(grant.user_id)  # that user's tokens: the other users stay logged in
            return 200, {"id": grant.user_id}
        if path == "/v2/user/me":
            profile = {"nickname": self.nickname}
            return 200, {"id": grant.user_id, "properties": profile, "kakao_account": {"profile": profile}}
        if path == "/v2/api/talk/memo/default/send" and method == "POST":
            return self._memo(grant, form)
        return 404, {"code": -3, "msg": f"no such API: {method} {path}"}

    def _memo(self, grant: _Grant, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        if "talk_message" not in grant.scope.split():
            allowed = grant.scope.split()
            return 403, {
                "code": -402,
                "msg": "insufficient scopes.",
                "required_scopes": ["talk_message"],
                "allowed_scopes": allowed,
            }
        try:
            template = json.loads(form["template_object"])
        except (KeyError, ValueError):
            return 400, {"code": -2, "msg": "template_object is required (a JSON object)"}
        problem = _template_problem(template)
        if problem is not None:
            return 400, {"code": -2, "msg": problem}
        self.memos.append(template)
        return 200, {"result_code": 0}

    # -- OpenID Connect, consent, unlink (../shared/KAKAO.md, "Web apps") ------------------

    def _oidc_init(self) -> None:
        self.app_id = 1  # the app's id, as the unlink webhook and access_token_info carry it
        self.browser_user: Optional[int] = None  # who the next logins are for (None: user_id)
        self.jwks_calls = 0  # fetches of /.well-known/jwks.json
        self.unlinked: list[int] = []  # user ids unlinked through /v1/user/unlink
        self.logged_out: list[int] = []  # user ids logged out through /v1/user/logout
        self._signing: list[tuple[str, Any]] = []  # (kid, RSA private key); the last one signs
        self._code_logins: dict[str, tuple[int, Optional[str]]] = {}  # code -> (user id, nonce)
        self.consent_page = False  # /oauth/authorize serves a page with agree/cancel buttons first

    def rotate_signing_key(self, *, keep_old: bool = False) -> str:
        """Sign id_tokens with a new RSA key from now on; return its ``kid``.

        The JWKS then lists the new key only, or both with ``keep_old`` (Kakao publishes two).
        """
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = secrets.token_hex(8)
        with self._lock:
            self._signing = ([*self._signing[-1:]] if keep_old else []) + [(kid, key)]
        return kid

    def sign_id_token(self, claims: Mapping[str, Any], *, kid: Optional[str] = None) -> str:
        """``claims`` signed RS256 with the current key (or the kept one named ``kid``), as Kakao would."""
        import jwt

        with self._lock:
            if not self._signing:
                self.rotate_signing_key()
            keys = dict(self._signing)
            kid = kid if kid is not None else self._signing[-1][0]
        return jwt.encode(dict(claims), keys[kid], algorithm="RS256", headers={"kid": kid})

    def id_token_claims(self, user_id: int, nonce: Optional[str] = None) -> dict[str, Any]:
        """The claims of the id_token a login of ``user_id`` gets now."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.kauth_url,
            "aud": self.client_id,
            "sub": str(user_id),
            "iat": now,
            "auth_time": now,
            "exp": now + self.access_ttl,
            "nickname": self.nickname,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return claims

    def send_unlink(
        self,
        url: str,
        user_id: int | str,
        *,
        admin_key: str,
        referrer_type: str = "UNLINK_FROM_APPS",
        method: str = "POST",
        app_id: Optional[int | str] = None,
    ) -> int:
        """Call an app's unlink webhook at ``url`` as Kakao does; return the HTTP status it answered.

        Kakao sends ``app_id``, ``user_id`` and ``referrer_type`` (GET: in the query; POST: a
        form) with ``Authorization: KakaoAK <admin key>``, follows no redirect, and counts an
        answer later than 3 seconds as a failure (raised here as ``requests.Timeout``).
        """
        import requests

        fields = {
            "app_id": str(self.app_id if app_id is None else app_id),
            "user_id": str(user_id),
            "referrer_type": referrer_type,
        }
        headers = {"Authorization": f"KakaoAK {admin_key}"}
        request: dict[str, Any] = {"params": fields} if method == "GET" else {"data": fields}
        response = requests.request(
            method, url, headers=headers, allow_redirects=False, timeout=3, verify=self.ca_bundle, **request
        )
        return response.status_code

    def _authorize_page(self, query: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        """With ``consent_page``: Kakao's consent page for a real browser, whose buttons come back here."""
        choice = query.get("consent")
        if not self.consent_page or choice == "agree":
            return self._authorize_oidc({k: v for k, v in query.items() if k != "consent"})
        if choice == "deny":
            with self._lock:
                self.deny_next_login = True
            return self._authorize_oidc({k: v for k, v in query.items() if k != "consent"})
        return 200, {"Content-Type": "text/html; charset=utf-8"}, _consent_page(query).encode()

    def _authorize_oidc(self, query: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        answer = self._authorize(query)
        location = answer[1].get("Location", "")
        code = parse_qs(urlsplit(location).query).get("code")
        if answer[0] == 302 and code:
            user = self.user_id if self.browser_user is None else self.browser_user
            with self._lock:
                self._code_logins[code[0]] = (user, query.get("nonce"))
        return answer

    def _exchange_oidc(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        user, nonce = self._code_logins.pop(form.get("code", ""), (self.user_id, None))
        status, answer = self._exchange(form)
        if status != 200:
            return status, answer
        self._assign(answer, user)
        if "openid" in answer["scope"].split():
            answer["id_token"] = self.sign_id_token(self.id_token_claims(user, nonce))
        return status, answer

    def _refresh_answer_oidc(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self._refresh.get(form.get("refresh_token") or "")
        status, answer = self._refresh_answer(form)
        if status == 200 and grant is not None:
            self._assign(answer, grant.user_id)
            if "openid" in grant.scope.split():  # an OIDC login's refreshes carry an id_token
                answer["id_token"] = self.sign_id_token(self.id_token_claims(grant.user_id))
        return status, answer

    def _assign(self, answer: Mapping[str, Any], user: int) -> None:
        """Make the tokens in ``answer`` belong to ``user``."""
        for table, name in ((self._access, "access_token"), (self._refresh, "refresh_token")):
            if name in answer:
                table[answer[name]].user_id = user

    def _well_known(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if path == "/.well-known/jwks.json":
            return _json(200, self._jwks())
        return _json(200, _discovery(self.kauth_url, self.kapi_url))

    def _jwks(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        with self._lock:
            self.jwks_calls += 1
            if not self._signing:
                self.rotate_signing_key()
            signing = list(self._signing)
        keys = []
        for kid, key in signing:
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def _oidc_api(self, method: str, path: str, grant: _Grant) -> Optional[tuple[int, dict[str, Any]]]:
        """The answers of this section's APIs, or -402 for a scoped API; None for the others."""
        needed = SCOPED_APIS.get(path)
        if needed is not None and needed not in grant.scope.split():
            return 403, {
                "code": -402,
                "msg": "insufficient scopes.",
                "required_scopes": [needed],
                "allowed_scopes": grant.scope.split(),
            }
        if path == "/v2/user/scopes" and method == "GET":
            return 200, {"id": grant.user_id, "scopes": _scopes(grant.scope)}
        if path in ("/v1/user/logout", "/v1/user/unlink") and method == "POST":
            self._revoke_user(grant.user_id)
            (self.unlinked if path.endswith("unlink") else self.logged_out).append(grant.user_id)
            return 200, {"id": grant.user_id}
        if path == "/v1/api/talk/profile" and method == "GET":
            return 200, {"nickName": self.nickname}
        return None

    def _revoke_user(self, user: int) -> None:
        """Revoke every token of ``user``, and only theirs."""
        for table in (self._access, self._refresh):
            for token in [t for t, g in table.items() if g.user_id == user]:
                del table[token]


# APIs the fake gates by a consent item: -402 with required_scopes when the user lacks it.
SCOPED_APIS = {
    "/v2/api/talk/memo/default/send": "talk_message",
    "/v1/api/talk/profile": "profile_nickname",
    "/v1/api/talk/friends": "friends",
}
# The consent items /v2/user/scopes lists, with Kakao's type for each.
_SCOPE_TYPES = {
    "openid": "SERVICE",
    "profile_nickname": "PRIVACY",
    "profile_image": "PRIVACY",
    "account_email": "PRIVACY",
    "talk_message": "SERVICE",
    "friends": "PRIVACY",
}
_WELL_KNOWN = ("/.well-known/jwks.json", "/.well-known/openid-configuration")


def _scopes(granted: str) -> list[dict[str, Any]]:
    agreed = set(granted.split())
    return [
        {
            "id": item,
            "display_name": item,
            "type": kind,
            "using": True,
            "agreed": item in agreed,
            "revocable": kind == "SERVICE",
        }
        for item, kind in _SCOPE_TYPES.items()
    ]


def _consent_page(query: Mapping[str, str]) -> str:
    """Kakao's consent page, for a browser: the items asked for, and agree and cancel buttons."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in query.items()
    )
    items = "".join(f"<li>{html.escape(item)}</li>" for item in query.get("scope", "").split(",") if item)
    return (
        "<!doctype html><meta charset='utf-8'><title>카카오계정으로 로그인</title>"
        f"<h1>동의하고 계속하기</h1><ul id='scopes'>{items}</ul>"
        f'<form method="get" action="/oauth/authorize">{hidden}'
        '<button id="agree" name="consent" value="agree">동의하고 계속하기</button>'
        '<button id="cancel" name="consent" value="deny">취소</button></form>'
    )


def _discovery(kauth: str, kapi: str) -> dict[str, Any]:
    """Kakao's OpenID Connect discovery document, pointing at this fake."""
    return {
        "issuer": kauth,
        "authorization_endpoint": kauth + "/oauth/authorize",
        "token_endpoint": kauth + "/oauth/token",
        "userinfo_endpoint": kapi + "/v1/oidc/userinfo",
        "jwks_uri": kauth + "/.well-known/jwks.json",
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "request_uri_parameter_supported": False,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss",
            "aud",
            "sub",
            "auth_time",
            "exp",
            "iat",
            "nonce",
            "nickname",
            "picture",
            "email",
        ],
    }


def _template_problem(template: Any) -> Optional[str]:
    """What Kakao would refuse in a default text template (../shared/KAKAO.md), or None."""
    if not isinstance(template, dict) or template.get("object_type") != "text":
        return "object_type must be text"
    text = template.get("text")
    if not isinstance(text, str) or not text:
        return "text is required"
    if len(text) > 200:
        return "text must be at most 200 characters"
    link = template.get("link")
    if not isinstance(link, dict) or any(not isinstance(v, str) for v in link.values()):
        return "link is required (an object with web_url and/or mobile_web_url)"
    if "button_title" in template and not isinstance(template["button_title"], str):
        return "button_title must be a string"
    return None


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _koe(code: str) -> tuple[int, dict[str, Any]]:
    status, error, description = _KOE[code]
    return status, {"error": error, "error_description": description, "error_code": code}


def _json(status: int, body: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json;charset=UTF-8"}, json.dumps(body).encode()


def _with_headers(
    answer: tuple[int, dict[str, str], bytes], extra: Mapping[str, str]
) -> tuple[int, dict[str, str], bytes]:
    return answer[0], {**answer[1], **extra}, answer[2]


def _fault_answer(fault: str, delay: float, target: str) -> tuple[int, dict[str, str], bytes]:
    token = json.dumps({"access_token": "x" * 40, "token_type": "bearer", "expires_in": 60}).encode()
    if fault in ("drip", "cut"):
        return 200, {"Content-Type": "application/json", WRITE: f"{fault}:{delay / 10}"}, token
    if fault == "bad-gzip":
        return 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, b"not gzip at all"
    if fault == "redirect":
        return 307, {"Location": target}, b""
    if fault == "huge":
        return 200, {"Content-Type": "application/json"}, b'{"pad": "' + b"x" * (1 << 20) + b'"}'
    if fault == "deep":
        return 200, {"Content-Type": "application/json"}, b"[" * 30_000 + b"]" * 30_000
    if fault == "timeout":
        time.sleep(delay)
        return _json(500, {"error": "server_error", "error_description": "too late"})
    if fault == "reset":
        raise ResetConnection
    if fault == "502-html":
        return 502, {"Content-Type": "text/html"}, b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    if fault == "not-json":
        return 200, {"Content-Type": "text/plain"}, b"this is not JSON"
    return 500, {"Content-Type": "text/plain"}, b"Internal Server Error"


class _KauthHandler(Handler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path in _WELL_KNOWN:
            return self._reply(self.server.owner._well_known(parts.path))
        if parts.path != "/oauth/authorize":
            return self._reply(_json(404, {"error": "not_found"}))
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self._reply(self.server.owner._authorize_page(query))

    def do_POST(self) -> None:
        form = self._form()
        if urlsplit(self.path).path != "/oauth/token":
            return self._reply(_json(404, {"error": "not_found"}))
        self._reply(self.server.owner._token(form))


class _AuthorizePageHandler(Handler):
    """The authorize page alone, over plain http: what a real browser opens (see environ)."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/oauth/authorize":
            return self._reply((404, {"Content-Type": "text/plain"}, b"only /oauth/authorize here"))
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self._reply(self.server.owner._authorize(query))


class _KapiHandler(Handler):
    def do_GET(self) -> None:
        self._api("GET", {})

    def do_POST(self) -> None:
        self._api("POST", self._form())

    def _api(self, method: str, form: Mapping[str, str]) -> None:
        path = urlsplit(self.path).path
        self._reply(self.server.owner._api(method, path, self.headers.get("Authorization", ""), form))
