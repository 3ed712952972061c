"""Log in with Kakao on a FastAPI site: a memo to yourself, logout, unlink, and the unlink webhook.

    export KAKAO_REST_API_KEY=... KAKAO_CLIENT_SECRET=... KAKAO_ADMIN_KEY=... KAKAO_APP_ID=...
    SESSION_SECRET=... uvicorn web_fastapi:app

The login asks only for what the first page needs (``openid``, ``profile_nickname``); the memo
page asks for ``talk_message`` when Kakao says it is missing (additional consent), and comes
back to send the memo. Users' tokens live in a vault and refresh themselves; the webhook at
``/kakao/unlink`` forgets a user who leaves from Kakao's side.
"""

from __future__ import annotations

import contextlib
import hmac
import html
import os
import secrets
from typing import Any, Optional

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from kakao_auth import ConfigurationError, ConsentRequired, KakaoAuthError, LoginDenied, WebLogin
from kakao_auth.web import Vault, logout, unlink, unlink_asgi_app
from starlette.middleware.sessions import SessionMiddleware

SCOPE = ["openid", "profile_nickname"]
CSRF_FIELD = "csrf_token"


def create_app(
    vault: Vault, *, redirect_uri: str, session_secret: str, admin_key: str, app_id: str
) -> FastAPI:
    """The site, its users' tokens in ``vault``."""
    login = WebLogin(vault, redirect_uri=redirect_uri, scope=SCOPE)
    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key=session_secret, same_site="lax")
    # A route, not app.mount(): a mount answers /kakao/unlink with a redirect, a failure to Kakao.
    webhook = unlink_asgi_app(vault, admin_key=admin_key, app_id=app_id)
    app.add_route("/kakao/unlink", webhook, methods=["GET", "POST"])

    def to_kakao(request: Request, scope: Optional[tuple[str, ...]] = None) -> Response:
        start = login.begin(scope=scope)
        request.session["kakao"] = start.to_dict()
        return RedirectResponse(start.url, status_code=303)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> str:
        user = request.session.get("user")
        if not user:
            return _page('<a href="/login">Log in with Kakao</a>')
        token = f'<input type="hidden" name="{CSRF_FIELD}" value="{_csrf_token(request)}">'
        return _page(
            f"<p>Hello, {html.escape(request.session.get('name', ''))}.</p>"
            f'<form method="post" action="/memo">{token}<input name="text" maxlength="200">'
            "<button>Send me a memo</button></form>"
            f'<form method="post" action="/logout">{token}<button>Log out</button></form>'
            f'<form method="post" action="/unlink">{token}<button>Unlink my Kakao account</button></form>'
        )

    @app.get("/login")
    def start_login(request: Request) -> Response:
        return to_kakao(request)

    @app.get("/auth/kakao/callback")
    def callback(request: Request) -> Response:
        try:
            user = login.complete(str(request.url), request.session.pop("kakao", None))
        except LoginDenied:
            return HTMLResponse(_page('You cancelled. <a href="/login">Try again</a>'))
        except KakaoAuthError as e:
            return HTMLResponse(_page(f"The login failed: {html.escape(str(e))}"), status_code=400)
        request.session.update(user=user.id, name=str(user.claims.get("nickname", "")))
        return RedirectResponse("/" if "memo" not in request.session else "/memo", status_code=303)

    @app.post("/memo")
    def memo(request: Request, text: str = Form(...), csrf_token: str = Form("")) -> Response:
        _check_csrf(request, csrf_token)
        request.session["memo"] = text
        return RedirectResponse("/memo", status_code=303)

    @app.get("/memo")
    def send_memo(request: Request) -> Response:
        user, text = request.session.get("user"), request.session.get("memo")
        if not user or not text:
            return RedirectResponse("/", status_code=303)
        try:
            vault.session(user).send_memo(text)
        except ConsentRequired as err:  # ask for just what is missing, then come back here
            if err.required_scopes:  # else Kakao did not say which: asking again would loop
                with contextlib.suppress(ConfigurationError):  # items a login cannot ask for
                    return to_kakao(request, err.required_scopes)
            return HTMLResponse(_page(f"Not sent: {html.escape(str(err))}"), status_code=502)
        except KakaoAuthError as e:
            return HTMLResponse(_page(f"Not sent: {html.escape(str(e))}"), status_code=502)
        del request.session["memo"]
        return HTMLResponse(_page('Sent: look in your KakaoTalk. <a href="/">Back</a>'))

    @app.post("/logout")
    def do_logout(request: Request, csrf_token: str = Form("")) -> Response:
        _check_csrf(request, csrf_token)
        return _leave(request, logout, vault)

    @app.post("/unlink")
    def do_unlink(request: Request, csrf_token: str = Form("")) -> Response:
        _check_csrf(request, csrf_token)
        return _leave(request, unlink, vault)

    return app


def _leave(request: Request, how: Any, vault: Vault) -> Response:
    user = request.session.get("user")
    if user:
        how(vault, user)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


def _csrf_token(request: Request) -> str:
    """This session's CSRF token, made at its first form."""
    if not isinstance(request.session.get("csrf"), str):
        request.session["csrf"] = secrets.token_urlsafe(32)
    return str(request.session["csrf"])


def _check_csrf(request: Request, given: str) -> None:
    """Refuse a POST without this session's CSRF token (a form another site made the browser send).

    ``same_site="lax"`` already keeps the cookie off such a POST in today's browsers; the token
    holds in the others too.
    """
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=403, detail="this form is not from this site")


def _page(body: str) -> str:
    return f"<!doctype html><meta charset='utf-8'><title>Kakao</title><body>{body}</body>"


def main() -> FastAPI:
    """The app as ``uvicorn web_fastapi:app`` serves it, from the environment."""
    from kakao_auth import TokenVault

    return create_app(
        TokenVault(),
        redirect_uri=os.environ.get("KAKAO_REDIRECT_URI", "http://localhost:8000/auth/kakao/callback"),
        session_secret=os.environ["SESSION_SECRET"],
        admin_key=os.environ["KAKAO_ADMIN_KEY"],
        app_id=os.environ["KAKAO_APP_ID"],
    )


if os.environ.get("SESSION_SECRET"):
    app = main()
