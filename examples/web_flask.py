"""Log in with Kakao on a Flask site: a memo to yourself, logout, unlink, and the unlink webhook.

    export KAKAO_REST_API_KEY=... KAKAO_CLIENT_SECRET=... KAKAO_ADMIN_KEY=... KAKAO_APP_ID=...
    SESSION_SECRET=... flask --app web_flask:main run

The same site as web_fastapi.py: the login asks for ``openid`` and ``profile_nickname``, the
memo asks for ``talk_message`` when Kakao says it is missing (additional consent). The webhook
is the WSGI app at ``/kakao/unlink``, mounted beside Flask's own (Kakao's calls never reach
Flask, so its admin key, not a CSRF token, is their check). Every POST of the site's own forms
carries the session's CSRF token, and the session cookie is ``SameSite=Lax``: another site
cannot make a logged-in browser log out, unlink or send a memo.
"""

from __future__ import annotations

import contextlib
import hmac
import html
import os
import secrets
from typing import Any, Optional

from flask import Flask, abort, redirect, request, session
from kakao_auth import ConfigurationError, ConsentRequired, KakaoAuthError, LoginDenied, WebLogin
from kakao_auth.web import Vault, logout, unlink, unlink_wsgi_app
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

SCOPE = ["openid", "profile_nickname"]
CSRF_FIELD = "csrf_token"


def create_app(vault: Vault, *, redirect_uri: str, session_secret: str, admin_key: str, app_id: str) -> Flask:
    """The site, its users' tokens in ``vault``."""
    login = WebLogin(vault, redirect_uri=redirect_uri, scope=SCOPE)
    app = Flask(__name__)
    app.secret_key = session_secret
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    webhook = unlink_wsgi_app(vault, admin_key=admin_key, app_id=app_id)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/kakao/unlink": webhook})  # type: ignore[method-assign]

    def to_kakao(scope: Optional[tuple[str, ...]] = None) -> Response:
        start = login.begin(scope=scope)
        session["kakao"] = start.to_dict()
        return redirect(start.url, code=303)

    @app.before_request
    def check_csrf() -> None:
        """Refuse a POST without this session's CSRF token (a form another site made the browser send)."""
        if request.method == "POST":
            expected = session.get("csrf")
            given = request.form.get(CSRF_FIELD, "")
            if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
                abort(403)

    @app.get("/")
    def home() -> str:
        if not session.get("user"):
            return _page('<a href="/login">Log in with Kakao</a>')
        token = f'<input type="hidden" name="{CSRF_FIELD}" value="{_csrf_token()}">'
        return _page(
            f"<p>Hello, {html.escape(session.get('name', ''))}.</p>"
            f'<form method="post" action="/memo">{token}<input name="text" maxlength="200">'
            "<button>Send me a memo</button></form>"
            f'<form method="post" action="/logout">{token}<button>Log out</button></form>'
            f'<form method="post" action="/unlink">{token}<button>Unlink my Kakao account</button></form>'
        )

    @app.get("/login")
    def start_login() -> Response:
        return to_kakao()

    @app.get("/auth/kakao/callback")
    def callback() -> Any:
        try:
            user = login.complete(request.url, session.pop("kakao", None))
        except LoginDenied:
            return _page('You cancelled. <a href="/login">Try again</a>')
        except KakaoAuthError as e:
            return _page(f"The login failed: {html.escape(str(e))}"), 400
        session.update(user=user.id, name=str(user.claims.get("nickname", "")))
        return redirect("/memo" if "memo" in session else "/", code=303)

    @app.post("/memo")
    def memo() -> Response:
        session["memo"] = request.form.get("text", "")
        return redirect("/memo", code=303)

    @app.get("/memo")
    def send_memo() -> Any:
        user, text = session.get("user"), session.get("memo")
        if not user or not text:
            return redirect("/", code=303)
        try:
            vault.session(user).send_memo(text)
        except ConsentRequired as err:  # ask for just what is missing, then come back here
            if err.required_scopes:  # else Kakao did not say which: asking again would loop
                with contextlib.suppress(ConfigurationError):  # items a login cannot ask for
                    return to_kakao(err.required_scopes)
            return _page(f"Not sent: {html.escape(str(err))}"), 502
        except KakaoAuthError as e:
            return _page(f"Not sent: {html.escape(str(e))}"), 502
        del session["memo"]
        return _page('Sent: look in your KakaoTalk. <a href="/">Back</a>')

    @app.post("/logout")
    def do_logout() -> Response:
        return _leave(logout, vault)

    @app.post("/unlink")
    def do_unlink() -> Response:
        return _leave(unlink, vault)

    return app


def _leave(how: Any, vault: Vault) -> Response:
    user = session.get("user")
    if user:
        how(vault, user)
    session.clear()
    return redirect("/", code=303)


def _csrf_token() -> str:
    """This session's CSRF token, made at its first form."""
    if not isinstance(session.get("csrf"), str):
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _page(body: str) -> str:
    return f"<!doctype html><meta charset='utf-8'><title>Kakao</title><body>{body}</body>"


def main() -> Flask:
    """The app as ``flask --app web_flask:main run`` serves it, from the environment."""
    from kakao_auth import TokenVault

    return create_app(
        TokenVault(),
        redirect_uri=os.environ.get("KAKAO_REDIRECT_URI", "http://localhost:5000/auth/kakao/callback"),
        session_secret=os.environ["SESSION_SECRET"],
        admin_key=os.environ["KAKAO_ADMIN_KEY"],
        app_id=os.environ["KAKAO_APP_ID"],
    )
