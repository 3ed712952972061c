"""The SQL vault's statements: what one refresh asks of the database, and pooled connections.

A refresh is three statements (the read, the claim at the version read, the fenced save), each
committing by itself: no BEGIN and COMMIT round trips, no second read after the claim. A pooled
connection is pinged only after it sat idle, and one that died meanwhile is replaced, not failed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kakao_auth import TokenVault
from kakao_auth.testing import FakeKakao
from kakao_auth.testing.postgres_server import PostgresServer
from kakao_auth.vault.sql_engine import PING_AFTER_IDLE


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path, fake_kakao: FakeKakao) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/vault.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"sql_{time.monotonic_ns()}")


def _statements(vault: TokenVault) -> list[tuple[str, bool]]:
    """Each statement the vault's engine sends from now on: its verb, and whether in autocommit."""
    from sqlalchemy import event

    seen: list[tuple[str, bool]] = []

    def record(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        dbapi = conn.connection.dbapi_connection
        alone = dbapi.isolation_level is None if conn.dialect.name == "sqlite" else dbapi.autocommit
        seen.append((statement.split()[0].upper(), bool(alone)))

    event.listen(vault.backend.engine, "before_cursor_execute", record)  # type: ignore[attr-defined]
    return seen


def test_a_refresh_is_three_statements_each_committing_by_itself(fake_kakao: FakeKakao, sql_url: str) -> None:
    vault = TokenVault(sql_url)
    vault.save(1, fake_kakao.issue_tokens(user_id=1, access_ttl=0))
    sent = _statements(vault)
    vault.refresher(1).refresh(None)
    assert fake_kakao.refresh_calls == 1
    # The read, the claim (at the version read: the row claimed is the row the holder goes on
    # from), the fenced save; no BEGIN or COMMIT around any of them.
    assert sent == [("SELECT", True), ("UPDATE", True), ("UPDATE", True)]


def test_a_new_login_is_one_transaction(fake_kakao: FakeKakao, sql_url: str) -> None:
    vault = TokenVault(sql_url)
    vault.save(1, fake_kakao.issue_tokens(user_id=1))  # the table is made on first use
    sent = _statements(vault)
    vault.save(2, fake_kakao.issue_tokens(user_id=2))
    assert sent == [("UPDATE", False), ("INSERT", False)]  # the row is not there yet: both, or neither


def test_a_pooled_connection_used_a_moment_ago_is_not_pinged(
    fake_kakao: FakeKakao, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = TokenVault(postgres.create_database("pings"))
    vault.save(1, fake_kakao.issue_tokens(user_id=1))
    dialect: Any = vault.backend.engine.dialect  # type: ignore[attr-defined]
    pings: list[object] = []
    real = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda c: pings.append(c) or real(c))
    for _ in range(3):
        vault.load(1)
    assert pings == []  # a round trip before each statement would double them
    time.sleep(PING_AFTER_IDLE + 0.1)
    vault.load(1)
    assert len(pings) == 1


def test_a_connection_idle_through_a_database_restart_is_replaced_not_failed(
    fake_kakao: FakeKakao, postgres: PostgresServer
) -> None:
    vault = TokenVault(postgres.create_database("idle_restart"), connect_timeout=5)
    vault.save(1, fake_kakao.issue_tokens(user_id=1))
    assert vault.load(1).access_token
    postgres.stop()
    postgres.start()
    time.sleep(PING_AFTER_IDLE + 0.1)
    assert vault.load(1).access_token  # the dead pooled connection was found by the ping


def _recipe_engine(path: Path) -> Any:
    """An app's own SQLite engine as SQLAlchemy's pysqlite recipe makes it: it sends BEGIN itself."""
    from sqlalchemy import create_engine, event

    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def test_a_refresh_through_an_apps_own_sqlite_engine_is_saved(fake_kakao: FakeKakao, tmp_path: Path) -> None:
    vault = TokenVault(_recipe_engine(tmp_path / "app.db"))
    vault.save(1, fake_kakao.issue_tokens(user_id=1, access_ttl=0))
    fake_kakao.shorten_refresh_tokens(86400)  # Kakao rotates the refresh token at this refresh
    new = vault.refresher(1).refresh(None)
    stored = TokenVault(f"sqlite:///{tmp_path / 'app.db'}").load(1)
    assert stored.refresh_token == new.refresh_token  # an autocommit shortcut left it uncommitted
    assert fake_kakao.refresh_token_alive(stored.refresh_token)


def test_an_apps_own_connections_come_back_as_lent(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, event, text

    app = create_engine(f"sqlite:///{tmp_path / 'app.db'}")

    @event.listens_for(app, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the app writes in the driver's autocommit

    with app.begin() as c:
        c.execute(text("CREATE TABLE t (x INTEGER)"))
    TokenVault(app).backend.read("someone")  # type: ignore[attr-defined]  # borrows the connection
    with app.connect() as c:
        c.execute(text("INSERT INTO t VALUES (2)"))
    with create_engine(f"sqlite:///{tmp_path / 'app.db'}").connect() as c:
        assert c.execute(text("SELECT x FROM t")).fetchall() == [(2,)]


def test_connections_dropped_while_kakao_answers_do_not_lose_the_rotated_token(
    fake_kakao: FakeKakao, postgres: PostgresServer
) -> None:
    import threading

    from sqlalchemy import create_engine, text

    url = postgres.create_database("dropped")
    vault = TokenVault(url, connect_timeout=5)
    vault.save(1, fake_kakao.issue_tokens(user_id=1, access_ttl=0))
    fake_kakao.shorten_refresh_tokens(86400)
    fake_kakao.token_gate = threading.Event()
    refreshed: list[Any] = []
    holder = threading.Thread(target=lambda: refreshed.append(vault.refresher(1).refresh(None)))
    holder.start()
    deadline = time.monotonic() + 30
    while fake_kakao.token_calls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:  # a failover, a restart: the vault's connections are gone
        c.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()
    fake_kakao.token_gate.set()
    holder.join(30)
    assert refreshed, "the refresh failed"
    stored = TokenVault(url).load(1)
    assert stored.refresh_token == refreshed[0].refresh_token
    assert fake_kakao.refresh_token_alive(stored.refresh_token)


def _drop_answers(backend: Any, drop: Any) -> None:
    """Make the statements ``drop(kind)`` picks land, then lose their answer with the connection."""
    import contextlib

    from sqlalchemy.exc import DBAPIError

    class Lost(Exception):
        pass

    class Dropping:
        def __init__(self, real: Any, kind: str) -> None:
            self.real, self.kind = real, kind

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        @contextlib.contextmanager
        def _dropping(self, opened: Any) -> Any:
            with opened as c:
                yield c
            if drop(self.kind):
                raise DBAPIError(
                    "lost", None, Lost("server closed the connection"), connection_invalidated=True
                )

        def begin(self) -> Any:
            return self._dropping(self.real.begin())

        def connect(self) -> Any:
            return self._dropping(self.real.connect())

    backend.engine = Dropping(backend.engine, "transaction")
    backend._single = Dropping(backend._single, "single")


def test_a_fenced_save_whose_answer_was_lost_is_found_in_the_row(
    fake_kakao: FakeKakao, tmp_path: Path
) -> None:
    from kakao_auth import KakaoSession

    vault = TokenVault(f"sqlite:///{tmp_path / 'v.db'}")
    vault.save(1, fake_kakao.issue_tokens(user_id=1))
    session = KakaoSession.from_store(vault.store(1))
    wanted = dict(session.token, access_token="set-by-hand-" + "x" * 40)
    sent = _statements(vault)
    dropped: list[str] = []

    def drop(kind: str) -> bool:  # the save, the second UPDATE (the claim is the first), once
        saving = kind == "single" and [verb for verb, _ in sent].count("UPDATE") == 2
        if saving and not dropped:
            dropped.append(kind)
            return True
        return False

    _drop_answers(vault.backend, drop)
    session.token = wanted  # landed, answer lost, sent again: fenced off by itself
    assert dropped == ["single"]
    assert vault.load(1).access_token == wanted["access_token"]


def test_a_new_login_whose_answer_was_lost_is_not_sent_again(fake_kakao: FakeKakao, tmp_path: Path) -> None:
    from kakao_auth import TokenStoreError

    vault = TokenVault(f"sqlite:///{tmp_path / 'v.db'}")
    vault.save(1, fake_kakao.issue_tokens(user_id=1))
    sent = _statements(vault)
    _drop_answers(vault.backend, lambda kind: kind == "transaction")
    with pytest.raises(TokenStoreError):  # sent again, it could overwrite a save made meanwhile
        vault.save(1, fake_kakao.issue_tokens(user_id=1))
    assert [verb for verb, _ in sent] == ["UPDATE"]


def test_a_failed_save_keeps_the_tokens_out_of_the_error_chain(fake_kakao: FakeKakao, tmp_path: Path) -> None:
    import sqlite3

    from kakao_auth import KakaoAuthError

    from tests.conftest import exception_chain

    path = tmp_path / "v.db"
    vault = TokenVault(f"sqlite:///{path}")
    vault.save(1, fake_kakao.issue_tokens(user_id=1, access_ttl=0))
    with sqlite3.connect(path) as db:  # another program refuses every change of the token
        db.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE OF access_token ON kakao_tokens "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(KakaoAuthError) as info:
        vault.refresher(1).refresh(None)
    issued = [*fake_kakao._access, *fake_kakao._refresh]  # every token the fake has issued
    for error in exception_chain(info.value):
        assert not any(token in str(error) for token in issued), type(error).__name__
