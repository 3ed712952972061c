"""``kakao-auth vault ...``: users, one user's state, refresh, delete, keep-alive, schema, rekey, import.

Each takes ``--vault URL`` (else ``$KAKAO_TOKEN_VAULT``, else ``sqlite:///kakao_tokens.db``).
No command prints a token. ``keep-alive`` draws a progress bar on stderr when it is a terminal
and ends with a summary; its exit status is 0 when every due login was renewed, 1 when a login
died (the user must log in again), 75 (EX_TEMPFAIL) when some could not be refreshed now.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

__all__ = ["COMMAND", "add_arguments", "add_parser", "run"]

HELP = "every user's login in a token vault: users, show, refresh, delete, keep-alive, schema, rekey"
TEMPFAIL = 75


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``vault`` command's own subcommands and options."""
    actions = parser.add_subparsers(dest="vault_command", required=True, metavar="ACTION")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--vault", help="the vault URL (default: $KAKAO_TOKEN_VAULT, else sqlite:///kakao_tokens.db)"
    )
    user = argparse.ArgumentParser(add_help=False)
    user.add_argument("user", help="the user id")
    for name, parents, help_text in (
        ("users", [where], "list the user ids in the vault, one a line"),
        ("show", [where, user], "show a user's login: valid?, expiries, scopes (never a token)"),
        ("refresh", [where, user], "refresh a user's access token now"),
        ("delete", [where, user], "forget a user's login"),
        ("keep-alive", [where], "refresh every user whose refresh token dies soon (run daily)"),
        ("schema", [where], "print the SQL schema (DDL) of the vault's tables"),
        ("rekey", [where], "encrypt every row under the first key of KAKAO_VAULT_KEY"),
    ):
        sub = actions.add_parser(name, parents=parents, help=help_text, description=help_text)
        if name == "keep-alive":
            sub.add_argument(
                "--within", type=float, default=30.0, help="days left that make a login due (30)"
            )
            sub.add_argument("--concurrency", type=int, default=4, help="users refreshed at once (4)")
    # kakao-auth vault import allauth|social-auth DB_URL: the web wing's importers.
    from .vault_import import HELP as IMPORT_HELP
    from .vault_import import add_arguments as import_arguments

    import_arguments(actions.add_parser("import", help=IMPORT_HELP, description=IMPORT_HELP))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``vault`` to a ``kakao-auth`` subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser("vault", help=HELP, description=HELP)
    add_arguments(parser)
    parser.set_defaults(run=run, parser=parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``kakao-auth vault ACTION``."""
    from ..vault import TokenVault

    if args.vault_command == "import":
        from . import vault_import

        return vault_import.run(args, open_vault=TokenVault)
    with TokenVault(args.vault) as vault:
        action: Callable[[Any, argparse.Namespace], int] = _ACTIONS[args.vault_command]
        return action(vault, args)


def _users(vault: Any, args: argparse.Namespace) -> int:
    for user in vault.users():
        print(user)
    return 0


def _show(vault: Any, args: argparse.Namespace) -> int:
    from ..errors import LoginRequired
    from .output import describe

    now = time.time()
    print(f"vault:   {vault.location}")
    print(f"user:    {args.user}")
    try:
        token = vault.load(args.user)
    except LoginRequired as e:
        print(f"login:   none ({e})")
        return 1
    state = token.state(now).value
    print(f"access:  {state}" + (f", expires {describe(token.expires_at, now)}" if token.expires_at else ""))
    if token.refresh_token_expires_at is not None:
        print(f"refresh: dies {describe(token.refresh_token_expires_at, now)}")
    else:
        print("refresh: " + ("present, expiry unknown" if token.refresh_token else "none"))
    print(f"scopes:  {token.scope or '(none recorded)'}")
    return 0


def _refresh(vault: Any, args: argparse.Namespace) -> int:
    from .output import span

    token = vault.refresher(args.user).refresh(None, force=True)
    left = f", valid for {span(token.expires_at - time.time())}" if token.expires_at else ""
    print(f"refreshed user {args.user}{left}")
    return 0


def _delete(vault: Any, args: argparse.Namespace) -> int:
    vault.delete(args.user)
    print(f"deleted user {args.user}")
    return 0


def _keep_alive(vault: Any, args: argparse.Namespace) -> int:
    bar = _Progress() if sys.stderr.isatty() else None
    report = vault.keep_alive(args.within * 86400, concurrency=args.concurrency, progress=bar)
    if bar is not None:
        bar.end()
    for user in report.dead:
        print(f"dead:    user {user}: log the user in again")
    for user in report.failed:
        print(f"failed:  user {user}: {report.reasons.get(user, '')}")
    print(f"keep-alive: {report.summary()}")
    if report.dead:
        return 1
    return TEMPFAIL if report.failed else 0


def _schema(vault: Any, args: argparse.Namespace) -> int:
    sys.stdout.write(vault.schema())
    return 0


def _rekey(vault: Any, args: argparse.Namespace) -> int:
    print(f"re-encrypted {vault.rekey()} rows under the first key of KAKAO_VAULT_KEY")
    return 0


class _Progress:
    """A one-line progress count on stderr (a terminal only), redrawn at most 10 times a second."""

    def __init__(self) -> None:
        self._drawn = 0.0

    def __call__(self, report: Any) -> None:
        now = time.monotonic()
        if now - self._drawn < 0.1:
            return
        self._drawn = now
        sys.stderr.write(f"\rkeep-alive: {report.summary()} ")
        sys.stderr.flush()

    def end(self) -> None:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


_ACTIONS: dict[str, Callable[[Any, argparse.Namespace], int]] = {
    "users": _users,
    "show": _show,
    "refresh": _refresh,
    "delete": _delete,
    "keep-alive": _keep_alive,
    "schema": _schema,
    "rekey": _rekey,
}
COMMAND = (run, add_arguments, HELP)
