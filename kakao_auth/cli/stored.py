"""The commands on the stored login: status, token, refresh, logout and copy.

Only ``kakao-auth token`` prints a token; ``status`` describes the login without refreshing it
(its client id, scopes, expiries and the file's permissions), ``copy`` refuses to overwrite
another login in the destination.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
import time
from typing import Any, Optional

from ..api import LOGOUT_PATH, UNLINK_PATH
from ..clients import KakaoAuth
from ..config import env_client_id
from ..errors import ConfigurationError, KakaoApiError, KakaoAuthError, LoginRequired
from ..stores import FileTokenStore, TokenStore, open_store
from ..token import Token
from .api import answer_body
from .options import api_session, store_of
from .output import answer_text, describe, fail, print_expiries


def status_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``kakao-auth status``."""
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
        **client_id_info(token.client_id, env_client_id()),
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


def client_id_info(stored: Optional[str], env: Optional[str]) -> dict[str, Optional[str]]:
    """The client id a refresh will send, where it comes from, and the other one when they differ.

    A refresh sends ``KAKAO_REST_API_KEY`` over the file's ``client_id`` (config.py: the
    environment before the token file): status shows that one, not the file's.
    """
    used = env or stored
    return {
        "client_id": used,
        "client_id_from": "KAKAO_REST_API_KEY" if env else ("token" if stored else None),
        "client_id_stored": stored,
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
    print(f"Client id:     {_client_id_text(info)}")
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


def _client_id_text(info: dict[str, Any]) -> str:
    used, stored = info["client_id"], info["client_id_stored"]
    if used is None:
        return "(none: set KAKAO_REST_API_KEY, or run `kakao-auth login`, which stores it)"
    if info["client_id_from"] != "KAKAO_REST_API_KEY":
        return str(used)
    if stored is None or stored == used:
        return f"{used} (from KAKAO_REST_API_KEY)"
    return (
        f"{used} (from KAKAO_REST_API_KEY, which a refresh uses; the token file says {stored}: "
        "if the login is the file's app, unset KAKAO_REST_API_KEY)"
    )


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


def logout_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``kakao-auth logout``."""
    p.add_argument("--unlink", action="store_true", help="also withdraw the app's consent (unlink)")


def cmd_logout(args: argparse.Namespace) -> int:
    """Revoke the tokens at Kakao, then remove the token file."""
    store = store_of(args)
    session = api_session(store)
    path = UNLINK_PATH if args.unlink else LOGOUT_PATH
    try:
        response = session.post(session.kakao_auth.settings.kapi_url + path, timeout=30)
    except LoginRequired:
        response = None  # the refresh token is dead already: nothing is left to revoke
    if response is not None and response.status_code != 401 and not response.ok:
        error = KakaoApiError.from_answer(response.status_code, answer_body(response))
        return fail(f"{error}; {store.location} was kept")
    store.delete()
    what = "Unlinked" if args.unlink else "Logged out"
    if response is None or response.status_code == 401:
        what = "The login had already ended at Kakao"
    print(f"{what}; removed {store.location}")
    return 0


def copy_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``kakao-auth copy``."""
    p.add_argument("source", help="a token file or a store URL")
    p.add_argument("destination", help="a token file or a store URL, e.g. redis://host:6379/0")
    p.add_argument("--force", action="store_true", help="replace another login the destination holds")


def cmd_copy(args: argparse.Namespace) -> int:
    """Copy the token from one store to another (a file path or a URL on either side)."""
    source = open_store(args.source)
    token = source.load()
    destination = open_store(args.destination, client_id=token.client_id)
    if same_store(source, destination):
        raise ConfigurationError(f"{source.location} is both the source and the destination: nothing to copy")
    if not args.force:
        refuse_another_login(destination, token)
    KakaoAuth(destination, client_id=token.client_id).core.save(token)  # the one write path
    print(f"Copied the token from {source.location} to {destination.location}")
    return 0


def same_store(a: TokenStore, b: TokenStore) -> bool:
    """Whether ``a`` and ``b`` are one store: one file (by any path or link), or one location."""
    if isinstance(a, FileTokenStore) and isinstance(b, FileTokenStore):
        with contextlib.suppress(OSError):
            return os.path.samefile(a.path, b.path)
        return os.path.realpath(a.path) == os.path.realpath(b.path)
    return type(a) is type(b) and a.location == b.location


def refuse_another_login(destination: TokenStore, token: Token) -> None:
    """Raise unless ``destination`` is empty or holds this login (the same refresh token).

    Overwriting another live login loses it for good: its refresh token exists nowhere else.
    """
    try:
        held = destination.load()
    except KakaoAuthError:  # nothing there, or nothing usable: no login to lose
        return
    if held.refresh_token is not None and held.refresh_token != token.refresh_token:
        raise ConfigurationError(
            f"{destination.location} holds another login, which the copy would replace for good: "
            "pass --force to replace it, or choose another destination"
        )
