"""TokenVault: every user's login, one refresh per user per expiry, on every backend.

Real things only: the fake Kakao over HTTPS, SQLite files, a real PostgreSQL server (started
here as Debian's binaries allow), a real redis-server, real processes and threads.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kakao_auth import (
    ConfigurationError,
    LoginRequired,
    Token,
    TokenStoreConflict,
    TokenStoreError,
    TokenVault,
)
from kakao_auth.testing import FakeKakao, RedisServer
from kakao_auth.testing.postgres_server import PostgresServer
from kakao_auth.testing.vault_workers import run_vault_workers

from tests.conftest import REPORT, exception_chain, must_run

ME = "/v2/user/me"
BACKENDS = ["memory", "sqlite", "postgresql", "redis"]
SHARED = ["sqlite", "postgresql", "redis"]  # backends several processes share
ROWS = ["memory", "sqlite", "postgresql"]  # backends of rows (base.RowBackend)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        must_run("redis-server")
    with RedisServer() as server:
        yield server


_databases = iter(range(1, 10**6))


def _url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "memory":
        return f"memory://test-{next(_databases)}-{os.getpid()}"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/vault.db"
    if kind == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.create_database(f"vault_{next(_databases)}")
    server_r: RedisServer = request.getfixturevalue("redis_server")
    return server_r.url.rsplit("/", 1)[0] + f"/{next(_databases) % 16}"


def _empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = _url(request.param, request, tmp_path)
    if request.param == "redis":
        import redis

        redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(params=BACKENDS)
def vault_url(request: pytest.FixtureRequest, tmp_path: Path, fake_kakao: FakeKakao) -> str:
    return _empty_url(request, tmp_path)


@pytest.fixture(params=SHARED)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path, fake_kakao: FakeKakao) -> str:
    return _empty_url(request, tmp_path)


@pytest.fixture(params=ROWS)
def row_url(request: pytest.FixtureRequest, tmp_path: Path, fake_kakao: FakeKakao) -> str:
    return _url(request.param, request, tmp_path)


def _set_row(vault: TokenVault, user: str, **columns: Any) -> None:
    """Write ``columns`` of ``user``'s row behind the vault's back (another program, garbage)."""
    backend: Any = vault.backend
    if hasattr(backend, "engine"):
        import sqlalchemy

        sets = ", ".join(f"{name} = :{name}" for name in columns)  # untyped: garbage goes in as it is
        with backend.engine.begin() as c:
            c.execute(
                sqlalchemy.text(f"UPDATE {backend.table.name} SET {sets} WHERE user_id = :user"),  # noqa: S608
                {**columns, "user": user},
            )
        return
    import dataclasses

    row = backend._rows[user]
    fields = {k: columns.pop(k) for k in list(columns) if k in row.fields}
    backend._rows[user] = dataclasses.replace(row, fields={**row.fields, **fields}, **columns)


def _login(fake: FakeKakao, vault: TokenVault, user: int, **kwargs: Any) -> Token:
    return vault.save(user, fake.issue_tokens(user_id=user, **kwargs))


def _me(vault: TokenVault, user: int) -> Any:
    response = vault.session(user).get(os.environ["KAKAO_KAPI_URL"] + ME, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["id"]


# -- user ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1.5, None, b"42", True, ["1"]])
def test_a_user_id_of_another_type_is_a_type_error(bad: Any) -> None:
    vault = TokenVault("memory://")
    with pytest.raises(TypeError):
        vault.load(bad)


@pytest.mark.parametrize("bad", ["", "x" * 256, "a\nb", "a\x00b", "a\x1b[31m"])
def test_a_bad_user_id_is_a_value_error(bad: str) -> None:
    vault = TokenVault("memory://")
    with pytest.raises(ValueError, match="user id"):
        vault.save(bad, Token("abc"))


def test_int_and_str_ids_are_one_user(fake_kakao: FakeKakao) -> None:
    vault = TokenVault("memory://")
    saved = _login(fake_kakao, vault, 42)
    assert vault.load("42") == saved
    assert list(vault.users()) == ["42"]
    # The longest id is accepted:
    vault.save("x" * 255, saved)
    assert "x" * 255 in set(vault.users())


# -- the basics on every backend --------------------------------------------------------------


def test_save_load_delete_and_users(fake_kakao: FakeKakao, vault_url: str) -> None:
    vault = TokenVault(vault_url)
    with pytest.raises(LoginRequired, match="no login for user 7"):
        vault.load(7)
    first = _login(fake_kakao, vault, 7)
    _login(fake_kakao, vault, 8)
    assert vault.load(7).access_token == first.access_token
    assert vault.load(7).client_id == fake_kakao.client_id  # kept, for later refreshes
    assert sorted(vault.users()) == ["7", "8"]
    vault.delete(7)
    vault.delete(7)  # absent already: not an error
    assert list(vault.users()) == ["8"]
    with pytest.raises(LoginRequired):
        vault.session(7)


def test_each_user_calls_kakao_as_themself_and_refreshes_once(fake_kakao: FakeKakao, vault_url: str) -> None:
    vault = TokenVault(vault_url)
    for user in (1, 2, 3):
        _login(fake_kakao, vault, user, access_ttl=0)
    assert [_me(vault, u) for u in (1, 2, 3, 1, 2, 3)] == [1, 2, 3, 1, 2, 3]
    assert fake_kakao.refresh_calls_by_user == {1: 1, 2: 1, 3: 1}
    # Another process (a second vault on the same URL) adopts the saved tokens: no refresh.
    if not vault_url.startswith("memory"):
        assert _me(TokenVault(vault_url), 2) == 2
        assert fake_kakao.refresh_calls == 3


def test_rotation_is_saved_and_an_answer_without_refresh_token_keeps_it(
    fake_kakao: FakeKakao, vault_url: str
) -> None:
    vault = TokenVault(vault_url)
    kept = _login(fake_kakao, vault, 1, access_ttl=0)
    rotating = _login(fake_kakao, vault, 2, access_ttl=0, refresh_ttl=20 * 86400)
    assert _me(vault, 1) == 1 and _me(vault, 2) == 2
    one, two = vault.load(1), vault.load(2)
    assert one.refresh_token == kept.refresh_token  # Kakao sent none: the stored one stays
    assert one.refresh_token_expires_at == pytest.approx(kept.refresh_token_expires_at, abs=0.01)
    assert two.refresh_token != rotating.refresh_token  # rotated, and saved before the call returned
    assert fake_kakao.refresh_token_alive(two.refresh_token)
    assert not fake_kakao.refresh_token_alive(rotating.refresh_token)
    assert two.refresh_token_expires_at is not None and rotating.refresh_token_expires_at is not None
    assert two.refresh_token_expires_at > rotating.refresh_token_expires_at  # per user


def test_a_dead_login_is_remembered_in_the_vault_for_that_user_only(
    fake_kakao: FakeKakao, vault_url: str
) -> None:
    vault = TokenVault(vault_url)
    _login(fake_kakao, vault, 1, access_ttl=0)
    _login(fake_kakao, vault, 2, access_ttl=0)
    fake_kakao.revoke_user(1)
    with pytest.raises(LoginRequired):
        vault.session(1).get(fake_kakao.kapi_url + ME)
    calls = fake_kakao.token_calls
    # Another vault on the same database (another process or machine): Kakao is not asked again.
    other = TokenVault(vault_url) if not vault_url.startswith("memory://test") else vault
    with pytest.raises(LoginRequired, match="KOE322"):
        other.load(1)
    with pytest.raises(LoginRequired):
        other.refresher(1).refresh(None, force=True)
    assert fake_kakao.token_calls == calls
    assert _me(vault, 2) == 2  # no other user is affected
    assert "1" in set(vault.users())  # kept, marked: not deleted
    assert "1" not in set(vault.expiring(10**9))  # and no keep-alive asks Kakao for it
    _login(fake_kakao, vault, 1)  # a new login clears it
    assert _me(other, 1) == 1


def _refresh_held_at_kakao(
    fake: FakeKakao, vault_url: str
) -> tuple[TokenVault, TokenVault, threading.Event, threading.Thread, list[Any]]:
    """User 5's call refreshing, held at Kakao: its vault, another one, the gate, the call, its answer."""
    vault = TokenVault(vault_url)
    _login(fake, vault, 5, access_ttl=0)
    session = vault.session(5)
    fake.token_gate = gate = threading.Event()
    seen: list[Any] = []
    worker = threading.Thread(target=lambda: seen.append(session.get(fake.kapi_url + ME)))
    worker.start()
    _wait_for(lambda: fake.token_calls == 1)
    other = TokenVault(vault_url) if not vault_url.startswith("memory") else vault
    return vault, other, gate, worker, seen


def test_a_new_login_wins_over_a_refresh_under_way(fake_kakao: FakeKakao, vault_url: str) -> None:
    vault, other, gate, worker, seen = _refresh_held_at_kakao(fake_kakao, vault_url)
    started = time.monotonic()
    new = _login(fake_kakao, other, 5)  # does not wait for the refresh held at Kakao
    assert time.monotonic() - started < 5
    gate.set()
    worker.join(30)
    assert seen[0].status_code == 200
    assert seen[0].request.headers["Authorization"] == f"Bearer {new.access_token}"
    assert vault.load(5).access_token == new.access_token  # the refresh's own save was fenced off


def test_a_refresh_of_a_deleted_login_never_overwrites_the_next_login(
    fake_kakao: FakeKakao, vault_url: str
) -> None:
    # The row's version must not start again where the deleted row's did: the refresh in
    # flight read the old row's version, and would pass the fence of the new row.
    vault, other, gate, worker, seen = _refresh_held_at_kakao(fake_kakao, vault_url)
    other.delete(5)  # the user logs out, then logs in again
    new = _login(fake_kakao, other, 5)
    gate.set()
    worker.join(30)
    assert seen[0].status_code == 200
    stored = vault.load(5)
    assert stored.access_token == new.access_token
    assert stored.refresh_token == new.refresh_token


def test_koe322_after_another_worker_rotated_is_recovered(fake_kakao: FakeKakao, vault_url: str) -> None:
    vault = TokenVault(vault_url, retries=0)
    _login(fake_kakao, vault, 3, access_ttl=0)
    session = vault.session(3)
    fake_kakao.fail_token("KOE322")
    fake_kakao.token_gate = gate = threading.Event()
    seen: list[Any] = []
    worker = threading.Thread(target=lambda: seen.append(session.get(fake_kakao.kapi_url + ME)))
    worker.start()
    _wait_for(lambda: fake_kakao.token_calls == 1)
    other = TokenVault(vault_url) if not vault_url.startswith("memory") else vault
    rotated = _login(fake_kakao, other, 3)  # the row moves while Kakao answers KOE322
    gate.set()
    worker.join(30)
    assert seen[0].status_code == 200  # the stored token was adopted: the call succeeds
    assert vault.load(3).access_token == rotated.access_token  # and the row is not marked dead


def test_a_holder_whose_lease_was_taken_adopts_instead_of_killing_the_login(
    fake_kakao: FakeKakao, row_url: str
) -> None:
    from kakao_auth.oauth import TokenEndpoint

    vault = TokenVault(row_url, lease=0.5, lock_timeout=10, retries=0)
    _login(fake_kakao, vault, 1, access_ttl=0, refresh_ttl=86400)  # rotation month: rotated at once
    a_go, b_at_save, b_go = threading.Event(), threading.Event(), threading.Event()

    class Stalled(TokenEndpoint):
        def post(self, form: Any) -> Any:
            a_go.wait(30)  # a pause (GC, network) past the lease
            return super().post(form)

    a = vault.refresher(1)
    a.endpoint = Stalled(vault.endpoint.url, timeout=10, retries=0)
    b = vault.refresher(1)
    real_save = b.store.save

    def slow_save(token: Token, *, previous: Any = None) -> None:
        b_at_save.set()  # Kakao rotated the refresh token A holds; not saved yet
        b_go.wait(30)
        real_save(token, previous=previous)

    b.store.save = slow_save  # type: ignore[method-assign]
    out: dict[str, Any] = {}

    def run(name: str, refresher: Any) -> None:
        try:
            out[name] = refresher.refresh(None).access_token
        except Exception as e:  # the outcome is what is checked
            out[name] = e

    threads = [threading.Thread(target=run, args=("a", a))]
    threads[0].start()
    time.sleep(0.7)  # A's lease ran out
    threads.append(threading.Thread(target=run, args=("b", b)))
    threads[1].start()
    assert b_at_save.wait(30)
    a_go.set()  # A posts the rotated-away refresh token: KOE322
    _wait_for(lambda: fake_kakao.token_calls == 2)
    time.sleep(0.7)  # B's lease runs out too: a slow save
    assert vault.backend.read("1").dead is None  # type: ignore[attr-defined]
    b_go.set()
    for t in threads:
        t.join(30)
    assert out["b"] == out["a"] == vault.load(1).access_token  # A adopted B's token
    assert fake_kakao.refresh_token_alive(vault.load(1).refresh_token)


def test_a_save_never_overwrites_a_newer_token(fake_kakao: FakeKakao, vault_url: str) -> None:
    vault = TokenVault(vault_url)
    old = _login(fake_kakao, vault, 9)
    new = _login(fake_kakao, vault, 9)
    store = vault.store(9)
    with store.lock(), pytest.raises(TokenStoreConflict):
        store.save(Token.from_response(fake_kakao.issue_tokens(user_id=9), time.time()), previous=old)
    assert vault.load(9).access_token == new.access_token


def test_users_do_not_wait_for_each_other_in_one_process(fake_kakao: FakeKakao, vault_url: str) -> None:
    vault = TokenVault(vault_url)
    _login(fake_kakao, vault, 1, access_ttl=0)
    _login(fake_kakao, vault, 2, access_ttl=0)
    fake_kakao.token_gate = gate = threading.Event()
    worker = threading.Thread(target=lambda: vault.session(1).get(fake_kakao.kapi_url + ME))
    worker.start()
    _wait_for(lambda: fake_kakao.token_calls == 1)
    fake_kakao.token_gate = None  # user 1's refresh stays held at Kakao; user 2's goes through
    assert _me(vault, 2) == 2
    gate.set()
    worker.join(30)
    assert fake_kakao.refresh_calls_by_user == {1: 1, 2: 1}


def test_the_hot_path_reads_no_database(fake_kakao: FakeKakao, vault_url: str) -> None:
    vault = TokenVault(vault_url)
    _login(fake_kakao, vault, 1)
    _me(vault, 1)
    before = vault.backend.rows_read
    for _ in range(20):
        _me(vault, 1)
    assert vault.backend.rows_read == before


# -- across processes -------------------------------------------------------------------------


@pytest.mark.parametrize("processes", [8, pytest.param(32, marks=pytest.mark.long)], ids=["8x4", "32x4"])
def test_processes_x_4_threads_on_one_expired_user_make_one_token_call(
    fake_kakao: FakeKakao, shared_url: str, tmp_path: Path, processes: int
) -> None:
    vault = TokenVault(shared_url)
    _login(fake_kakao, vault, 77, access_ttl=0, refresh_ttl=20 * 86400)
    reports = run_vault_workers(
        shared_url,
        fake_kakao.kapi_url + ME,
        ["77"] * processes,
        threads=4,
        meeting_place=str(tmp_path),
        env=fake_kakao.environ(),
    )
    assert [f for r in reports for f in r["failed"]] == []
    assert sum(r["ok"] for r in reports) == processes * 4
    assert fake_kakao.token_calls == 1
    assert fake_kakao.refresh_token_alive(vault.load(77).refresh_token)  # the rotated one, saved
    REPORT.append(
        f"vault {shared_url.split(':')[0]}: {processes}x4 on one user, 1 token call, all served "
        f"{max(r['end'] for r in reports) - reports[0]['released']:.2f}s after release"
    )


def test_32_users_in_8_processes_reach_kakao_at_once(
    fake_kakao: FakeKakao, shared_url: str, tmp_path: Path
) -> None:
    vault = TokenVault(shared_url)
    for user in range(100, 132):
        _login(fake_kakao, vault, user, access_ttl=0)
    fake_kakao.token_gate = gate = threading.Event()
    in_flight: list[int] = []

    def open_when_all_arrive() -> None:
        # A backend that held a lock across Kakao's answer would let one user's refresh through
        # at a time: the 32 refreshes would never be at Kakao together.
        deadline = time.monotonic() + 60
        while fake_kakao.token_calls < 32 and time.monotonic() < deadline:
            time.sleep(0.005)
        in_flight.append(fake_kakao.token_calls)
        gate.set()

    opener = threading.Thread(target=open_when_all_arrive)
    reports = run_vault_workers(
        shared_url,
        fake_kakao.kapi_url + ME,
        [",".join(str(u) for u in range(first, first + 4)) for first in range(100, 132, 4)],
        threads=4,
        meeting_place=str(tmp_path),
        env=fake_kakao.environ(),
        before_go=opener.start,
    )
    opener.join()
    assert [f for r in reports for f in r["failed"]] == []
    assert in_flight == [32]
    assert fake_kakao.refresh_calls == 32


KILLED_HOLDER = """
import sys, time
from kakao_auth import TokenVault
vault = TokenVault(sys.argv[1], lease=float(sys.argv[3]))
with vault.store(sys.argv[2]).lock():
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_holder_blocks_its_user_until_the_lease_runs_out_and_no_other(
    fake_kakao: FakeKakao, shared_url: str
) -> None:
    vault = TokenVault(shared_url, lease=1.5)
    _login(fake_kakao, vault, 1, access_ttl=0)
    _login(fake_kakao, vault, 2, access_ttl=0)
    env = {**os.environ, **fake_kakao.environ()}
    holder = subprocess.Popen(
        [sys.executable, "-c", KILLED_HOLDER, shared_url, "1", "1.5"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    assert _me(vault, 2) == 2  # another user: not held up at all
    assert _me(vault, 1) == 1  # this user: once the lease ran out
    waited = time.monotonic() - started
    assert waited < 15
    assert fake_kakao.refresh_calls_by_user == {1: 1, 2: 1}


# -- bad input, bad rows, bad databases ------------------------------------------------------


def test_a_row_of_garbage_names_the_user_not_the_token(fake_kakao: FakeKakao, tmp_path: Path) -> None:
    import sqlalchemy

    url = f"sqlite:///{tmp_path}/v.db"
    vault = TokenVault(url)
    token = _login(fake_kakao, vault, 4)
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as c:
        c.execute(sqlalchemy.text("UPDATE kakao_tokens SET expires_at = 'soon', scope = 'a\nb'"))
    with pytest.raises(TokenStoreError, match="user 4") as caught:
        vault.load(4)
    assert token.access_token not in str(caught.value)
    assert all(token.access_token not in str(e) for e in exception_chain(caught.value))


@pytest.mark.parametrize(
    ("columns", "words"),
    [
        ({"lease_owner": "x", "lease_until": "soon"}, "its lease_until is not a number"),
        ({"version": 2**63 - 1}, "its version is not a whole number"),  # +1 would overflow
        ({"refresh_token_expires_at": "abc"}, "is unusable: refresh_token_expires_at is not a number;"),
        ({"dead": "KOE322\nALERT: forged line\x1b[2J"}, "Kakao answered KOE322 ALERT: forged line"),
    ],
    ids=["lease", "version", "expiry", "dead"],
)
def test_bookkeeping_garbage_is_a_typed_error_naming_the_user(
    fake_kakao: FakeKakao, tmp_path: Path, columns: dict[str, Any], words: str
) -> None:
    vault = TokenVault(f"sqlite:///{tmp_path}/v.db", lock_timeout=2)
    token = _login(fake_kakao, vault, 4, access_ttl=0)
    assert token.access_token not in repr(vault.backend.read("4"))  # type: ignore[attr-defined]
    _set_row(vault, "4", **columns)
    with pytest.raises(TokenStoreError, match="user 4") as caught:
        vault.refresher(4).refresh(None)
    message = str(caught.value)
    assert words in message and "\n" not in message and "\x1b" not in message
    assert token.access_token not in message
    assert isinstance(caught.value, LoginRequired) == ("dead" in columns)
    _login(fake_kakao, vault, 4, access_ttl=0)  # a new login puts it right
    assert _me(vault, 4) == 4


def test_a_foreign_table_of_the_same_name_is_refused_not_altered(
    tmp_path: Path, fake_kakao: FakeKakao
) -> None:
    import sqlalchemy

    url = f"sqlite:///{tmp_path}/app.db"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as c:
        c.execute(sqlalchemy.text("CREATE TABLE kakao_tokens (id INTEGER PRIMARY KEY, note TEXT)"))
        c.execute(sqlalchemy.text("INSERT INTO kakao_tokens VALUES (1, 'mine')"))
    vault = TokenVault(engine)  # the app's own Engine
    with pytest.raises(TokenStoreError, match="not a kakao_auth vault table"):
        vault.save(1, Token("abc"))
    with engine.connect() as c:
        assert c.execute(sqlalchemy.text("SELECT * FROM kakao_tokens")).all() == [(1, "mine")]
    assert TokenVault(engine, table="kakao_logins").save(1, Token("abc"))


def test_a_database_that_is_down_or_refuses_the_password_is_a_bounded_typed_error(
    postgres: PostgresServer, fake_kakao: FakeKakao
) -> None:
    wrong = postgres.url.replace(postgres.password, "wrong-password-123")
    started = time.monotonic()
    with pytest.raises(TokenStoreError, match="password authentication failed") as caught:
        TokenVault(wrong).load(1)
    assert "wrong-password-123" not in str(caught.value)
    down = TokenVault("postgresql://app:s3cret-pw@127.0.0.1:9/app", connect_timeout=2)
    assert "s3cret-pw" not in down.location
    with pytest.raises(TokenStoreError) as caught:
        down.load(1)
    assert "s3cret-pw" not in str(caught.value)
    assert all("s3cret-pw" not in str(e) for e in exception_chain(caught.value))
    assert time.monotonic() - started < 20


def test_the_apps_own_postgresql_engine_gets_bounded_lock_waits(
    postgres: PostgresServer, fake_kakao: FakeKakao
) -> None:
    import sqlalchemy

    url = postgres.create_database("own_engine").replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sqlalchemy.create_engine(url)  # the app's: no lock_timeout of ours in it
    vault = TokenVault(engine, connect_timeout=1)
    _login(fake_kakao, vault, 1)
    with sqlalchemy.create_engine(url).connect() as other, other.begin():
        other.execute(sqlalchemy.text("LOCK TABLE kakao_tokens IN ACCESS EXCLUSIVE MODE"))  # a migration
        seen: list[BaseException] = []

        def load() -> None:
            try:
                vault.load(1)
            except BaseException as e:  # the outcome is what is checked
                seen.append(e)

        waiting = threading.Thread(target=load, daemon=True)
        waiting.start()
        waiting.join(10)  # unbounded, it would wait for the migration for ever
        assert not waiting.is_alive()
    assert isinstance(seen[0], TokenStoreError) and "lock timeout" in str(seen[0])
    assert vault.load(1)  # the lock gone, it works again
    with engine.connect() as c:  # the app's own sessions are left as they were
        assert c.execute(sqlalchemy.text("SHOW lock_timeout")).scalar() == "0"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_machine_whose_clock_runs_ahead_does_not_take_a_live_lease(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fake_kakao: FakeKakao,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    import kakao_auth.vault.base
    import kakao_auth.vault.row_store

    url = _url(kind, request, tmp_path)
    _login(fake_kakao, TokenVault(url), 1, access_ttl=0)
    fake_kakao.token_gate = gate = threading.Event()
    holder = threading.Thread(target=lambda: TokenVault(url).refresher(1).refresh(None))
    holder.start()  # claims the user, then waits at Kakao
    _wait_for(lambda: fake_kakao.token_calls == 1)
    # Another machine, its clock two minutes ahead (NTP off): past this lease by its own clock.
    real = time.time
    ahead = types.SimpleNamespace(time=lambda: real() + 120, monotonic=time.monotonic, sleep=time.sleep)
    monkeypatch.setattr(kakao_auth.vault.base, "time", ahead)
    monkeypatch.setattr(kakao_auth.vault.row_store, "time", ahead)
    seen: list[Token] = []
    other = threading.Thread(target=lambda: seen.append(TokenVault(url).refresher(1).refresh(None)))
    other.start()
    time.sleep(0.5)
    gate.set()
    holder.join(30)
    other.join(30)
    assert fake_kakao.token_calls == 1  # the other machine waited for the lease, and adopted
    assert seen[0].access_token == TokenVault(url).load(1).access_token


def test_a_database_restarted_mid_refresh_is_a_typed_error_then_works_again(
    postgres: PostgresServer, fake_kakao: FakeKakao
) -> None:
    url = postgres.create_database("restarted")
    vault = TokenVault(url, connect_timeout=2)
    _login(fake_kakao, vault, 1, access_ttl=0)
    _login(fake_kakao, vault, 2, access_ttl=0)
    _me(vault, 1)
    postgres.stop()
    try:
        with pytest.raises(TokenStoreError):
            vault.session(2).get(fake_kakao.kapi_url + ME)
    finally:
        postgres.start()
    assert _me(vault, 2) == 2
    assert _me(vault, 1) == 1


def test_a_sqlite_database_locked_past_the_timeout_is_a_typed_error(
    fake_kakao: FakeKakao, tmp_path: Path
) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path}/v.db"
    vault = TokenVault(url, connect_timeout=0.5)
    _login(fake_kakao, vault, 1)
    blocker = sqlite3.connect(tmp_path / "v.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        started = time.monotonic()
        with pytest.raises(TokenStoreError, match="locked"):
            _login(fake_kakao, vault, 1)
        assert time.monotonic() - started < 10
        assert vault.load(1)  # reads go on meanwhile (WAL)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_a_lease_far_ahead_is_free_and_a_new_login_clears_the_lease(
    fake_kakao: FakeKakao, row_url: str
) -> None:
    vault = TokenVault(row_url, lease=5, lock_timeout=2)
    _login(fake_kakao, vault, 1, access_ttl=0)
    # A lease no clock like ours granted (a machine's clock years ahead, or garbage): not waited for.
    _set_row(vault, "1", lease_owner="ghost", lease_until=time.time() + 10**6)
    assert _me(vault, 1) == 1
    # A live lease of the old login does not hold up the new one.
    _set_row(vault, "1", lease_owner="ghost", lease_until=time.time() + 8)
    _login(fake_kakao, vault, 1, access_ttl=0)
    row = vault.backend.read("1")  # type: ignore[attr-defined]
    assert row.lease_owner is None and row.lease_until is None
    assert _me(vault, 1) == 1  # its refresh is not held up either


# -- expiring and keep-alive ------------------------------------------------------------------


def test_expiring_lists_only_the_due_users(fake_kakao: FakeKakao, vault_url: str) -> None:
    vault = TokenVault(vault_url)
    for user in range(10):
        _login(fake_kakao, vault, user, refresh_ttl=(10 if user < 3 else 50) * 86400)
    assert sorted(vault.expiring(datetime.timedelta(days=30))) == ["0", "1", "2"]
    assert sorted(vault.expiring(60 * 86400)) == [str(u) for u in range(10)]
    assert list(vault.expiring(0)) == []


def test_keep_alive_renews_the_due_reports_the_dead_and_the_limited(
    fake_kakao: FakeKakao, vault_url: str
) -> None:
    fake_kakao.refresh_limit = None
    vault = TokenVault(vault_url, retries=0)
    for user in range(1, 7):
        _login(fake_kakao, vault, user, refresh_ttl=(10 if user <= 5 else 50) * 86400)
    old = {u: vault.load(u).refresh_token for u in range(1, 7)}
    fake_kakao.revoke_user(4)
    fake_kakao.access_limit = None
    limited = {"calls": 0}
    real = fake_kakao._refresh_answer

    def koe237_for_user_5(form: Any) -> Any:
        if form.get("refresh_token") == old[5]:
            limited["calls"] += 1
            return 400, {"error": "invalid_request", "error_code": "KOE237", "error_description": "limit"}
        return real(form)

    fake_kakao._refresh_answer = koe237_for_user_5  # type: ignore[method-assign]
    seen: list[int] = []
    report = vault.keep_alive(concurrency=3, progress=lambda r: seen.append(r.checked))
    assert sorted(report.renewed) == ["1", "2", "3"]
    assert report.dead == ["4"]
    assert report.failed == ["5"]
    assert report.checked == 5 and sorted(seen) == [1, 2, 3, 4, 5]
    assert fake_kakao.refresh_calls_by_user == {1: 1, 2: 1, 3: 1}
    for user in (1, 2, 3):
        assert vault.load(user).refresh_token != old[user]  # rotated, saved
    assert vault.load(6).refresh_token == old[6]  # not due: not touched
    with pytest.raises(LoginRequired):
        vault.load(4)
    again = vault.keep_alive()  # the renewed are not due any more; the dead are not asked
    assert again.renewed == [] and again.dead == [] and again.failed == ["5"]


def test_keep_alive_over_more_than_the_new_lifetime_refreshes_each_user_once(
    fake_kakao: FakeKakao, row_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A renewal moves the user's expiry forward, still inside `within`: a listing paged on the
    # expiry would meet the user again in a later page.
    import kakao_auth.vault.sql

    monkeypatch.setattr(kakao_auth.vault.sql, "PAGE", 3)
    fake_kakao.refresh_limit = fake_kakao.access_limit = None
    vault = TokenVault(row_url)
    for user in range(10):
        _login(fake_kakao, vault, user, refresh_ttl=(10 + user) * 86400)
    report = vault.keep_alive(within=365 * 86400, concurrency=2)
    assert sorted(report.renewed, key=int) == [str(u) for u in range(10)] and report.checked == 10
    assert fake_kakao.refresh_calls_by_user == {u: 1 for u in range(10)}


def test_two_keep_alive_runs_at_once_refresh_each_user_once(fake_kakao: FakeKakao, shared_url: str) -> None:
    fake_kakao.refresh_limit = fake_kakao.access_limit = None
    vault = TokenVault(shared_url)
    for user in range(20):
        _login(fake_kakao, vault, user, refresh_ttl=10 * 86400)
    fake_kakao.token_delay = 0.02
    runs = [TokenVault(shared_url) for _ in range(2)]
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda v=v: reports.append(v.keep_alive(concurrency=4))) for v in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(fake_kakao.refresh_calls_by_user.values()) == {1}
    assert len(fake_kakao.refresh_calls_by_user) == 20
    assert all(r.dead == [] and r.failed == [] for r in reports)


# -- helpers ----------------------------------------------------------------------------------


def _wait_for(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# -- encryption at rest -----------------------------------------------------------------------


def test_tokens_at_rest_are_ciphertext_and_rekey_rotates_the_key(
    fake_kakao: FakeKakao, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy
    from cryptography.fernet import Fernet

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path}/v.db"
    monkeypatch.setenv("KAKAO_VAULT_KEY", old_key)
    vault = TokenVault(url)
    token = _login(fake_kakao, vault, 1)
    engine = sqlalchemy.create_engine(url)

    def stored() -> tuple[str, str]:
        with engine.connect() as c:
            row = c.execute(sqlalchemy.text("SELECT access_token, refresh_token FROM kakao_tokens")).one()
        return row[0], row[1]

    access, refresh = stored()
    assert access.startswith("fernet:") and token.access_token not in access
    assert refresh.startswith("fernet:") and str(token.refresh_token) not in refresh
    assert vault.load(1) == dataclasses_replace(token)
    monkeypatch.setenv("KAKAO_VAULT_KEY", new_key)  # the old key forgotten: a clear error
    with pytest.raises(TokenStoreError, match="user 1 is encrypted under a key") as caught:
        TokenVault(url).load(1)
    assert token.access_token not in str(caught.value)
    monkeypatch.setenv("KAKAO_VAULT_KEY", f"{new_key},{old_key}")  # the new key first: rotate
    assert TokenVault(url).rekey() == 1
    monkeypatch.setenv("KAKAO_VAULT_KEY", new_key)
    assert TokenVault(url).load(1).access_token == token.access_token
    assert _me(TokenVault(url), 1) == 1


def test_rekey_goes_past_a_row_it_cannot_open_and_names_its_user(
    fake_kakao: FakeKakao,
    row_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cryptography.fernet import Fernet
    from kakao_auth.cli import main

    old, new, lost = (Fernet.generate_key().decode() for _ in range(3))
    tokens = {u: _login(fake_kakao, TokenVault(row_url, key=old), u) for u in (1, 3)}
    tokens[2] = _login(fake_kakao, TokenVault(row_url, key=lost), 2)  # under a key the admin lost
    with pytest.raises(
        TokenStoreError, match=r"re-encrypted 2 rows; 1 could not be opened \(user 2\)"
    ) as caught:
        TokenVault(row_url, key=f"{new},{old}").rekey()
    assert all(t.access_token not in str(caught.value) for t in tokens.values())
    rotated = TokenVault(row_url, key=new)  # the other rows were re-encrypted all the same
    assert rotated.load(1).access_token == tokens[1].access_token
    assert rotated.load(3).access_token == tokens[3].access_token
    monkeypatch.setenv("KAKAO_VAULT_KEY", f"{new},{old}")
    assert main(["vault", "rekey", "--vault", row_url]) != 0
    out = capsys.readouterr()
    assert len(out.err.strip().splitlines()) == 1 and "user 2" in out.err and "Traceback" not in out.err


def test_a_key_that_is_not_a_fernet_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAKAO_VAULT_KEY", "not-a-key-but-a-secret-value")
    with pytest.raises(ConfigurationError, match="key number 1") as caught:
        TokenVault("memory://")
    assert "not-a-key-but-a-secret-value" not in str(caught.value)


def dataclasses_replace(token: Token) -> Token:
    import dataclasses

    return dataclasses.replace(token, client_secret=None)


# -- the command line, the registry, the fixture ---------------------------------------------


def test_the_vault_command_line(
    fake_kakao: FakeKakao, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kakao_auth.cli import main

    url = f"sqlite:///{tmp_path}/v.db"
    vault = TokenVault(url)
    tokens = [_login(fake_kakao, vault, u, access_ttl=0, refresh_ttl=10 * 86400) for u in (1, 2)]
    fake_kakao.revoke_user(2)
    assert main(["vault", "users", "--vault", url]) == 0
    assert capsys.readouterr().out.split() == ["1", "2"]
    assert main(["vault", "show", "1", "--vault", url]) == 0
    out = capsys.readouterr().out
    assert "expired" in out and "refresh: dies" in out and "talk_message" in out
    assert main(["vault", "refresh", "1", "--vault", url]) == 0
    assert main(["vault", "keep-alive", "--vault", url]) == 1  # user 2's login died
    out = capsys.readouterr().out
    assert "dead:    user 2" in out and "checked 1: 0 renewed, 1 dead, 0 failed" in out
    assert main(["vault", "schema", "--vault", url]) == 0
    assert "CREATE INDEX kakao_tokens_refresh_expiry" in capsys.readouterr().out
    assert main(["vault", "delete", "2", "--vault", url]) == 0
    capsys.readouterr()
    assert main(["vault", "show", "2", "--vault", url]) == 1
    everything = capsys.readouterr()
    for token in tokens:
        assert token.access_token not in everything.out + everything.err
        assert str(token.refresh_token) not in everything.out + everything.err


def test_the_builtin_vault_table_is_what_setup_cfg_registers() -> None:
    import configparser

    from kakao_auth.vault.registry import BUILTIN_VAULTS, ENTRY_POINT_GROUP

    config = configparser.ConfigParser()
    config.read(Path(__file__).parent.parent / "setup.cfg")
    lines = config["options.entry_points"][ENTRY_POINT_GROUP].strip().splitlines()
    registered = {name.strip(): target.strip() for name, _, target in (line.partition("=") for line in lines)}
    assert registered == BUILTIN_VAULTS


def test_the_kakao_vault_fixture(kakao_vault: TokenVault, fake_kakao: FakeKakao) -> None:
    kakao_vault.save(1, fake_kakao.issue_tokens(user_id=1, access_ttl=0))
    assert _me(TokenVault(), 1) == 1  # TokenVault() finds it through KAKAO_TOKEN_VAULT


def test_location_never_shows_a_password() -> None:
    vault = TokenVault("postgresql://app:hunter2-secret@db.example:5432/app")
    assert "hunter2-secret" not in vault.location and "db.example" in vault.location
    assert "hunter2-secret" not in repr(vault)
    with pytest.raises(ConfigurationError) as caught:
        TokenVault("nosuch://app:hunter2-secret@db/app")
    assert "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize("query", ["password=S3cretPW", "sslmode=disable&sslpassword=S3cretPW"])
def test_a_password_in_the_url_query_is_never_shown(query: str) -> None:
    import sqlalchemy

    url = f"postgresql://app@127.0.0.1:9/app?{query}"
    for vault in (
        TokenVault(url, connect_timeout=1),
        TokenVault(sqlalchemy.create_engine(url.replace("postgresql:", "postgresql+psycopg:"))),
    ):
        assert "S3cretPW" not in vault.location and "S3cretPW" not in repr(vault)
        assert "127.0.0.1:9/app" in vault.location
        with pytest.raises(TokenStoreError) as caught:
            vault.load(1)
        assert all("S3cretPW" not in str(e) for e in exception_chain(caught.value))


def test_an_async_client_never_blocks_the_loop_on_the_database_or_kakao(
    fake_kakao: FakeKakao, tmp_path: Path
) -> None:
    import asyncio

    import httpx

    vault = TokenVault(f"sqlite:///{tmp_path}/v.db")
    _login(fake_kakao, vault, 1, access_ttl=0)
    fake_kakao.token_gate = gate = threading.Event()

    async def main() -> Any:
        async def opener() -> None:
            # Runs only if the loop is free while the refresh waits at Kakao: a refresh (or a
            # database read) on the loop would hold the gate shut until the fake gives up.
            while fake_kakao.token_calls == 0:
                await asyncio.sleep(0.002)
            gate.set()

        opening = asyncio.create_task(opener())
        async with httpx.AsyncClient(auth=vault.httpx_auth(1)) as client:  # on the loop, as a handler would
            answer = await client.get(fake_kakao.kapi_url + ME)
        await opening
        return answer.json()["id"]

    started = time.monotonic()
    assert asyncio.run(main()) == 1
    assert time.monotonic() - started < 30  # the gate was opened by the loop, not by the fake's timeout


def test_a_users_session_reads_their_consents_and_the_vault_logs_out_and_unlinks(
    fake_kakao: FakeKakao, tmp_path: Path
) -> None:
    with TokenVault(f"sqlite:///{tmp_path}/v.db") as vault:
        for user in (7, 8, 9):
            vault.save(user, fake_kakao.issue_tokens(user_id=user, scope="profile_nickname talk_message"))
        agreed = {item["id"] for item in vault.session(7).scopes() if item.get("agreed")}
        assert {"profile_nickname", "talk_message"} <= agreed
        assert vault.scopes(7) == vault.session(7).scopes()
        vault.logout(8)
        vault.unlink(9)
        assert fake_kakao.logged_out == [8] and fake_kakao.unlinked == [9]
        assert sorted(vault.users()) == ["7"]
        fake_kakao.revoke_user(7)  # unlinked from Kakao's side: the vault's unlink still ends it
        vault.unlink(7)
        assert list(vault.users()) == []


def test_a_claim_holds_only_at_the_version_read(fake_kakao: FakeKakao, row_url: str) -> None:
    vault = TokenVault(row_url)
    _login(fake_kakao, vault, 1)
    backend: Any = vault.backend
    read = backend.read("1")
    _login(fake_kakao, vault, 1)  # a new login between the read and the claim
    now = time.time()
    assert not backend.claim("1", "late", now + 30, now, read.version)  # it reads again instead
    assert backend.claim("1", "now", now + 30, now, backend.read("1").version)


def test_a_holder_that_claims_after_another_found_the_login_dead_does_not_ask_kakao(
    fake_kakao: FakeKakao, row_url: str
) -> None:
    holder, other = TokenVault(row_url), TokenVault(row_url)
    _login(fake_kakao, holder, 1, access_ttl=0)
    fake_kakao.revoke_user(1)
    backend: Any = holder.backend
    real = backend.claim
    outcomes: list[str] = []

    def claim(*args: Any) -> bool:  # between the holder's read and its claim: the other's refresh
        if not outcomes:
            outcomes.append(_outcome(other))
        result: bool = real(*args)
        return result

    backend.claim = claim
    assert _outcome(holder) == "NoLogin" and outcomes == ["LoginRequired"]  # the holder: the row said so
    assert fake_kakao.token_calls == 1  # the refused refresh token was sent once


def _outcome(vault: TokenVault) -> str:
    try:
        vault.refresher(1).refresh(None)
    except Exception as e:
        return type(e).__name__
    return "refreshed"


def test_a_row_backend_with_a_claim_of_old_is_refused_when_it_loads() -> None:
    from kakao_auth.vault import RowBackend

    with pytest.raises(TypeError, match="version"):

        class Old(RowBackend):  # claim() without the version read
            def claim(self, user: str, owner: str, until: float, now: float) -> bool:  # type: ignore[override]
                return True


def test_a_holder_overtaken_after_its_lease_still_saves_the_token_kakao_rotated(
    fake_kakao: FakeKakao, row_url: str
) -> None:
    # A's lease runs out while Kakao answers it (RT1 rotated to RT2); B then posts RT1, is
    # refused, and marks the row dead. A's save at the version it read must still land: RT2 is
    # the live login, and nowhere else.
    holder = TokenVault(row_url, lease=0.5)
    late = TokenVault(row_url, lease=0.5)
    _login(fake_kakao, holder, 1, access_ttl=0)
    fake_kakao.shorten_refresh_tokens(86400)
    refresher = holder.refresher(1)
    real = refresher.endpoint
    overtaken = threading.Event()

    class Slow:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def post(self, form: Any) -> Any:
            answer = real.post(form)
            overtaken.wait(30)
            return answer

    refresher.endpoint = Slow()  # type: ignore[assignment]
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(refresher.refresh(None)))
    thread.start()
    _wait_for(lambda: fake_kakao.refresh_calls == 1)
    time.sleep(0.6)  # A's lease has run out
    assert _outcome(late) == "LoginRequired"  # B was refused the rotated-away RT1
    overtaken.set()
    thread.join(30)
    assert got and fake_kakao.refresh_token_alive(got[0].refresh_token)
    assert holder.load(1).refresh_token == got[0].refresh_token  # saved, and the row alive again


def test_a_row_backend_is_checked_through_its_bases_and_may_pass_arguments_on() -> None:
    from kakao_auth.vault import RowBackend

    class OldClaim:
        def claim(self, user: str, owner: str, until: float, now: float) -> bool:
            return True

    with pytest.raises(TypeError, match="version"):

        class Mixed(OldClaim, RowBackend):  # type: ignore[misc]
            pass

    class Forwarding(RowBackend):  # takes the version as it comes
        def claim(self, *args: Any, **kwargs: Any) -> bool:  # type: ignore[override]
            return True

    assert Forwarding.claim
