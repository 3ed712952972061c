"""Log in with Kakao on a Django site, in one file: settings, views and URLs.

    export KAKAO_REST_API_KEY=... KAKAO_CLIENT_SECRET=... KAKAO_ADMIN_KEY=... KAKAO_APP_ID=...
    SESSION_SECRET=... python web_django.py runserver

The same site as web_fastapi.py: the login asks for ``openid`` and ``profile_nickname``, the
memo asks for ``talk_message`` when Kakao says it is missing (additional consent). The unlink
webhook is a view (``csrf_exempt``: Kakao sends no CSRF token; the admin key is its check).
Sessions are signed cookies, so the site needs no database of its own beside the vault.
"""

from __future__ import annotations

import contextlib
import html
import os
import sys
from typing import Any, Optional

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from kakao_auth import ConfigurationError, ConsentRequired, KakaoAuthError, LoginDenied, WebLogin
from kakao_auth.web import UnlinkWebhook, Vault, logout, unlink

SCOPE = ["openid", "profile_nickname"]


class Site:
    """What the views share: the vault, the login and the webhook."""

    def __init__(self, vault: Vault, *, redirect_uri: str, admin_key: str, app_id: str) -> None:
        self.vault = vault
        self.login = WebLogin(vault, redirect_uri=redirect_uri, scope=SCOPE)
        self.webhook = UnlinkWebhook(vault, admin_key=admin_key, app_id=app_id)


site: Optional[Site] = None


def configure(
    vault: Vault, *, redirect_uri: str, session_secret: str, admin_key: str, app_id: str, hosts: list[str]
) -> None:
    """Set Django up for this site (once per process), its users' tokens in ``vault``."""
    global site
    site = Site(vault, redirect_uri=redirect_uri, admin_key=admin_key, app_id=app_id)
    if settings.configured:
        return
    settings.configure(
        SECRET_KEY=session_secret,
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=hosts,
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        INSTALLED_APPS=["django.contrib.sessions"],
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        CSRF_COOKIE_SAMESITE="Lax",
        USE_TZ=True,
    )
    django.setup()


def _site() -> Site:
    assert site is not None, "call configure() first"
    return site


def _to_kakao(request: HttpRequest, scope: Optional[tuple[str, ...]] = None) -> HttpResponse:
    start = _site().login.begin(scope=scope)
    request.session["kakao"] = start.to_dict()
    return HttpResponseRedirect(start.url, status=303)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The page: a login link, or the memo form and the ways to leave."""
    if not request.session.get("user"):
        return _page('<a href="/login">Log in with Kakao</a>')
    token = f'<input type="hidden" name="csrfmiddlewaretoken" value="{get_token(request)}">'
    return _page(
        f"<p>Hello, {html.escape(request.session.get('name', ''))}.</p>"
        f'<form method="post" action="/memo">{token}<input name="text" maxlength="200">'
        "<button>Send me a memo</button></form>"
        f'<form method="post" action="/logout">{token}<button>Log out</button></form>'
        f'<form method="post" action="/unlink">{token}<button>Unlink my Kakao account</button></form>'
    )


@require_GET
def start_login(request: HttpRequest) -> HttpResponse:
    """Off to Kakao's login page."""
    return _to_kakao(request)


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """Kakao's redirect back: the login completed and saved, or why not."""
    try:
        user = _site().login.complete(request.build_absolute_uri(), request.session.pop("kakao", None))
    except LoginDenied:
        return _page('You cancelled. <a href="/login">Try again</a>')
    except KakaoAuthError as e:
        return _page(f"The login failed: {html.escape(str(e))}", status=400)
    request.session.update({"user": user.id, "name": str(user.claims.get("nickname", ""))})
    return HttpResponseRedirect("/memo" if "memo" in request.session else "/", status=303)


def memo(request: HttpRequest) -> HttpResponse:
    """POST: keep the text and go send it; GET: send it, asking for consent first if needed."""
    if request.method == "POST":
        request.session["memo"] = request.POST.get("text", "")
        return HttpResponseRedirect("/memo", status=303)
    user, text = request.session.get("user"), request.session.get("memo")
    if not user or not text:
        return HttpResponseRedirect("/", status=303)
    try:
        _site().vault.session(user).send_memo(text)
    except ConsentRequired as err:  # ask for just what is missing, then come back here
        if err.required_scopes:  # else Kakao did not say which: asking again would loop
            with contextlib.suppress(ConfigurationError):  # items a login cannot ask for
                return _to_kakao(request, err.required_scopes)
        return _page(f"Not sent: {html.escape(str(err))}", status=502)
    except KakaoAuthError as e:
        return _page(f"Not sent: {html.escape(str(e))}", status=502)
    del request.session["memo"]
    return _page('Sent: look in your KakaoTalk. <a href="/">Back</a>')


@require_POST
def do_logout(request: HttpRequest) -> HttpResponse:
    """Log out of Kakao for this site, and of the site."""
    return _leave(request, logout)


@require_POST
def do_unlink(request: HttpRequest) -> HttpResponse:
    """Unlink the Kakao account from the site, and log out of it."""
    return _leave(request, unlink)


@csrf_exempt
def kakao_unlink(request: HttpRequest) -> HttpResponse:
    """The unlink webhook Kakao calls (register ``https://<site>/kakao/unlink``)."""
    webhook = _site().webhook
    authorization = request.headers.get("Authorization", "").encode("latin-1", "replace")
    length = request.META.get("CONTENT_LENGTH") or ""
    refused = webhook.refusal(request.method or "", authorization, int(length) if length.isdigit() else None)
    query = request.META.get("QUERY_STRING", "").encode("latin-1", "replace")
    status, text = refused or webhook.answer(request.method or "", authorization, query, request.body)
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _leave(request: HttpRequest, how: Any) -> HttpResponse:
    user = request.session.get("user")
    if user:
        how(_site().vault, user)
    request.session.flush()
    return HttpResponseRedirect("/", status=303)


def _page(body: str, status: int = 200) -> HttpResponse:
    page = f"<!doctype html><meta charset='utf-8'><title>Kakao</title><body>{body}</body>"
    return HttpResponse(page, status=status)


urlpatterns = [
    path("", home),
    path("login", start_login),
    path("auth/kakao/callback", callback),
    path("memo", memo),
    path("logout", do_logout),
    path("unlink", do_unlink),
    path("kakao/unlink", kakao_unlink),
]


if __name__ == "__main__":
    from django.core.management import execute_from_command_line
    from kakao_auth import TokenVault

    configure(
        TokenVault(),
        redirect_uri=os.environ.get("KAKAO_REDIRECT_URI", "http://localhost:8000/auth/kakao/callback"),
        session_secret=os.environ["SESSION_SECRET"],
        admin_key=os.environ["KAKAO_ADMIN_KEY"],
        app_id=os.environ["KAKAO_APP_ID"],
        hosts=["localhost", "127.0.0.1"],
    )
    execute_from_command_line(sys.argv)
