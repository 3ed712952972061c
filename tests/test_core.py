"""The token core's decisions, with plain values: an in-memory store, a scripted token endpoint,
a fake clock. No HTTPS here; behaviour on the wire is tested against the fake Kakao elsewhere."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Callable, Optional, Union

import pytest
from kakao_auth import LoginRequired, Token, TokenStoreError
from kakao_auth.core import TokenCore
from kakao_auth.errors import KakaoUnavailable, TokenStoreConflict
from kakao_auth.oauth import TokenEndpoint
from kakao_auth.refresh import Refresher
from kakao_auth.testing import MemoryTokenStore

NOW = 1_800_000_000.0
Answer = Union[dict[str, Any], Exception, Callable[[], dict[str, Any]]]


class ScriptedEndpoint(TokenEndpoint):
    """A token endpoint that answers from a script and records the forms it was sent."""

    def __init__(self, *answers: Answer) -> None:
        super().__init__("https://kauth.invalid/oauth/token", timeout=1, retries=0)
        self.answers = list(answers)
        self.forms: list[dict[str, str]] = []

    def post(self, form: Mapping[str, str]) -> dict[str, Any]:
        self.forms.append(dict(form))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer() if callable(answer) else answer


def token(access: str, refresh: str = "r" * 40, expires_at: float = NOW + 3600) -> Token:
    return Token(access * 40, expires_in=21599, expires_at=expires_at, refresh_token=refresh, client_id="app")


def fresh_answer(access: str = "N") -> dict[str, Any]:
    return {"access_token": access * 40, "token_type": "bearer", "expires_in": 21599}


def core_of(store: MemoryTokenStore, endpoint: ScriptedEndpoint) -> TokenCore:
    return TokenCore(Refresher(store, endpoint, clock=lambda: NOW))


KOE322 = LoginRequired("invalid_grant", "KOE322", "Refresh token not found", 400)


def test_a_fresh_token_is_used_without_a_call() -> None:
    store = MemoryTokenStore(token("A"))
    endpoint = ScriptedEndpoint()
    assert core_of(store, endpoint).valid_token().access_token == "A" * 40
    assert endpoint.forms == []


def test_an_expired_token_is_refreshed_once_and_saved() -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))
    endpoint = ScriptedEndpoint(fresh_answer("N"))
    new = core_of(store, endpoint).valid_token()
    assert new.access_token == "N" * 40
    assert new.refresh_token == "r" * 40  # Kakao sent none: kept
    assert store.token == new and store.saves == 1
    assert [f["grant_type"] for f in endpoint.forms] == ["refresh_token"]


def test_a_newer_fresh_token_in_the_store_is_adopted() -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))
    core = core_of(store, ScriptedEndpoint())
    core.reload()
    store.token = token("B")  # another process refreshed meanwhile
    assert core.valid_token().access_token == "B" * 40
    assert store.saves == 0


def test_a_fenced_save_adopts_the_newer_stored_token() -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1), fence=True)

    def meanwhile() -> dict[str, Any]:
        store.token = token("B")  # a holder whose lock lapsed saved before us
        return fresh_answer("N")

    assert core_of(store, ScriptedEndpoint(meanwhile)).valid_token().access_token == "B" * 40


def test_a_refresh_that_cannot_be_saved_is_an_error_and_the_store_keeps_its_token() -> None:
    old = token("A", expires_at=NOW - 1)
    store = MemoryTokenStore(old)
    store.fail_save = TokenStoreError("disk full")
    with pytest.raises(TokenStoreError, match="could not be saved"):
        core_of(store, ScriptedEndpoint(fresh_answer())).valid_token()
    assert store.token == old


@pytest.mark.parametrize(
    "failure", [OSError(28, "No space left"), ValueError("bad"), TokenStoreConflict("x")]
)
def test_save_failures_of_any_kind_are_typed(failure: Exception) -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))
    store.fail_save = failure
    with pytest.raises(TokenStoreError):
        core_of(store, ScriptedEndpoint(fresh_answer())).valid_token()


def test_kakao_is_not_called_when_the_store_cannot_take_the_answer() -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))
    store.unwritable = True
    endpoint = ScriptedEndpoint(fresh_answer())
    with pytest.raises(TokenStoreError, match="not writable"):
        core_of(store, endpoint).valid_token()
    assert endpoint.forms == []


def test_a_refused_refresh_token_is_remembered_until_the_store_changes() -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))
    endpoint = ScriptedEndpoint(KOE322, fresh_answer("N"))
    core = core_of(store, endpoint)
    for _ in range(3):
        with pytest.raises(LoginRequired, match="KOE322"):
            core.valid_token()
    assert len(endpoint.forms) == 1  # fails fast: the dead token is not posted again
    store.token = token("L", refresh="s" * 40, expires_at=NOW - 1)  # another process logged in
    core.reload()
    assert core.valid_token().access_token == "N" * 40
    assert endpoint.forms[-1]["refresh_token"] == "s" * 40


def test_invalid_grant_then_a_rotated_token_in_the_store_is_adopted() -> None:
    # A holder whose Redis lock lapsed posts a refresh token another holder just rotated away.
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))

    def rotated_meanwhile() -> dict[str, Any]:
        store.token = token("B", refresh="s" * 40)
        raise KOE322

    endpoint = ScriptedEndpoint(rotated_meanwhile)
    assert core_of(store, endpoint).valid_token().access_token == "B" * 40
    assert len(endpoint.forms) == 1


def test_invalid_grant_with_a_newer_stale_token_in_the_store_tries_it_once() -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))

    def rotated_meanwhile() -> dict[str, Any]:
        store.token = token("B", refresh="s" * 40, expires_at=NOW - 1)
        raise KOE322

    endpoint = ScriptedEndpoint(rotated_meanwhile, KOE322)
    with pytest.raises(LoginRequired):
        core_of(store, endpoint).valid_token()
    assert [f["refresh_token"] for f in endpoint.forms] == ["r" * 40, "s" * 40]  # then it stops


def test_a_bad_answer_is_typed_and_never_saved() -> None:
    old = token("A", expires_at=NOW - 1)
    store = MemoryTokenStore(old)
    answer = {**fresh_answer(), "expires_in": "soon"}
    with pytest.raises(KakaoUnavailable, match="expires_in"):
        core_of(store, ScriptedEndpoint(answer)).valid_token()
    assert store.token == old and store.saves == 0


def test_a_refresh_inside_the_store_lock_in_one_thread_does_not_deadlock() -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))
    core = core_of(store, ScriptedEndpoint(fresh_answer()))
    with store.lock():
        assert core.refresh(None).access_token == "N" * 40


def test_the_in_process_wait_is_bounded() -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))
    release = threading.Event()

    def slow() -> dict[str, Any]:
        release.wait(30)
        return fresh_answer()

    core = core_of(store, ScriptedEndpoint(slow))
    core.lock_wait = 0.2
    holder = threading.Thread(target=core.valid_token)
    holder.start()
    while not core.refresher.endpoint.forms:  # type: ignore[attr-defined]
        threading.Event().wait(0.01)
    try:
        with pytest.raises(TokenStoreError, match=r"timed out after 0\.2s"):
            core.refresh("A" * 40)
    finally:
        release.set()
        holder.join()


class AfterUnlock(MemoryTokenStore):
    """Runs ``then`` in the thread that let go of the lock, right after: an interleaving made certain."""

    def __init__(self, token: Token) -> None:
        super().__init__(token)
        self.then: Optional[Callable[[], object]] = None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with super().lock():
            yield
        then, self.then = self.then, None
        if then is not None:
            then()


@pytest.mark.parametrize("expires_at", [NOW - 1, NOW + 30], ids=["expired", "due"])
def test_a_login_saved_during_a_refresh_is_the_token_in_hand_after_it(expires_at: float) -> None:
    # The login waits for the refresh's lock, then saves; the refresh, ending after it, must not
    # put the old login's refreshed token back in hand (requests would go out as the old account).
    store = AfterUnlock(token("A", expires_at=expires_at))
    core = core_of(store, ScriptedEndpoint(fresh_answer("N")))
    core.reload()
    login = token("L", refresh="l" * 40)
    store.then = lambda: core.save(login)
    sent = core.request_token()
    assert store.token == login and store.saves == 2  # the refresh's save, then the login's
    assert core.held == login
    assert sent == login


def test_the_lock_wait_outlasts_the_slowest_refresh() -> None:
    endpoint = TokenEndpoint("https://kauth.invalid/oauth/token", timeout=20, retries=3, backoff=1)
    store = MemoryTokenStore(token("A"))
    core = TokenCore(Refresher(store, endpoint))
    assert endpoint.worst_case == 20 * 4 + 1 + 2 + 4
    assert core.lock_wait > endpoint.worst_case


def test_threads_share_one_flight_and_wake_together() -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))
    release = threading.Event()

    def slow() -> dict[str, Any]:
        release.wait(30)
        return fresh_answer()

    endpoint = ScriptedEndpoint(slow)
    core = core_of(store, endpoint)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(core.valid_token().access_token)) for _ in range(8)]
    for t in threads:
        t.start()
    while not endpoint.forms:
        threading.Event().wait(0.01)
    threading.Event().wait(0.1)  # the other seven are waiting on the flight by now
    release.set()
    for t in threads:
        t.join(20)  # a follower holding the flight's guard would keep the leader for lock_wait (40 s)
    assert got == ["N" * 40] * 8
    assert len(endpoint.forms) == 1


def test_followers_get_the_leaders_failure_without_asking_again() -> None:
    store = MemoryTokenStore(token("A", expires_at=NOW - 1))
    release = threading.Event()

    def failing() -> dict[str, Any]:
        release.wait(30)
        raise KakaoUnavailable("Kakao is down; try again later")

    endpoint = ScriptedEndpoint(failing)
    core = core_of(store, endpoint)
    errors: list[BaseException] = []

    def use() -> None:
        try:
            core.valid_token()
        except KakaoUnavailable as e:
            errors.append(e)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    while not endpoint.forms:
        threading.Event().wait(0.01)
    threading.Event().wait(0.1)
    release.set()
    for t in threads:
        t.join(20)
    assert len(errors) == 4 and len(endpoint.forms) == 1


@pytest.mark.parametrize("client_id", ["x\r\nHost: evil", "a b", "k\u202eey", "x" * 129])
def test_a_client_id_that_is_no_app_key_is_a_configuration_error(client_id: str, tmp_path: Any) -> None:
    from kakao_auth import ConfigurationError, KakaoAuth, KakaoSession, RedisTokenStore

    path = tmp_path / "kakao_token.json"
    with pytest.raises(ConfigurationError, match="the client id is not a Kakao app key"):
        KakaoAuth.from_file(path, client_id=client_id)
    with pytest.raises(ConfigurationError, match="the client id is not a Kakao app key"):
        KakaoSession.from_file(path, client_id=client_id)
    with pytest.raises(ConfigurationError, match="client_id is not a Kakao app key"):
        RedisTokenStore("redis://127.0.0.1:1/0", client_id=client_id)
