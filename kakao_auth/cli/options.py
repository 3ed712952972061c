"""The options every command shares, and the checks of what the command line gives.

``--token-file``/``--store`` and ``-v`` may come before the command or after it; the API calls a
command makes are bounded (30 s, 8 MiB); a text argument must be decodable, a duration finite.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..clients import KakaoSession
from ..config import seconds_setting
from ..errors import ConfigurationError
from ..net import bound
from ..stores import TokenStore, open_store
from .inputs import text_argument

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


BEFORE = {"verbose": "verbose_before", "token_file": "token_file_before", "store": "store_before"}


def where_arguments(p: argparse.ArgumentParser, before: bool) -> None:
    """``--token-file`` and ``--store``, before the command (``before``) or after it."""
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--token-file",
        dest=BEFORE["token_file"] if before else "token_file",
        help="the token file (default: $KAKAO_TOKEN_FILE, else ./kakao_token.json)",
    )
    where.add_argument(
        "--store",
        dest=BEFORE["store"] if before else "store",
        help="a token file or a store URL such as redis://host:6379/0 ($KAKAO_TOKEN_STORE)",
    )


def verbose_argument(p: argparse.ArgumentParser, before: bool) -> None:
    """``-v``, before the command (``before``) or after it."""
    p.add_argument(
        "-v",
        "--verbose",
        dest=BEFORE["verbose"] if before else "verbose",
        action="store_true",
        help="show what the library does (retries, refreshes)",
    )


def merge_before(args: argparse.Namespace) -> None:
    """Fold the options given before the command into the command's own (or refuse them)."""
    args.verbose = args.verbose or getattr(args, BEFORE["verbose"])
    for name in ("token_file", "store"):
        value = getattr(args, BEFORE[name])
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if not hasattr(args, name):  # copy and demo name no store of their own; fake no --store
            args.parser.error(f"{flag} does not apply to kakao-auth {args.command}")
        if getattr(args, name) is not None and getattr(args, name) != value:
            args.parser.error(f"{flag} was given twice (before and after {args.command})")
        setattr(args, name, value)
    if getattr(args, "token_file", None) is not None and getattr(args, "store", None) is not None:
        args.parser.error("argument --store: not allowed with argument --token-file")


def store_of(args: argparse.Namespace) -> TokenStore:
    """The token store the command works on: --store, --token-file, or the environment's."""
    return open_store(args.store or args.token_file, client_id=getattr(args, "client_id", None))


def api_session(store: TokenStore, seconds: float = API_TIMEOUT) -> KakaoSession:
    """A session on ``store`` whose every API call is bounded: ``seconds``, ``API_LIMIT`` bytes."""
    return bounded(KakaoSession.from_store(store), seconds)


def bounded(session: KakaoSession, seconds: float = API_TIMEOUT) -> KakaoSession:
    """``session``, its every API call bounded: ``seconds``, ``API_LIMIT`` bytes (net.bound)."""
    bound(session, seconds, API_LIMIT)
    return session


def scopes(values: Sequence[str]) -> list[str]:
    """Consent items from ``--scope a b`` and ``--scope a,b`` alike."""
    return [item for value in values for item in value.replace(",", " ").split()]


def text_arg(value: str) -> str:
    """An argument sent as text: decodable by the terminal's encoding."""
    try:
        return text_argument(value)
    except ConfigurationError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def seconds_arg(text: str) -> float:
    """An option's seconds: finite and above zero (nan or inf would wait for ever)."""
    try:
        return seconds_setting(text, "seconds")
    except ConfigurationError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def no_arguments(p: argparse.ArgumentParser) -> None:
    """A command with no arguments of its own."""
    pass
