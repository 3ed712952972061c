"""RedisTokenStore against a real redis-server, with real processes, as separate machines would be.

In CI (CI=true) these tests must run: a missing redis-server fails them instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kakao_auth import KakaoAuth, RedisTokenStore, Token, TokenStoreError
from kakao_auth.stores.redis import WAKE
from kakao_auth.testing import FakeKakao, RedisServer
from kakao_auth.testing.workers import run_workers

ME = "/v2/user/me"

if shutil.which("redis-server") is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must run the Redis tests: .ci/run installs Debian's redis-server")
    pytest.skip("redis-server is not installed (apt-get install redis-server)", allow_module_level=True)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield redis_server.url
    client.close()


def _seed(fake: FakeKakao, url: str, **kwargs: object) -> RedisTokenStore:
    """Log in into Redis as `kakao-auth copy kakao_token.json redis://...` would."""
    path = Path(str(fake.token_file))
    token = fake.write_token_file(path, **kwargs)  # type: ignore[arg-type]
    path.unlink()  # the workers share nothing but Redis
    store = RedisTokenStore(url, client_id=fake.client_id)
    store.save(token)
    return store


def test_round_trip_and_the_default_key_per_client_id(fake_kakao: FakeKakao, redis_url: str) -> None:
    store = _seed(fake_kakao, redis_url)
    assert store.key == f"kakao_auth:token:{fake_kakao.client_id}"
    assert RedisTokenStore(redis_url, key="other:key", client_id="x").key == "other:key"
    assert RedisTokenStore(redis_url, prefix="team1:").key == f"team1:token:{fake_kakao.client_id}"
    assert store.load().refresh_token is not None
    assert requests.get(fake_kakao.kapi_url + ME, auth=KakaoAuth.from_file(redis_url)).status_code == 200


def test_the_password_never_shows(redis_url: str) -> None:
    url = redis_url.replace("redis://", "redis://:hunter2-secret-password@")
    store = RedisTokenStore(url, client_id="app")
    assert "hunter2" not in repr(store)
    with pytest.raises(TokenStoreError) as info:
        store.load()  # this Redis has no password: the AUTH fails
    assert "hunter2" not in str(info.value)


def test_no_client_id_no_key(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAKAO_REST_API_KEY", raising=False)
    with pytest.raises(TokenStoreError, match="needs a key"):
        RedisTokenStore(redis_url)


def test_empty_store_is_a_clear_error(fake_kakao: FakeKakao, redis_url: str) -> None:
    with pytest.raises(TokenStoreError, match=r"holds no token.*kakao-auth login"):
        KakaoAuth.from_file(redis_url)


@pytest.mark.parametrize("rotation", [False, True], ids=["fresh-refresh-token", "rotation-window"])
def test_16_processes_on_one_redis_make_one_refresh(
    fake_kakao: FakeKakao, redis_url: str, tmp_path: Path, rotation: bool
) -> None:
    old = _seed(fake_kakao, redis_url, access_ttl=0, refresh_ttl=20 * 86400 if rotation else None).load()
    reports = run_workers(
        redis_url,
        fake_kakao.kapi_url + ME,
        processes=16,
        threads=2,
        env=fake_kakao.environ(),
        meeting_place=str(tmp_path),
    )
    assert [f for r in reports for f in r["failed"]] == []
    assert sum(r["ok"] for r in reports) == 32
    assert fake_kakao.token_calls == 1
    stored = RedisTokenStore(redis_url).load()
    assert fake_kakao.refresh_token_alive(stored.refresh_token)
    assert (stored.refresh_token != old.refresh_token) is rotation
    assert list(tmp_path.glob("*.json")) == []


REFRESH_ONCE = """
import sys
from kakao_auth import KakaoAuth
from kakao_auth.stores import RedisTokenStore
store = RedisTokenStore(sys.argv[1], lock_ttl=float(sys.argv[2]))
token = KakaoAuth.from_store(store).valid_token()
print("done", token.access_token[:8], flush=True)
"""


def _holder(fake: FakeKakao, url: str, lock_ttl: float) -> subprocess.Popen[str]:
    """A process that starts a refresh and is left waiting in Kakao's answer (token_delay)."""
    env = {**os.environ, **fake.environ()}
    proc = subprocess.Popen(
        [sys.executable, "-c", REFRESH_ONCE, url, str(lock_ttl)], env=env, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 20
    while fake.token_calls == 0:  # it holds the lock and waits for Kakao
        assert time.monotonic() < deadline, "the holder never reached the token endpoint"
        time.sleep(0.01)
    return proc


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_holder_killed_mid_refresh_blocks_only_until_its_ttl(fake_kakao: FakeKakao, redis_url: str) -> None:
    _seed(fake_kakao, redis_url, access_ttl=0)
    fake_kakao.token_delay = 5.0
    holder = _holder(fake_kakao, redis_url, lock_ttl=1.5)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    fake_kakao.token_delay = 0.0
    started = time.monotonic()
    auth = KakaoAuth.from_store(RedisTokenStore(redis_url))
    assert requests.get(fake_kakao.kapi_url + ME, auth=auth).status_code == 200
    waited = time.monotonic() - started
    assert 0.5 < waited < 30.0, waited  # blocked by the dead holder's lock (TTL 1.5 s), then went on
    stored = RedisTokenStore(redis_url).load()
    assert fake_kakao.access_token_alive(stored.access_token)
    assert fake_kakao.refresh_token_alive(stored.refresh_token)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP")
def test_a_holder_paused_past_its_ttl_cannot_overwrite_the_newer_token(
    fake_kakao: FakeKakao, redis_url: str
) -> None:
    _seed(fake_kakao, redis_url, access_ttl=0)
    fake_kakao.token_delay = 1.0
    holder = _holder(fake_kakao, redis_url, lock_ttl=0.5)
    holder.send_signal(signal.SIGSTOP)
    time.sleep(1.2)  # the holder's lock lapses while it is frozen
    fake_kakao.token_delay = 0.0
    newer = KakaoAuth.from_store(RedisTokenStore(redis_url)).valid_token()  # takes the lapsed lock
    holder.send_signal(signal.SIGCONT)
    out, _ = holder.communicate(timeout=30)
    assert holder.returncode == 0
    assert out.strip() == f"done {newer.access_token[:8]}"  # the paused holder adopted the newer one
    assert RedisTokenStore(redis_url).load().access_token == newer.access_token
    assert fake_kakao.token_calls == 2


def test_redis_frozen_or_stopped_mid_run_then_back(fake_kakao: FakeKakao, tmp_path: Path) -> None:
    with RedisServer(persistent=True) as server:
        # A lock request sent to the frozen Redis runs when it thaws, and (append-only file) even
        # survives the restart: nobody holds it, and it blocks others until its TTL lapses.
        store = RedisTokenStore(
            server.url, client_id=fake_kakao.client_id, socket_timeout=0.5, lock_ttl=2, lock_wait=3
        )
        token = fake_kakao.write_token_file(tmp_path / "seed.json")
        store.save(token)
        auth = KakaoAuth.from_store(store)
        server.pause()  # a frozen Redis: calls must time out, not hang
        assert requests.get(fake_kakao.kapi_url + ME, auth=auth).status_code == 200  # fresh: no Redis needed
        fake_kakao.expire_access_tokens()
        started = time.monotonic()
        with pytest.raises(TokenStoreError) as info:
            requests.get(fake_kakao.kapi_url + ME, auth=auth)
        assert time.monotonic() - started < 30.0  # bounded (lock_wait 3 s, socket 0.5 s), not hung
        assert "Timeout" in str(info.value)
        server.resume()
        server.stop()  # a stopped Redis: refused at once
        with pytest.raises(TokenStoreError, match="ConnectionError"):
            requests.get(fake_kakao.kapi_url + ME, auth=auth)
        server.start()  # back, with its data
        assert requests.get(fake_kakao.kapi_url + ME, auth=auth).status_code == 200
        assert fake_kakao.refresh_token_alive(store.load().refresh_token)
        assert fake_kakao.refresh_calls == 1


def test_cli_copy_and_store_urls(fake_kakao: FakeKakao, redis_url: str, token_file: Path) -> None:
    fake_kakao.write_token_file(token_file)
    env = {**os.environ, **fake_kakao.environ()}
    cli = [sys.executable, "-m", "kakao_auth"]
    done = subprocess.run([*cli, "copy", str(token_file), redis_url], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"key kakao_auth:token:{fake_kakao.client_id}" in done.stdout
    status = subprocess.run(
        [*cli, "status", "--json", "--store", redis_url], env=env, capture_output=True, text=True
    )
    assert json.loads(status.stdout)["store"].startswith(redis_url)
    token = subprocess.run(
        [*cli, "token"], env={**env, "KAKAO_TOKEN_STORE": redis_url}, capture_output=True, text=True
    )
    assert token.stdout.strip() == json.loads(token_file.read_text())["access_token"]
    keyed = f"{redis_url}?key=elsewhere"
    assert subprocess.run([*cli, "copy", redis_url, keyed], env=env, capture_output=True).returncode == 0
    assert RedisTokenStore(redis_url, key="elsewhere").load().access_token == token.stdout.strip()


def test_import_works_without_redis_py(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['redis'] = None\n"
        "import kakao_auth\n"
        "try:\n    kakao_auth.RedisTokenStore('redis://127.0.0.1:1/0', key='k')\n"
        "except kakao_auth.ConfigurationError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert "pip install 'kakao-auth[redis]'" in out


def test_a_lapsed_lock_in_the_rotation_window_adopts_instead_of_failing(
    fake_kakao: FakeKakao, redis_url: str
) -> None:
    # The holder posts R1 and waits in Kakao's answer past its lock; a second holder takes the
    # lapsed lock, rotates R1 -> R2 and saves. Kakao then refuses R1 to the first holder
    # (KOE322): it must re-read the store and adopt, not report a lost login.
    _seed(fake_kakao, redis_url, access_ttl=0, refresh_ttl=20 * 86400)
    fake_kakao.token_delay = 1.5
    holder = _holder(fake_kakao, redis_url, lock_ttl=0.3)
    time.sleep(0.5)  # the holder's lock lapses while Kakao keeps it waiting
    fake_kakao.token_delay = 0.0
    newer = KakaoAuth.from_store(RedisTokenStore(redis_url, lock_ttl=5)).valid_token()
    out, _ = holder.communicate(timeout=60)
    assert holder.returncode == 0, out
    assert out.strip() == f"done {newer.access_token[:8]}"
    stored = RedisTokenStore(redis_url).load()
    assert fake_kakao.refresh_token_alive(stored.refresh_token)


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:notaport/0",
        "redis://127.0.0.1:6379/0?socket_timeout=-1",
        "redis://127.0.0.1:6379/0?socket_timeout=abc",
        "redis://127.0.0.1:6379/0?lock_ttl=-5",
        "redis://127.0.0.1:6379/0?lock_wait=inf",
    ],
)
def test_bad_redis_urls_are_typed(url: str) -> None:
    from kakao_auth import ConfigurationError
    from kakao_auth.stores import open_store

    with pytest.raises(ConfigurationError):
        open_store(url, client_id="app")


def test_the_default_lock_ttl_outlives_the_slowest_refresh(fake_kakao: FakeKakao, redis_url: str) -> None:
    store = _seed(fake_kakao, redis_url)
    auth = KakaoAuth.from_store(store)  # defaults: 10 s x 3 attempts + 1.5 s of backoff
    worst = auth.core.refresher.endpoint.worst_case
    assert worst == 31.5
    assert store.lock_ttl > worst and store.lock_wait > store.lock_ttl
    slow = KakaoAuth.from_store(RedisTokenStore(redis_url, client_id=fake_kakao.client_id), timeout=60)
    assert slow.store.lock_ttl > slow.core.refresher.endpoint.worst_case  # type: ignore[attr-defined]
    assert RedisTokenStore(redis_url, client_id="x", lock_ttl=3).lock_ttl == 3  # explicit wins


def test_the_redis_snippets_of_the_stores_doc_run(
    fake_kakao: FakeKakao, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_examples import stores_doc_snippets

    _seed(fake_kakao, redis_url)
    monkeypatch.setenv("KAKAO_TOKEN_STORE", redis_url)
    snippets = [s for s in stores_doc_snippets() if "redis" in s.lower() or "KAKAO_TOKEN_STORE" in s]
    assert len(snippets) == 2
    for snippet in snippets:
        code = snippet.replace("redis://redis.internal:6379/0", redis_url)
        exec(compile(code, "docs/stores.md", "exec"), {})  # noqa: S102
    assert [m["text"] for m in fake_kakao.memos] == ["hello from any machine", "hello from a worker node"]


def test_waiters_block_on_the_stream_and_wake_with_the_saved_token(
    fake_kakao: FakeKakao, redis_url: str
) -> None:
    # Four waiters meet a lock held for 2 s. They must not poll Redis meanwhile (at most a look
    # per WAKE), and the holder's save must hand them the token while it still holds the lock.
    old, fresh, admin, holder = _expired_and_fresh(fake_kakao, redis_url)
    got: list[str] = []
    done = threading.Barrier(5)

    def waiter() -> None:
        got.append(KakaoAuth.from_store(RedisTokenStore(redis_url)).valid_token().access_token)
        done.wait(timeout=30)

    with holder.lock():
        waiters = [threading.Thread(target=waiter) for _ in range(4)]
        for t in waiters:
            t.start()
        time.sleep(1.0)  # they have read the expired token and block on the stream
        admin.config_resetstat()
        time.sleep(1.0)
        stats = admin.info("commandstats")
        holder.save(fresh, previous=old)
        done.wait(timeout=30)  # while the lock is still held
    for t in waiters:
        t.join()
    # Round trips only: the commands a script runs are counted too, under their own names.
    trips = sum(stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("eval", "evalsha", "xread", "get"))
    assert trips <= 4 * 2 * (1.0 / WAKE + 1), stats  # a look and a block per WAKE; a 50 ms poll: 160
    assert got == [fresh.access_token] * 4
    assert fake_kakao.token_calls == 0


def test_a_holder_that_lets_go_without_saving_hands_the_lock_on(
    fake_kakao: FakeKakao, redis_url: str
) -> None:
    _seed(fake_kakao, redis_url, access_ttl=0)
    holder = RedisTokenStore(redis_url, client_id=fake_kakao.client_id)
    tokens: list[str] = []

    def waiter() -> None:
        tokens.append(KakaoAuth.from_file(redis_url).valid_token().access_token)

    with holder.lock():
        waiters = [threading.Thread(target=waiter) for _ in range(3)]
        for t in waiters:
            t.start()
        time.sleep(0.5)
    for t in waiters:
        t.join(timeout=60)
    assert len(set(tokens)) == 1 and len(tokens) == 3
    assert fake_kakao.token_calls == 1  # one waiter took the freed lock, the others adopted


def test_a_hostile_value_at_the_stream_key_fails_before_kakao_is_asked(
    fake_kakao: FakeKakao, redis_url: str
) -> None:
    import redis

    store = _seed(fake_kakao, redis_url, access_ttl=0)
    redis.Redis.from_url(redis_url).set(store.key + ":saved", "not a stream")
    with pytest.raises(TokenStoreError, match="WRONGTYPE"):
        KakaoAuth.from_store(store).valid_token()
    assert fake_kakao.token_calls == 0


class NotRedis(socketserver.ThreadingTCPServer):
    """A loopback server that speaks RESP but answers each command with a reply of its choice."""

    daemon_threads = True

    def __init__(self, replies: dict[bytes, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), _NotRedisHandler)
        self.replies = replies
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.server_address[1]}/0"


class _NotRedisHandler(socketserver.StreamRequestHandler):
    server: NotRedis

    def handle(self) -> None:
        while True:
            header = self.rfile.readline()  # *N: a command of N bulk strings
            if not header.startswith(b"*"):
                return
            words = []
            for _ in range(int(header[1:])):
                size = int(self.rfile.readline()[1:])
                words.append(self.rfile.read(size + 2)[:-2])
            self.wfile.write(self.server.replies.get(words[0].upper(), b"+OK\r\n"))


# What redis-py's RESP3 handshake needs to go on; redis-py before 5 sends no HELLO.
HELLO = b"%1\r\n+proto\r\n:3\r\n"


@pytest.mark.parametrize(
    ("replies", "doing"),
    [
        ({b"HELLO": b"+OK\r\n", b"GET": b"+OK\r\n"}, "load"),
        ({b"HELLO": HELLO, b"GET": b":5\r\n"}, "load"),
        ({b"HELLO": HELLO, b"GET": b"*1\r\n$2\r\n{}\r\n"}, "load"),
        ({b"HELLO": HELLO, b"EVAL": b":1\r\n"}, "lock"),
        ({b"HELLO": HELLO, b"EVAL": b"*3\r\n:1\r\n$2\r\n{}\r\n:7\r\n"}, "lock"),
        ({b"HELLO": HELLO, b"EVAL": b"*2\r\n:1\r\n$2\r\n{}\r\n"}, "lock"),
    ],
    ids=["HELLO-not-a-map", "GET-integer", "GET-array", "take-integer", "take-integer-id", "take-short"],
)
def test_a_server_that_is_not_redis_gets_a_typed_error(replies: dict[bytes, bytes], doing: str) -> None:
    server = NotRedis(replies)
    try:
        store = RedisTokenStore(server.url, key="k", socket_timeout=5)
        with pytest.raises(TokenStoreError) as caught:
            store.load() if doing == "load" else store.lock().__enter__()
        error = caught.value  # typed, and nothing chained that could quote the answer
        assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    finally:
        server.shutdown()
        server.server_close()


def test_delete_leaves_no_copy_of_the_token_behind(fake_kakao: FakeKakao, redis_url: str) -> None:
    import redis

    store = _seed(fake_kakao, redis_url, access_ttl=0)
    KakaoAuth.from_store(store).valid_token()  # a refresh: the stream now carries the token
    admin = redis.Redis.from_url(redis_url)
    assert admin.exists(store.key + ":saved")
    store.delete()
    assert admin.keys("*") == []


@pytest.mark.parametrize(
    "answer",
    [
        [[b"k:saved", [(b"1-0", {b"released": b"1"}), (b"2-0", {b"token": b"{}"})]]],  # RESP2
        {b"k:saved": [[(b"2-0", {b"token": b"{}"})]]},  # RESP3
        {"k:saved": [("2-0", {"token": "{}"})]},  # unified, decoded
    ],
)
def test_every_shape_of_an_xread_answer_gives_the_newest_entry(answer: object) -> None:
    from kakao_auth.stores.redis import _newest_fields

    fields = _newest_fields(answer)
    assert fields is not None and set(fields) in ({b"token"}, {"token"})
    assert _newest_fields([]) is None and _newest_fields({}) is None


def test_the_save_lets_go_of_the_lock_and_only_of_its_own(fake_kakao: FakeKakao, redis_url: str) -> None:
    # The save is the holder's last step: it frees the lock in the same round trip, so that the
    # holder's other threads need not wait for one more. A save by a holder whose lock lapsed
    # and was taken by another must leave the other's lock alone.
    import redis

    admin = redis.Redis.from_url(redis_url)
    store = _seed(fake_kakao, redis_url)
    token = store.load()
    with store.lock():
        assert admin.exists(store.key + ":lock")
        store.save(token, previous=token)
        assert not admin.exists(store.key + ":lock")
    short = RedisTokenStore(redis_url, client_id=fake_kakao.client_id, lock_ttl=0.2)
    with short.lock():
        time.sleep(0.4)  # lapsed
        other = admin.set(store.key + ":lock", "another-holder", nx=True, px=10_000)
        assert other
        short.save(token, previous=token)
    assert admin.get(store.key + ":lock") == b"another-holder"


def test_a_token_saved_before_the_waiter_looks_is_adopted_without_waiting(
    fake_kakao: FakeKakao, redis_url: str
) -> None:
    # The holder saved and still holds the lock: the waiter's first look (the lock script's
    # read) finds the token, and it must not block on the stream at all.
    old, fresh, admin, holder = _expired_and_fresh(fake_kakao, redis_url)
    got: list[str] = []
    auth = KakaoAuth.from_file(redis_url)
    assert auth.core.token.access_token == old.access_token  # it holds the expired token
    with holder.lock():
        holder.save(fresh, previous=old)
        admin.set(holder.key + ":lock", "still-held", px=60_000)  # the save freed it: hold it again
        admin.config_resetstat()

        def waiter_run() -> None:
            got.append(auth.valid_token().access_token)

        waiter = threading.Thread(target=waiter_run)
        waiter.start()
        waiter.join(timeout=60)
        stats = admin.info("commandstats")
    assert got == [fresh.access_token]
    assert "cmdstat_xread" not in stats, stats
    assert fake_kakao.token_calls == 0


def _expired_and_fresh(fake: FakeKakao, url: str) -> tuple[Token, Token, Any, RedisTokenStore]:
    """An expired token in Redis, a fresh one to save, a plain client, and a store to hold the lock."""
    import redis

    old = _seed(fake, url, access_ttl=0).load()
    fresh = Token.from_response(fake.issue_tokens(), time.time())
    return old, fresh, redis.Redis.from_url(url), RedisTokenStore(url, client_id=fake.client_id)


def test_a_redis_value_over_1_mib_is_refused_unsent(fake_kakao: FakeKakao, redis_url: str) -> None:
    import redis

    store = _seed(fake_kakao, redis_url)
    client = redis.Redis.from_url(redis_url)
    huge = b'{"access_token": "x", "pad": "' + b"a" * (16 << 20) + b'"}'
    client.set(store.key, huge)

    def sent() -> int:
        return int(client.info("stats")["total_net_output_bytes"])

    before = sent()
    with pytest.raises(TokenStoreError, match="over 1 MiB"):
        store.load()
    with pytest.raises(TokenStoreError, match="over 1 MiB"), store.lock():
        store.load()  # the value the script that took the lock read
    # A waiter that finds the lock held reads the value too, and waits rather than adopt it.
    waiter = RedisTokenStore(redis_url, client_id=fake_kakao.client_id, lock_wait=0.3)
    with store.lock(), pytest.raises(TokenStoreError, match="timed out"), waiter.lock():
        pass
    assert sent() - before < 1 << 20  # the 16 MiB value was never sent, to any of them
