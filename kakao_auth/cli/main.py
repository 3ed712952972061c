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
import sys
import traceback
from collections.abc import Sequence
from typing import Callable, Optional

import requests

from .. import __version__
from ..config import debug_requested
from ..errors import KakaoAuthError
from ..net import AnswerTooLarge, NoAnswerInTime
from . import vault
from .api import api_arguments, cmd_api, cmd_memo, memo_arguments
from .login import cmd_login, login_arguments
from .options import merge_before, no_arguments, seconds_arg, verbose_argument, where_arguments
from .output import escaped_output, fail, tolerate_encodings
from .stored import (
    cmd_copy,
    cmd_logout,
    cmd_refresh,
    cmd_status,
    cmd_token,
    copy_arguments,
    logout_arguments,
    status_arguments,
)

__all__ = ["COMMANDS", "build_parser", "main", "parse"]


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


def build_parser() -> argparse.ArgumentParser:
    """The ``kakao-auth`` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    where_arguments(common, before=False)
    parser = argparse.ArgumentParser(prog="kakao-auth", description="Kakao REST API tokens, kept alive.")
    parser.add_argument("--version", action="version", version=f"kakao-auth {__version__}")
    verbose_argument(parser, before=True)
    where_arguments(parser, before=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (run, add_arguments, help_text) in COMMANDS.items():
        # copy names both of its stores, and demo and fake make their own: no --store for them.
        parents = [] if name in ("copy", "demo", "fake", "vault") else [common]
        sub = commands.add_parser(name, parents=parents, help=help_text, description=help_text)
        verbose_argument(sub, before=False)
        add_arguments(sub)
        sub.set_defaults(run=run, parser=sub)
    return parser


def parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse ``argv``; a stray argument is reported under its subcommand's usage."""
    args, extra = build_parser().parse_known_args(argv)
    if extra:
        args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
    merge_before(args)
    return args


def cmd_demo(args: argparse.Namespace) -> int:
    """Tell the whole story offline against the bundled fake Kakao."""
    from .demo import run_demo

    return run_demo()


def fake_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--token-file",
        default=None,
        help="where to write a logged-in token file (default: the fake's own folder)",
    )
    p.add_argument("--seconds", type=seconds_arg, default=None, help="stop after this long (default: Ctrl-C)")


def cmd_fake(args: argparse.Namespace) -> int:
    """Run the fake Kakao in the foreground, for trying the commands offline."""
    from .demo import run_fake

    return run_fake(args.token_file, args.seconds)


Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[Command, Callable[[argparse.ArgumentParser], None], str]] = {
    "login": (cmd_login, login_arguments, "log in with Kakao in the browser and save the token file"),
    "status": (cmd_status, status_arguments, "show the stored login: client, scopes, expiries, permissions"),
    "token": (cmd_token, no_arguments, "print a valid access token (and nothing else)"),
    "refresh": (cmd_refresh, no_arguments, "refresh the access token now"),
    "api": (cmd_api, api_arguments, "call the Kakao API with the stored token and print the JSON"),
    "memo": (cmd_memo, memo_arguments, "send yourself a KakaoTalk message"),
    "logout": (cmd_logout, logout_arguments, "revoke the tokens at Kakao and remove the token file"),
    "copy": (cmd_copy, copy_arguments, "copy the token between stores, e.g. a file to redis://host:6379/0"),
    "demo": (cmd_demo, no_arguments, "run the whole story offline against a fake Kakao"),
    "fake": (
        cmd_fake,
        fake_arguments,
        "run a fake Kakao here and print the exports that point this shell at it",
    ),
    "vault": vault.COMMAND,  # kakao-auth vault ...: every user's login in a token vault
}
