"""The Redis vault's own keys: users kept apart, dead markers read safely, saves, streamed lists.

A real redis-server (kakao_auth.testing.RedisServer) and the fake Kakao over HTTPS; what the
other backends share is in test_vault.py.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kakao_auth import LoginRequired, TokenVault
from kakao_auth.oauth import TokenEndpoint, merge_answer
from kakao_auth.testing import FakeKakao, RedisServer

PREFIX = "kakao_auth:vault:"
# Ids an app may well use, each of which ends like another user's key did: "<id>:dead" etc.
TRICKY = ["1", "1:dead", "1:lock", "1:saved", "1}", "1}:dead", "{1}", "1:dead:dead", "2:saved"]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with RedisServer() as server:
        yield server


@pytest.fixture
def url(redis_server: RedisServer, fake_kakao: FakeKakao) -> str:
    import redis

    redis.Redis.from_url(redis_server.url).flushdb()
    return redis_server.url


@pytest.fixture
def raw(url: str) -> Any:
    """A plain redis-py client on the vault's database: what anyone with access can write."""
    import redis

    client = redis.Redis.from_url(url)
    yield client
    client.close()


# -- keys: no user reaches another's ------------------------------------------------------------


def test_the_key_layout_is_the_documented_one(url: str, raw: Any, fake_kakao: FakeKakao) -> None:
    vault = TokenVault(url)
    vault.save("42", fake_kakao.issue_tokens(user_id=42))
    assert {k.decode() for k in raw.keys("*")} == {
        PREFIX + "user:{42}",
        PREFIX + "user:{42}:saved",
        PREFIX + "users",
    }


def test_ids_ending_like_another_users_keys_are_users_of_their_own(url: str, fake_kakao: FakeKakao) -> None:
    vault = TokenVault(url)
    saved = {
        user: vault.save(user, fake_kakao.issue_tokens(user_id=n)).access_token
        for n, user in enumerate(TRICKY)
    }
    for user in TRICKY:
        assert vault.load(user).access_token == saved[user]
    assert sorted(vault.users()) == sorted(TRICKY)
    for gone in TRICKY:  # each delete takes its own user only
        vault.delete(gone)
        left = TRICKY[TRICKY.index(gone) + 1 :]
        assert sorted(vault.users()) == sorted(left)
        for user in left:
            assert vault.load(user).access_token == saved[user]


def test_a_users_token_never_reaches_another_users_message(url: str, fake_kakao: FakeKakao) -> None:
    vault = TokenVault(url)
    vault.save("7", fake_kakao.issue_tokens(user_id=7))
    other = vault.save("7:dead", fake_kakao.issue_tokens(user_id=8))
    assert vault.load("7").access_token != other.access_token  # user 7 is alive, not "dead"
    vault.delete("7")
    with pytest.raises(LoginRequired) as caught:
        vault.load("7")
    assert other.access_token not in str(caught.value)
    assert other.access_token[:10] not in str(caught.value)


def test_a_lock_held_on_one_user_never_holds_up_another(url: str, fake_kakao: FakeKakao) -> None:
    vault = TokenVault(url, lock_timeout=3)
    vault.save("5", fake_kakao.issue_tokens(user_id=5, access_ttl=1))
    vault.save("5:lock", fake_kakao.issue_tokens(user_id=6))
    time.sleep(1.1)  # user 5's access token expires
    with vault.store("5:lock").lock():  # user "5:lock" is being refreshed
        token = vault.refresher("5").refresh(None)  # user 5 is not: refreshed without waiting
    assert fake_kakao.access_token_alive(token.access_token)
    assert vault.load("5:lock").access_token != token.access_token


# -- a dead marker holds a code, or says nothing -----------------------------------------------


@pytest.mark.parametrize(
    "marker",
    [
        b"\xff\xfe",  # not UTF-8
        b"KOE322\nALERT: run rm -rf\x1b[31m",  # a second line, a terminal escape
        b"KOE322\x1b]0;owned\x07",
        b"x" * 100_000,
    ],
)
def test_a_garbled_dead_marker_is_login_required_with_no_garbage(
    url: str, raw: Any, fake_kakao: FakeKakao, marker: bytes
) -> None:
    vault = TokenVault(url)
    vault.save("1", fake_kakao.issue_tokens())
    raw.set(PREFIX + "user:{1}:dead", marker)
    with pytest.raises(LoginRequired) as caught:
        vault.load("1")
    message = str(caught.value)
    assert message.isprintable()
    assert "ALERT" not in message and "owned" not in message and "xxxxx" not in message
    assert caught.value.error_code is None
    assert "log the user in again" in message


def test_a_dead_marker_never_shows_a_token(url: str, raw: Any, fake_kakao: FakeKakao) -> None:
    vault = TokenVault(url)
    vault.save("1", fake_kakao.issue_tokens())
    secret = fake_kakao.issue_tokens()["access_token"]
    raw.set(PREFIX + "user:{1}:dead", secret)
    with pytest.raises(LoginRequired) as caught:
        vault.load("1")
    assert secret[:12] not in str(caught.value)


def test_a_dead_marker_shows_kakaos_code(url: str, raw: Any, fake_kakao: FakeKakao) -> None:
    vault = TokenVault(url)
    vault.save("1", fake_kakao.issue_tokens())
    raw.set(PREFIX + "user:{1}:dead", "KOE322")
    with pytest.raises(LoginRequired, match=r"\(Kakao answered KOE322\)") as caught:
        vault.load("1")
    assert caught.value.error_code == "KOE322"


# -- every save of a live token clears the dead marker ------------------------------------------


def test_a_login_saved_through_the_store_is_alive_again(url: str, raw: Any, fake_kakao: FakeKakao) -> None:
    vault = TokenVault(url)
    vault.save("u", fake_kakao.issue_tokens(access_ttl=1))
    time.sleep(1.1)
    fake_kakao.revoke_user(fake_kakao.user_id)
    with pytest.raises(LoginRequired):
        vault.refresher("u").refresh(None)
    assert raw.exists(PREFIX + "user:{u}:dead")  # remembered dead
    new = merge_answer(None, fake_kakao.issue_tokens(refresh_ttl=3600), time.time())
    vault.store("u").save(new)  # the user logged in again; the app saves it as any store
    assert vault.load("u").access_token == new.access_token
    assert list(vault.expiring(7200)) == ["u"]  # indexed by the new refresh token's expiry


def test_a_late_holders_rotated_token_revives_the_login_its_lateness_killed(
    url: str, fake_kakao: FakeKakao
) -> None:
    """A holder paused past its lock's TTL saves the token Kakao rotated for it: the user lives.

    A (paused after Kakao's answer) rotated the refresh token; B, taking the lapsed lock, sends
    the old one, is refused and marks the user dead (the stored token had not moved yet); A's
    compare-and-set save then succeeds, and must clear that mark.
    """
    vault = TokenVault(url, lease=0.5, lock_timeout=5)
    vault.save("u", fake_kakao.issue_tokens(access_ttl=1, refresh_ttl=86400))  # Kakao rotates
    time.sleep(1.1)
    answered, b_done = threading.Event(), threading.Event()

    class Paused(TokenEndpoint):
        def post(self, form: Any) -> dict[str, Any]:
            answer = super().post(form)
            answered.set()
            b_done.wait(30)  # a GC pause, a SIGSTOP: past the lock's TTL
            return answer

    a = vault.refresher("u")
    a.endpoint = Paused(vault.endpoint.url, timeout=10, retries=0, backoff=0)
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(a.refresh(None)))
    thread.start()
    try:
        assert answered.wait(30)
        time.sleep(0.7)  # A's lock lapses
        with pytest.raises(LoginRequired):
            vault.refresher("u").refresh(None)  # B: the old refresh token, rotated away
    finally:
        b_done.set()
        thread.join(30)
    assert got, "A's refresh failed"
    stored = vault.load("u")
    assert stored.access_token == got[0].access_token
    assert fake_kakao.refresh_token_alive(stored.refresh_token)


# -- users() and expiring() stream: a page at a time -------------------------------------------

MANY = 50_000


def _fill(raw: Any, scores: Any) -> None:
    pipe = raw.pipeline(transaction=False)
    for i in range(MANY):
        pipe.zadd(PREFIX + "users", {f"user-{i:06d}": scores(i)})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def _sent(raw: Any) -> int:
    return int(raw.info("stats")["total_net_output_bytes"])


@pytest.mark.parametrize("listing", ["users", "expiring"])
def test_the_first_id_comes_before_the_whole_set_is_read(url: str, raw: Any, listing: str) -> None:
    """The bytes Redis sent for the first id: about a page, not 50,000 ids (over 1 MB)."""
    vault = TokenVault(url)
    _fill(raw, lambda i: time.time() + i)
    ids = vault.users() if listing == "users" else vault.expiring(2 * MANY)
    before = _sent(raw)
    assert next(ids).startswith("user-")
    assert _sent(raw) - before < 150_000
    assert len(set(ids)) >= MANY - 1  # the rest follows


def test_expiring_misses_no_one_while_keep_alive_moves_them(url: str, raw: Any) -> None:
    """Each due user once, though each one yielded is refreshed out of the range meanwhile."""
    vault = TokenVault(url)
    past = float(int(time.time()) - 10**6)
    _fill(raw, lambda i: past + i // 3000)  # all due, in runs of ties longer than a page
    seen = []
    for user in vault.expiring(0):
        seen.append(user)
        raw.zadd(PREFIX + "users", {user: 2e9})  # refreshed: its refresh token dies much later
    assert len(seen) == MANY
    assert len(set(seen)) == MANY
