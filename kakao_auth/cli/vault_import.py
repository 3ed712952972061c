"""``kakao-auth vault import allauth|social-auth DB_URL``: the command-line face of web/importers.py.

Wired into the ``vault`` command group by cli/vault.py (``add_arguments`` and ``run``);
``add_parser(vault_commands, open_vault=...)`` adds it to any other subparsers object.

``open_vault`` turns ``--vault`` (None: ``$KAKAO_TOKEN_VAULT``) into a vault. Progress goes to
stderr when it is a terminal; the summary, and the users who must log in again, to stdout. The
exit status is 0 when every row was imported or already held, 1 when some users must log in
again or had unusable rows.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Optional, TextIO

from ..errors import printable
from ..web import ALLAUTH, SOCIAL_AUTH, ImportReport, Vault, import_allauth, import_social_auth

__all__ = ["add_arguments", "add_parser", "run"]

OpenVault = Callable[[Optional[str]], Vault]
HELP = "copy the Kakao logins django-allauth or social-auth keep into the vault"
_PROGRESS_EVERY = 100


def add_parser(commands: Any, *, open_vault: OpenVault) -> argparse.ArgumentParser:
    """Add ``import`` to the ``vault`` group's subparsers ``commands``; return its parser."""
    parser: argparse.ArgumentParser = commands.add_parser("import", help=HELP, description=HELP)
    add_arguments(parser)
    parser.set_defaults(run=lambda args: run(args, open_vault=open_vault), parser=parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``vault import``."""
    parser.add_argument(
        "source", choices=(ALLAUTH, SOCIAL_AUTH), help="the login library whose tables to read"
    )
    parser.add_argument(
        "db_url",
        metavar="DB_URL",
        help="the app's database as a SQLAlchemy URL (read only), e.g. sqlite:///db.sqlite3",
    )
    parser.add_argument("--vault", help="the vault's URL (default: $KAKAO_TOKEN_VAULT)")
    parser.add_argument("--dry-run", action="store_true", help="read and count, save nothing")
    parser.add_argument("--replace", action="store_true", help="replace logins the vault already holds")


def run(
    args: argparse.Namespace,
    *,
    open_vault: OpenVault,
    out: Optional[TextIO] = None,
    err: Optional[TextIO] = None,
) -> int:
    """Run ``vault import``; return the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    vault = open_vault(args.vault)
    do = import_allauth if args.source == ALLAUTH else import_social_auth
    report = do(vault, args.db_url, dry_run=args.dry_run, replace=args.replace, progress=_progress(err))
    if err.isatty():
        err.write("\n")
    _print(report, out)
    return 1 if report.no_refresh_token or report.invalid else 0


def _progress(err: TextIO) -> Optional[Callable[[int], None]]:
    if not err.isatty():
        return None  # quiet in a pipe or a log: the summary says it all

    def show(checked: int) -> None:
        if checked % _PROGRESS_EVERY == 0:
            err.write(f"\rkakao-auth: {checked} logins read")
            err.flush()

    return show


def _print(report: ImportReport, out: TextIO) -> None:
    print(report.summary(), file=out)
    for uid in report.no_refresh_token:
        print(f"  no refresh token, must log in again: {uid}", file=out)
    for uid, problem in report.invalid:
        print(f"  unusable row for {printable(uid, 40)}: {problem}", file=out)
