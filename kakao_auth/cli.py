"""``kakao-auth``: log in without copy-pasting, and inspect and use the token file.

Every command takes ``--token-file`` or ``--store`` (a path or a store URL such as
``redis://host:6379/0``; else ``KAKAO_TOKEN_STORE``, ``KAKAO_TOKEN_FILE``, ``./kakao_token.json``)
and honours the library's environment. Expected failures print one line, ``kakao-auth: what
happened; what to do``, and exit 1; usage errors exit 2. An unexpected failure prints one line
naming its type (never its message, which could hold anything) and asks for a bug report;
``-v`` shows the library's log (retries in progress) and ``KAKAO_AUTH_DEBUG=1`` the traceback
too. Only ``kakao-auth token`` prints a token.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import stat
import sys
import threading
import time
import traceback
import webbrowser
from collections.abc import Sequence
from typing import Any, Callable, Optional

import requests

from . import __version__
from .auth import KakaoAuth
from .callback import CallbackServer, is_local_redirect
from .config import KAPI_URL, browser_environment, debug_requested, env_client_id, seconds_setting
from .display import answer_text, escaped_output, tolerate_encodings
from .errors import ConfigurationError, KakaoApiError, KakaoAuthError, LoginRequired, printable
from .inputs import read_field_file, read_line, read_stdin, text_argument
from .oauth import AnswerTooLarge, NoAnswerInTime, bound
from .session import KakaoSession
from .store import FileTokenStore, TokenStore
from .stores import open_store
from .timefmt import describe
from .token import Token
from .vault import cli as vault_cli

__all__ = ["main"]

DEFAULT_REDIRECT_URI = "http://localhost:8765/callback"
# A command's API call, from its connection to its answer's last byte, within this many seconds
# (requests' own timeout bounds each read, not the call: an API host that drips its answer held
# the command for as long as it dripped), and an answer at most this large (it is read whole).
API_TIMEOUT = 30.0
API_LIMIT = 8 << 20
REGISTER_HINT = (
    "Register the redirect URI once under Kakao Developers > My Application > Kakao Login > "
    "Redirect URI (default http://localhost:8765/callback)."
)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit status."""
    tolerate_encodings(sys.stdout, sys.stderr)
    with escaped_output():  # paths, keys and answers come from outside: none drives the terminal
        return _run(parse(argv))


def _run(args: argparse.Namespace) -> int:
    debug = debug_requested()
    show_log(args.verbose or debug)
    try:
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe fails here, not at exit
        return status
    except KakaoAuthError as e:
        return fail(str(e))
    except (NoAnswerInTime, AnswerTooLarge) as e:
        return fail(f"Kakao's API host sent {e}; try again, and check KAKAO_KAPI_URL if it lasts")
    except requests.RequestException as e:
        return fail(f"network error talking to Kakao ({type(e).__name__}); try again")
    except BrokenPipeError:
        return closed_pipe()
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if debug:
            traceback.print_exc()
        hint = "" if debug else "; KAKAO_AUTH_DEBUG=1 shows the traceback"
        return fail(f"unexpected error ({type(e).__name__}): a bug in kakao-auth, please report it{hint}")


def show_log(on: bool) -> None:
    """Show the ``kakao_auth`` log on stderr, one prefixed line each: errors always, all with ``-v``.

    An error is what the command's own result cannot carry: a refresh ahead of expiry that
    found the login dead while the command went on with the still-valid token.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("kakao-auth: %(message)s"))
    logger = logging.getLogger("kakao_auth")
    logger.addHandler(handler)
    if on:
        logger.setLevel(logging.DEBUG if debug_requested() else logging.INFO)
    else:
        handler.setLevel(logging.ERROR)


def closed_pipe() -> int:
    """Stop quietly when the reader went away (``kakao-auth status | head -1``)."""
    # As the Python docs advise: point stdout at devnull so the exit's flush cannot fail again.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 1


def fail(message: str) -> int:
    """Print ``kakao-auth: message`` to stderr (one line) and return the failure status."""
    line = " ".join(message.split())
    with contextlib.suppress(OSError):
        print(f"kakao-auth: {line}", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    """The ``kakao-auth`` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument(
        "--token-file", help="the token file (default: $KAKAO_TOKEN_FILE, else ./kakao_token.json)"
    )
    where.add_argument(
        "--store", help="a token file or a store URL such as redis://host:6379/0 ($KAKAO_TOKEN_STORE)"
    )
    parser = argparse.ArgumentParser(prog="kakao-auth", description="Kakao REST API tokens, kept alive.")
    parser.add_argument("--version", action="version", version=f"kakao-auth {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show what the library does (retries, refreshes)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (run, add_arguments, help_text) in COMMANDS.items():
        # copy names both of its stores, and demo and fake make their own: no --store for them.
        parents = [] if name in ("copy", "demo", "fake", "vault") else [common]
        sub = commands.add_parser(name, parents=parents, help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(run=run, parser=sub)
    return parser


def parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse ``argv``; a stray argument is reported under its subcommand's usage."""
    args, extra = build_parser().parse_known_args(argv)
    if extra:
        args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def store_of(args: argparse.Namespace) -> TokenStore:
    """The token store the command works on: --store, --token-file, or the environment's."""
    return open_store(args.store or args.token_file, client_id=getattr(args, "client_id", None))


def api_session(store: TokenStore, seconds: float = API_TIMEOUT) -> KakaoSession:
    """A session on ``store`` whose every API call is bounded: ``seconds``, ``API_LIMIT`` bytes."""
    return bounded(KakaoSession.from_store(store), seconds)


def bounded(session: KakaoSession, seconds: float = API_TIMEOUT) -> KakaoSession:
    """``session``, its every API call bounded: ``seconds``, ``API_LIMIT`` bytes (oauth.bound)."""
    bound(session, seconds, API_LIMIT)
    return session


def scopes(values: Sequence[str]) -> list[str]:
    """Consent items from ``--scope a b`` and ``--scope a,b`` alike."""
    return [item for value in values for item in value.replace(",", " ").split()]


# -- login ------------------------------------------------------------------------------------


def _login_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--client-id", help="the app's REST API key (default: $KAKAO_REST_API_KEY)")
    # Not type=_text, whose message shows the value: config.py checks the secret without showing it.
    p.add_argument("--client-secret", help="the app's client secret, if on (default: $KAKAO_CLIENT_SECRET)")
    p.add_argument(
        "--redirect-uri", type=_text, default=DEFAULT_REDIRECT_URI, help=f"default {DEFAULT_REDIRECT_URI}"
    )
    p.add_argument(
        "--scope",
        nargs="+",
        type=_text,
        action="extend",
        default=[],
        metavar="ITEM",
        help="consent items to ask for, e.g. --scope talk_message profile_nickname (or a,b)",
    )
    p.add_argument("--no-browser", action="store_true", help="print the URL and read the redirect from stdin")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=300.0,
        help="seconds to wait for the browser's redirect or the paste (default 300)",
    )
    p.epilog = REGISTER_HINT


def _text(value: str) -> str:
    """An argument sent as text: decodable by the terminal's encoding."""
    try:
        return text_argument(value)
    except ConfigurationError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _seconds(text: str) -> float:
    """An option's seconds: finite and above zero (nan or inf would wait for ever)."""
    try:
        return seconds_setting(text, "seconds")
    except ConfigurationError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_login(args: argparse.Namespace) -> int:
    """Log in through the browser (or by pasting) and save the token file."""
    store = store_of(args)
    store.check_writable()  # before the browser: a login that cannot be saved is wasted
    session = bounded(
        KakaoSession(
            args.client_id,
            args.client_secret,
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
        response = session.get(session.kakao_auth.settings.kapi_url + "/v2/user/me", timeout=30)
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


def print_expiries(token: Token) -> None:
    """Print when the access and refresh tokens expire."""
    now = time.time()
    if token.expires_at is not None:
        print(f"Access token expires:  {describe(token.expires_at, now)}")
    if token.refresh_token_expires_at is not None:
        print(f"Refresh token expires: {describe(token.refresh_token_expires_at, now)}")


# -- status, token, refresh --------------------------------------------------------------------


def _status_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the status as JSON")


def cmd_status(args: argparse.Namespace) -> int:
    """Describe the stored login without refreshing or printing a token."""
    store = store_of(args)
    info = status_info(store, store.load(), time.time())
    if args.json:
        print(answer_text(info, getattr(sys.stdout, "encoding", None)))
        return 0
    print_status(info)
    return 0


def status_info(store: TokenStore, token: Token, now: float) -> dict[str, Any]:
    """The facts ``status`` shows, as a JSON-ready dict."""
    return {
        # The path itself (location is its escaped form for messages): printing escapes it.
        "store": store.path if isinstance(store, FileTokenStore) else store.location,
        "client_id": token.client_id or env_client_id(),
        "client_id_from": "token" if token.client_id else ("KAKAO_REST_API_KEY" if env_client_id() else None),
        "client_secret_stored": token.client_secret is not None,
        "scopes": (token.scope or "").split(),
        "access_token": {"expires_at": token.expires_at, "state": token.state(now).value},
        "refresh_token": {
            "present": token.refresh_token is not None,
            "expires_at": token.refresh_token_expires_at,
            "renews_at_next_refresh": token.renews_at_next_refresh(now),
        },
        "permissions": file_mode(store),
    }


def file_mode(store: TokenStore) -> Optional[str]:
    """The token file's permission bits as ``0600``, or None where they do not apply."""
    if not isinstance(store, FileTokenStore) or os.name == "nt":
        return None
    return format(stat.S_IMODE(os.stat(store.path).st_mode), "04o")


def print_status(info: dict[str, Any]) -> None:
    """Print ``status_info`` for people."""
    now = time.time()
    access, refresh = info["access_token"], info["refresh_token"]
    label = "Token file:" if info["permissions"] is not None else "Store:"
    print(f"{label:<14} {info['store']}")
    client_id = info["client_id"] or "(none: set KAKAO_REST_API_KEY or pass --client-id)"
    source = " (from KAKAO_REST_API_KEY)" if info["client_id_from"] == "KAKAO_REST_API_KEY" else ""
    print(f"Client id:     {client_id}{source}")
    print(f"Scopes:        {' '.join(info['scopes']) or '(none recorded)'}")
    print(f"Access token:  {_expiry_text(access['expires_at'], now)} [{access['state']}]")
    if refresh["present"]:
        print(f"Refresh token: {_expiry_text(refresh['expires_at'], now)}")
        renews = "yes (under a month left)" if refresh["renews_at_next_refresh"] else "no"
        print(f"Renews at next refresh: {renews}")
    else:
        print("Refresh token: none (run `kakao-auth login`)")
    mode = info["permissions"]
    if mode is not None:
        private = int(mode, 8) & 0o077 == 0
        warning = "" if private else f"  WARNING: readable by others; run: chmod 600 {info['store']}"
        print(f"Permissions:   {mode}{warning}")


def _expiry_text(at: Optional[float], now: float) -> str:
    return "expiry unknown" if at is None else f"expires {describe(at, now)}"


def cmd_token(args: argparse.Namespace) -> int:
    """Print a valid access token and nothing else (refreshing first if needed)."""
    print(KakaoAuth.from_store(store_of(args)).valid_token().access_token)
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    """Refresh now through the locked path and report the new expiries."""
    auth = KakaoAuth.from_store(store_of(args))
    before = auth.token.refresh_token
    token = auth.refresh()
    print(
        "Refreshed." + (" Kakao issued a new refresh token; saved." if token.refresh_token != before else "")
    )
    print_expiries(token)
    return 0


# -- api, logout ---------------------------------------------------------------------------------


def _api_arguments(p: argparse.ArgumentParser) -> None:
    p.usage = (
        "kakao-auth api [-h] [-d KEY=VALUE] [-f KEY=@FILE] [--timeout S] [--token-file F | --store S] "
        "[METHOD] PATH"
    )
    p.add_argument(
        "words",
        nargs="+",
        type=_text,
        metavar="METHOD PATH",
        help="e.g. /v2/user/me, POST /v1/user/logout, or a full https://kapi.kakao.com/... URL",
    )
    p.add_argument(
        "-d", "--data", action="append", type=_text, default=[], metavar="KEY=VALUE", help="a form field"
    )
    p.add_argument(
        "-f", "--field", action="append", default=[], metavar="KEY=@FILE", help="a form field from a file"
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=API_TIMEOUT,
        help=f"seconds for the whole call, the answer read to its end (default {API_TIMEOUT:g})",
    )


def cmd_api(args: argparse.Namespace) -> int:
    """Call the API host with the token and print the JSON answer."""
    method, path = _method_and_path(args.words)
    fields = dict(_pair(item, from_file=False) for item in args.data)
    fields.update(_pair(item, from_file=True) for item in args.field)
    method = method or ("POST" if fields else "GET")
    session = api_session(store_of(args), args.timeout)
    url = session.kakao_auth.settings.kapi_url + path
    response = session.request(method, url, data=fields or None, timeout=30)
    body = _body(response)
    print(answer_text(body, getattr(sys.stdout, "encoding", None)))
    if response.ok:
        return 0
    return fail(str(KakaoApiError.from_answer(response.status_code, body)))


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _method_and_path(words: list[str]) -> tuple[Optional[str], str]:
    usage = "usage: kakao-auth api [METHOD] PATH, e.g. kakao-auth api POST /v1/user/logout"
    if len(words) == 1:
        return None, _api_path(words[0], usage)
    if len(words) != 2:
        raise ConfigurationError(usage)
    method, path = words
    if method.upper() not in _METHODS:
        if path.upper() in _METHODS:
            raise ConfigurationError(f"the method comes first: kakao-auth api {path.upper()} {method}")
        raise ConfigurationError(f"unknown method {printable(method)!r} (use one of {', '.join(_METHODS)})")
    return method.upper(), _api_path(path, usage)


def _api_path(path: str, usage: str) -> str:
    # A full https://kapi.kakao.com/... URL works as well as its path.
    if path.startswith(KAPI_URL + "/"):
        path = path[len(KAPI_URL) :]
    if not path.startswith("/") or path.startswith("//"):
        raise ConfigurationError(f"{printable(path)!r} is not an API path: {usage}")
    return path


def _pair(item: str, *, from_file: bool) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise KakaoAuthError(f"expected KEY=VALUE, got {item!r}")
    if not from_file:
        return key, value
    if not value.startswith("@"):
        raise KakaoAuthError(f"-f takes KEY=@FILE, got {item!r}")
    return text_argument(key), read_field_file(value[1:])


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        return response.text


def _logout_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--unlink", action="store_true", help="also withdraw the app's consent (unlink)")


def cmd_logout(args: argparse.Namespace) -> int:
    """Revoke the tokens at Kakao, then remove the token file."""
    store = store_of(args)
    session = api_session(store)
    path = "/v1/user/unlink" if args.unlink else "/v1/user/logout"
    try:
        response = session.post(session.kakao_auth.settings.kapi_url + path, timeout=30)
    except LoginRequired:
        response = None  # the refresh token is dead already: nothing is left to revoke
    if response is not None and response.status_code != 401 and not response.ok:
        error = KakaoApiError.from_answer(response.status_code, _body(response))
        return fail(f"{error}; {store.location} was kept")
    store.delete()
    what = "Unlinked" if args.unlink else "Logged out"
    if response is None or response.status_code == 401:
        what = "The login had already ended at Kakao"
    print(f"{what}; removed {store.location}")
    return 0


# -- memo ----------------------------------------------------------------------------------------


def _memo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", type=_text, metavar="TEXT", help="at most 200 characters; - reads it from stdin")
    p.add_argument(
        "--link",
        type=_text,
        metavar="URL",
        help="a web page the message opens (a domain registered for the app)",
    )
    p.add_argument(
        "--button", type=_text, metavar="TITLE", help='the button\'s title instead of "자세히 보기"'
    )


def cmd_memo(args: argparse.Namespace) -> int:
    """Send yourself a KakaoTalk message (the text template)."""
    text = read_stdin().strip() if args.text == "-" else args.text
    api_session(store_of(args)).send_memo(text, link=args.link, button=args.button)
    print("Sent to your KakaoTalk (나와의 채팅).")
    return 0


# -- copy ----------------------------------------------------------------------------------------


def _copy_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="a token file or a store URL")
    p.add_argument("destination", help="a token file or a store URL, e.g. redis://host:6379/0")


def cmd_copy(args: argparse.Namespace) -> int:
    """Copy the token from one store to another (a file path or a URL on either side)."""
    source = open_store(args.source)
    token = source.load()
    destination = open_store(args.destination, client_id=token.client_id)
    KakaoAuth(destination, client_id=token.client_id).core.save(token)  # the one write path
    print(f"Copied the token from {source.location} to {destination.location}")
    return 0


# -- demo ----------------------------------------------------------------------------------------


def _no_arguments(p: argparse.ArgumentParser) -> None:
    pass


def cmd_demo(args: argparse.Namespace) -> int:
    """Tell the whole story offline against the bundled fake Kakao."""
    from .demo import run_demo

    return run_demo()


def _fake_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--token-file",
        default=None,
        help="where to write a logged-in token file (default: the fake's own folder)",
    )
    p.add_argument("--seconds", type=_seconds, default=None, help="stop after this long (default: Ctrl-C)")


def cmd_fake(args: argparse.Namespace) -> int:
    """Run the fake Kakao in the foreground, for trying the commands offline."""
    from .demo import run_fake

    return run_fake(args.token_file, args.seconds)


Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[Command, Callable[[argparse.ArgumentParser], None], str]] = {
    "login": (cmd_login, _login_arguments, "log in with Kakao in the browser and save the token file"),
    "status": (cmd_status, _status_arguments, "show the stored login: client, scopes, expiries, permissions"),
    "token": (cmd_token, _no_arguments, "print a valid access token (and nothing else)"),
    "refresh": (cmd_refresh, _no_arguments, "refresh the access token now"),
    "api": (cmd_api, _api_arguments, "call the Kakao API with the stored token and print the JSON"),
    "memo": (cmd_memo, _memo_arguments, "send yourself a KakaoTalk message"),
    "logout": (cmd_logout, _logout_arguments, "revoke the tokens at Kakao and remove the token file"),
    "copy": (cmd_copy, _copy_arguments, "copy the token between stores, e.g. a file to redis://host:6379/0"),
    "demo": (cmd_demo, _no_arguments, "run the whole story offline against a fake Kakao"),
    "fake": (
        cmd_fake,
        _fake_arguments,
        "run a fake Kakao here and print the exports that point this shell at it",
    ),
}
COMMANDS["vault"] = vault_cli.COMMAND  # kakao-auth vault ...: kakao_auth/vault/cli.py
