"""Importing django-allauth's and social-auth's Kakao logins from real SQLite files of their shape."""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from kakao_auth import ConfigurationError, KakaoAuthError, Token
from kakao_auth.cli import vault_import as import_cli
from kakao_auth.web import import_allauth, import_social_auth

from tests.web_vault import DictVault

AUTH_TIME = 1_796_000_000


def _allauth_db(path: Path) -> str:
    """django-allauth's two tables (socialaccount migrations), a few Kakao rows and a Google one."""
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    account = sa.Table(
        "socialaccount_socialaccount",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("uid", sa.String(191), nullable=False),
        sa.Column("last_login", sa.Text),
        sa.Column("date_joined", sa.Text),
        sa.Column("extra_data", sa.Text, nullable=False, default="{}"),
        sa.Column("user_id", sa.Integer, nullable=False),
    )
    token = sa.Table(
        "socialaccount_socialtoken",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("token_secret", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Text),  # Django's DateTimeField, as SQLite keeps it: text
        sa.Column("account_id", sa.Integer, sa.ForeignKey("socialaccount_socialaccount.id"), nullable=False),
        sa.Column("app_id", sa.Integer),
    )
    meta.create_all(engine)
    rows = [
        (1, "kakao", "1001", "access-1001", "refresh-1001", "2026-12-07 20:00:00"),
        (2, "kakao", "1002", "access-1002", "", "2026-12-07 20:00:00.250000"),
        (3, "kakao", "1003", "bad\ntoken", "refresh-1003", None),
        (4, "google", "g-1", "google-access", "google-refresh", None),
        (5, "kakao", "not-a-kakao-id", "access-x", "refresh-x", None),
        (6, "kakao", "1006", "access-1006", "refresh-1006", "2026-12-07T21:00:00+09:00"),
    ]
    with engine.begin() as db:
        for pk, provider, uid, access, refresh, expires in rows:
            db.execute(
                account.insert().values(id=pk, provider=provider, uid=uid, user_id=pk, extra_data="{}")
            )
            db.execute(
                token.insert().values(token=access, token_secret=refresh, expires_at=expires, account_id=pk)
            )
    engine.dispose()
    return url


def _social_auth_db(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    social = sa.Table(
        "social_auth_usersocialauth",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("uid", sa.String(255), nullable=False),
        sa.Column("extra_data", sa.Text, nullable=False),  # JSONField: text in SQLite
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("created", sa.Text),
        sa.Column("modified", sa.Text),
    )
    meta.create_all(engine)
    full = {
        "access_token": "access-2001",
        "refresh_token": "refresh-2001",
        "expires": 21599,
        "refresh_token_expires_in": 5183999,
        "auth_time": AUTH_TIME,
        "token_type": "bearer",
    }
    rows: list[tuple[str, str, Any]] = [
        ("kakao", "2001", json.dumps(full)),
        (
            "kakao",
            "2002",
            json.dumps({"access_token": "access-2002", "refresh_token": None, "auth_time": AUTH_TIME}),
        ),
        ("kakao", "2003", "{not json"),
        ("kakao", "2004", json.dumps(["a list"])),
        ("naver", "n-1", json.dumps(full)),
    ]
    with engine.begin() as db:
        for pk, (provider, uid, extra) in enumerate(rows, 1):
            db.execute(
                social.insert().values(id=pk, provider=provider, uid=uid, extra_data=extra, user_id=pk)
            )
    engine.dispose()
    return url


def test_allauth_rows_are_imported_and_the_unusable_reported(tmp_path: Path) -> None:
    vault = DictVault()
    seen: list[int] = []
    report = import_allauth(vault, _allauth_db(tmp_path / "allauth.sqlite3"), progress=seen.append)
    assert (report.checked, report.imported) == (5, 2) and seen == [1, 2, 3, 4, 5]
    assert report.no_refresh_token == ["1002"]
    assert [uid for uid, _ in report.invalid] == ["1003", "not-a-kakao-id"]
    assert "bad\ntoken" not in str(report.invalid) and "access-x" not in str(report.invalid)
    token = vault.tokens["1001"]
    assert (token.access_token, token.refresh_token) == ("access-1001", "refresh-1001")
    utc = datetime.datetime(2026, 12, 7, 20, tzinfo=datetime.timezone.utc).timestamp()
    assert token.expires_at == utc  # Django keeps UTC without an offset
    assert vault.tokens["1006"].expires_at == utc - 8 * 3600  # 21:00 in Seoul is 12:00 UTC
    assert sorted(vault.tokens) == ["1001", "1006"]
    assert "1 without a refresh token" in report.summary()


def test_a_dry_run_counts_and_saves_nothing(tmp_path: Path) -> None:
    vault = DictVault()
    report = import_allauth(vault, _allauth_db(tmp_path / "allauth.sqlite3"), dry_run=True)
    assert report.imported == 2 and vault.writes == 0 and "would import 2" in report.summary()


def test_logins_the_vault_holds_are_kept_unless_replace(tmp_path: Path) -> None:
    url = _allauth_db(tmp_path / "allauth.sqlite3")
    vault = DictVault()
    newer = Token(access_token="newer-access", refresh_token="newer-refresh")
    vault.save("1001", newer)
    report = import_allauth(vault, url)
    assert report.existing == ["1001"] and report.imported == 1 and vault.tokens["1001"] == newer
    assert import_allauth(vault, sa.create_engine(url), replace=True).imported == 2  # an Engine works too
    assert vault.tokens["1001"].access_token == "access-1001"


def test_social_auth_rows_are_imported_with_their_expiries(tmp_path: Path) -> None:
    vault = DictVault()
    report = import_social_auth(vault, _social_auth_db(tmp_path / "social.sqlite3"))
    assert (report.checked, report.imported) == (4, 1)
    assert report.no_refresh_token == ["2002"]
    assert dict(report.invalid) == {"2003": "not JSON", "2004": "extra_data is not a JSON object"}
    token = vault.tokens["2001"]
    assert token.expires_at == AUTH_TIME + 21599 and token.refresh_token_expires_at == AUTH_TIME + 5183999


def test_a_database_without_the_tables_or_the_file_is_a_clear_error(tmp_path: Path) -> None:
    url = _social_auth_db(tmp_path / "social.sqlite3")
    with pytest.raises(ConfigurationError, match="socialaccount_socialtoken"):
        import_allauth(DictVault(), url)
    missing = tmp_path / "nothing.sqlite3"
    with pytest.raises(ConfigurationError, match="no SQLite database"):
        import_social_auth(DictVault(), f"sqlite:///{missing}")
    assert not missing.exists()  # not created by looking
    with pytest.raises(ConfigurationError, match="not a database URL"):
        import_social_auth(DictVault(), "::nonsense::")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:hunter2-password@127.0.0.1:9/app",
        "postgresql://app@127.0.0.1:9/app?password=hunter2-password",  # a driver reads it there too
        "postgresql+pg8000://app@127.0.0.1:9/app?sslmode=disable&password=hunter2-password",
    ],
)
def test_a_database_password_never_shows(url: str) -> None:
    with pytest.raises(KakaoAuthError) as info:
        import_allauth(DictVault(), url)
    assert "hunter2" not in str(info.value) and "postgresql://127.0.0.1:9/app" in str(info.value)
    chain = [info.value.__cause__, info.value.__context__]
    assert all(link is None or "hunter2" not in repr(link) for link in chain)


def test_the_command_line_hook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vault = DictVault()
    opened: list[Any] = []
    parser = argparse.ArgumentParser(prog="kakao-auth vault")
    commands = parser.add_subparsers(dest="command", required=True)
    import_cli.add_parser(commands, open_vault=lambda url: opened.append(url) or vault)
    url = _allauth_db(tmp_path / "allauth.sqlite3")
    args = parser.parse_args(["import", "allauth", url, "--dry-run", "--vault", "memory://"])
    assert args.run(args) == 1  # some users must log in again
    out = capsys.readouterr().out
    assert "would import 2" in out and "must log in again: 1002" in out and vault.writes == 0
    assert opened == ["memory://"]
    args = parser.parse_args(["import", "allauth", url])
    assert args.run(args) == 1 and sorted(vault.tokens) == ["1001", "1006"]


def test_kakao_auth_vault_import_is_a_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kakao_auth import TokenVault
    from kakao_auth.cli import main

    url = _allauth_db(tmp_path / "allauth.sqlite3")
    vault_url = f"sqlite:///{tmp_path}/vault.db"
    assert main(["vault", "import", "allauth", url, "--dry-run", "--vault", vault_url]) == 1
    assert "would import 2" in capsys.readouterr().out
    assert main(["vault", "import", "allauth", url, "--vault", vault_url]) == 1  # 1002 must log in again
    with TokenVault(vault_url) as vault:
        assert sorted(vault.users()) == ["1001", "1006"]
