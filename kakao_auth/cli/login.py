"""``kakao-auth login``: the browser (or a paste) brings Kakao's redirect, the session saves the login.

The browser is opened only where one can be (a desktop session, not ssh or CI), the local
callback server (callback.py) waits for the redirect within ``--timeout``, and a paste is read
within the same deadline. The greeting names the user from ``/v2/user/me``; a login that saved
is never failed because that call did not answer.
"""

from __future__ import annotations

import argparse
import sys
import threading
import webbrowser
from typing import Any, Callable, Optional

import requests

from ..api import USER_ME_PATH
from ..clients import KakaoSession
from ..config import browser_environment
from ..errors import KakaoAuthError, printable
from .callback import CallbackServer, is_local_redirect
from .inputs import read_line
from .options import DEFAULT_REDIRECT_URI, REGISTER_HINT, bounded, scopes, seconds_arg, store_of, text_arg
from .output import print_expiries


def login_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``kakao-auth login``."""
    p.add_argument("--client-id", help="the app's REST API key (default: $KAKAO_REST_API_KEY)")
    # Not type=text_arg, whose message shows the value: config.py checks the secret without showing it.
    p.add_argument("--client-secret", help="the app's client secret, if on (default: $KAKAO_CLIENT_SECRET)")
    p.add_argument(
        "--redirect-uri", type=text_arg, default=DEFAULT_REDIRECT_URI, help=f"default {DEFAULT_REDIRECT_URI}"
    )
    p.add_argument(
        "--scope",
        nargs="+",
        type=text_arg,
        action="extend",
        default=[],
        metavar="ITEM",
        help="consent items to ask for, e.g. --scope talk_message profile_nickname (or a,b)",
    )
    p.add_argument("--no-browser", action="store_true", help="print the URL and read the redirect from stdin")
    p.add_argument(
        "--timeout",
        type=seconds_arg,
        default=300.0,
        help="seconds to wait for the browser's redirect or the paste (default 300)",
    )
    p.epilog = REGISTER_HINT


def cmd_login(args: argparse.Namespace) -> int:
    """Log in through the browser (or by pasting) and save the token file."""
    store = store_of(args)
    store.check_writable()  # before the browser: a login that cannot be saved is wasted
    session = bounded(
        KakaoSession(
            args.client_id,
            client_secret=args.client_secret,
            redirect_uri=args.redirect_uri,
            scope=scopes(args.scope) or None,
            store=store,
        )
    )
    url, state = session.authorization_url()
    if args.no_browser or not is_local_redirect(args.redirect_uri) or not can_open_browser():
        redirected = paste_redirect(url, args.timeout)
    else:
        redirected = browser_redirect(url, state, args.redirect_uri, args.timeout)
    session.fetch_token(authorization_response=redirected)
    me = profile(session)
    who = f" as {nickname(me)} (id {printable(str(me.get('id')))})" if me else ""
    print(f"Logged in{who}. Saved {store.location}")
    print_expiries(session.kakao_auth.token)
    return 0


def profile(session: KakaoSession) -> dict[str, Any]:
    """The ``/v2/user/me`` answer, or ``{}`` if it cannot be read: the login is saved either way."""
    try:
        response = session.get(session.kakao_auth.settings.kapi_url + USER_ME_PATH, timeout=30)
        body = response.json() if response.ok else None
    except (requests.RequestException, ValueError, RecursionError, KakaoAuthError):
        return {}
    return body if isinstance(body, dict) else {}


def can_open_browser() -> bool:
    """Whether a graphical browser can be opened here (not over SSH without a display)."""
    browser, display = browser_environment()
    if browser:
        return True
    if sys.platform.startswith("linux") and not display:
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def browser_redirect(url: str, state: str, redirect_uri: str, timeout: float) -> str:
    """Open the browser at ``url`` and receive Kakao's redirect on the local server."""
    with CallbackServer(redirect_uri, state) as server:  # bound first: a busy port fails fast
        print(f"Opening the browser to log in with Kakao (waiting up to {timeout:g}s)...", flush=True)
        if open_browser(url) is False:
            return paste_redirect(url, timeout)
        return server.wait(timeout, advice=f". If the browser shows KOE006: {REGISTER_HINT}")


def open_browser(url: str, patience: float = 3.0) -> Optional[bool]:
    """Open ``url`` in a browser without ever blocking the login; None: still opening.

    A ``BROWSER`` such as w3m or lynx runs in this terminal until the user quits it, so
    ``webbrowser.open`` does not return while the login goes on: it runs in a thread of its own,
    and the callback server answers meanwhile.
    """
    result: list[bool] = []

    def run() -> None:
        try:
            result.append(webbrowser.open(url))
        except Exception:  # a broken BROWSER setting is a browser that did not open
            result.append(False)

    opener = threading.Thread(target=run, name="kakao-auth-browser", daemon=True)
    opener.start()
    opener.join(patience)
    return result[0] if result else None


def paste_redirect(url: str, timeout: float) -> str:
    """Print ``url`` and read the redirected URL (or the bare code) from stdin, within ``timeout``."""
    print("Open this URL in a browser and log in:\n\n  " + url + "\n", flush=True)
    print("Then paste the address the browser was redirected to (or just the code):", flush=True)
    line = _within(timeout, read_line)
    if line is None:
        raise KakaoAuthError(
            f"nothing was pasted within {timeout:g}s; run `kakao-auth login` again "
            "(--timeout gives more time)"
        )
    if not line.strip():
        raise KakaoAuthError("nothing was pasted; run `kakao-auth login` again")
    return line.strip()


def _within(seconds: float, read: Callable[[], str]) -> Optional[str]:
    """``read()``, or None when it has not returned within ``seconds`` (a stdin that never ends)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(read())
        except BaseException as e:  # handed to the caller, which raises it
            outcome.append(e)

    reader = threading.Thread(target=run, name="kakao-auth-paste", daemon=True)  # never joins the exit
    reader.start()
    reader.join(seconds)
    if not outcome:
        return None
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return str(outcome[0])


def nickname(me: dict[str, Any]) -> str:
    """The nickname in a ``/v2/user/me`` answer, or a placeholder; safe to print."""
    props = _object(me.get("properties"))
    account = _object(_object(me.get("kakao_account")).get("profile"))
    name = props.get("nickname") or account.get("nickname")
    return printable(str(name)) if name else "(no nickname consented)"


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
