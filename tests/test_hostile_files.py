"""The token file in hostile places (issue #8, points 4 and 5): other users' links and files, root
jobs on a user's file, FIFOs, planted lock files, a writer killed mid-save, and lock waits.

Tests that need two users run as root (as CI does) and fork a child that drops to ``nobody``.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from kakao_auth import FileTokenStore, KakaoAuth, KakaoSession, TokenFileError, TokenStoreError
from kakao_auth.testing import DEFAULT_REDIRECT_URI, FakeKakao

from tests.conftest import wait_child

NOBODY = 65534
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX files")


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A folder every user can reach (pytest's own tmp folder is root's, 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="kakao-shared-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def run_as(uid: int, action: Callable[[], str], timeout: float = 60) -> str:
    """Run ``action`` in a forked child as ``uid``; return what it returned or the error it raised."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            message = action()
        except BaseException as e:
            message = f"{type(e).__name__}: {e}"
        os.write(write_end, message.encode()[:4000])
        os._exit(0)
    os.close(write_end)
    if wait_child(pid, timeout) is None:
        return "timed out"
    with os.fdopen(read_end, "rb") as f:
        return f.read().decode()


def _owned_token_file(fake: FakeKakao, folder: Path, uid: int, **kwargs: object) -> Path:
    path = folder / "kakao_token.json"
    fake.write_token_file(path, **kwargs)  # type: ignore[arg-type]
    os.chown(path, uid, uid)
    ca = folder / "ca.pem"
    shutil.copy(fake.ca_bundle, ca)
    ca.chmod(0o644)
    os.environ["REQUESTS_CA_BUNDLE"] = str(ca)  # the fake's own CA sits in a root-only folder
    return path


@as_root
def test_root_refreshing_a_users_file_keeps_it_the_users(fake_kakao: FakeKakao, shared: Path) -> None:
    os.chown(shared, NOBODY, NOBODY)
    path = _owned_token_file(fake_kakao, shared, NOBODY, access_ttl=0)
    KakaoAuth.from_file(path).valid_token()  # a `sudo kakao-auth refresh`, a root cron job
    info = path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOBODY, 0o600)
    assert Path(str(path) + ".lock").stat().st_uid == NOBODY
    assert fake_kakao.refresh_calls == 1
    # ... and the user's own jobs go on: they can lock, refresh and replace it.
    assert run_as(NOBODY, lambda: KakaoAuth.from_file(path).refresh().token_type) == "bearer"
    assert fake_kakao.refresh_calls == 2
    assert path.stat().st_uid == NOBODY


@as_root
def test_a_link_planted_by_another_user_is_not_followed(fake_kakao: FakeKakao, shared: Path) -> None:
    shared.chmod(0o1777)  # /tmp-like: world-writable and sticky
    victim = Path(tempfile.mkdtemp(dir="/tmp")) / "victim.conf"
    victim.write_text("precious")
    link = shared / "kakao_token.json"
    assert run_as(NOBODY, lambda: str(os.symlink(victim, link))) == "None"
    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, token_file=link)
    url, _ = session.authorization_url()
    redirected = fake_kakao.authorize(url)
    with pytest.raises(TokenFileError, match="symbolic link owned by another user"):
        session.fetch_token(authorization_response=redirected)
    assert fake_kakao.code_calls == 0  # the single-use code was not spent either
    with pytest.raises(TokenFileError, match="symbolic link owned by another user"):
        FileTokenStore(link).save(fake_kakao.write_token_file(shared / "other.json"))
    assert victim.read_text() == "precious"
    shutil.rmtree(victim.parent)


@as_root
def test_a_users_own_link_to_a_foreign_file_is_not_followed(fake_kakao: FakeKakao, shared: Path) -> None:
    target = shared / "real.json"
    fake_kakao.write_token_file(target)
    os.chown(target, NOBODY, NOBODY)
    link = shared / "kakao_token.json"
    link.symlink_to(target)  # root's link, to nobody's file: root must not write through it
    with pytest.raises(TokenFileError, match="to a file owned by another user"):
        KakaoAuth.from_file(link)


@as_root
def test_a_user_never_replaces_another_users_file(fake_kakao: FakeKakao, shared: Path) -> None:
    shared.chmod(0o1777)
    path = _owned_token_file(fake_kakao, shared, 0, access_ttl=0)
    path.chmod(0o644)
    before = path.read_bytes()
    message = run_as(NOBODY, lambda: KakaoAuth.from_file(path).valid_token().token_type)
    assert message.startswith("TokenFileError") and "belongs to another user" in message
    assert fake_kakao.token_calls == 0  # refused before Kakao was asked
    assert path.read_bytes() == before


@posix_only
def test_a_fifo_at_the_token_path_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "kakao_token.json"
    os.mkfifo(fifo)
    errors: list[BaseException] = []

    def load() -> None:
        try:
            KakaoAuth.from_file(fifo)
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(20)  # a blocking open would hang for ever: 20 s tells the two apart anywhere
    assert not thread.is_alive(), "opening the FIFO blocked"
    assert len(errors) == 1 and isinstance(errors[0], TokenFileError)
    assert "not a regular file" in str(errors[0])


@posix_only
def test_a_temp_file_left_by_a_killed_writer_is_removed_at_the_next_save(
    fake_kakao: FakeKakao, token_file: Path
) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    left = token_file.parent / f".{token_file.name}.k1ll3d_.tmp"  # as mkstemp names them
    left.write_text('{"access_token": "half a tok')
    left.chmod(0o600)
    unrelated = token_file.parent / ".other.json.abc.tmp"
    unrelated.write_text("x")
    KakaoAuth.from_file(token_file).valid_token()
    assert not left.exists()
    assert unrelated.exists()


@posix_only
def test_a_symlink_planted_as_the_lock_file_is_refused(
    fake_kakao: FakeKakao, token_file: Path, tmp_path: Path
) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    target = tmp_path / "etc-shadow"
    target.write_text("keep me")
    Path(str(token_file) + ".lock").symlink_to(target)
    with pytest.raises(TokenFileError, match=r"lock file .* is a symbolic link"):
        KakaoAuth.from_file(token_file).valid_token()
    assert target.read_text() == "keep me"  # not truncated, not locked
    assert token_file.read_bytes() == before
    assert fake_kakao.token_calls == 0


@as_root
def test_a_lock_file_owned_by_another_user_is_refused(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    lock = Path(str(token_file) + ".lock")
    lock.touch(mode=0o666)
    os.chown(lock, 12345, 12345)
    with pytest.raises(TokenFileError, match="belongs to another user"):
        KakaoAuth.from_file(token_file).valid_token()
    assert fake_kakao.token_calls == 0


@as_root
def test_a_lock_file_the_user_cannot_open_is_typed(fake_kakao: FakeKakao, shared: Path) -> None:
    path = _owned_token_file(fake_kakao, shared, NOBODY, access_ttl=0)
    os.chown(shared, NOBODY, NOBODY)
    lock = Path(str(path) + ".lock")
    lock.touch(mode=0o600)
    os.chown(lock, 12345, 12345)
    message = run_as(NOBODY, lambda: KakaoAuth.from_file(path).valid_token().token_type)
    assert message.startswith("TokenFileError") and "permission denied" in message


def test_a_thread_waiting_for_the_file_lock_gives_up_at_its_timeout(
    fake_kakao: FakeKakao, token_file: Path
) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with FileTokenStore(token_file).lock():
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        auth = KakaoAuth.from_store(FileTokenStore(token_file, lock_timeout=0.3))
        with pytest.raises(TokenStoreError, match="timed out"):
            auth.valid_token()
    finally:
        release.set()
        holder.join()
    assert fake_kakao.token_calls == 0


def test_a_refresh_inside_a_locked_block_of_the_same_thread_goes_through(
    fake_kakao: FakeKakao, token_file: Path
) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    store = FileTokenStore(token_file, lock_timeout=5)
    with store.lock():
        assert KakaoAuth.from_file(token_file).refresh().access_token
    assert fake_kakao.refresh_calls == 1


@as_root
def test_a_hard_link_planted_as_the_lock_file_is_refused_and_not_handed_over(
    fake_kakao: FakeKakao, shared: Path
) -> None:
    # The user owns the folder and the token file; root refreshes it (sudo, a root cron job).
    os.chown(shared, NOBODY, NOBODY)
    path = _owned_token_file(fake_kakao, shared, NOBODY, access_ttl=0)
    precious = Path(tempfile.mkdtemp(dir="/tmp")) / "root-only.conf"  # stands in for /etc/shadow
    precious.write_text("root's")
    precious.chmod(0o600)
    os.link(precious, Path(str(path) + ".lock"))  # what the user could plant (no protected_hardlinks)
    with pytest.raises(TokenFileError, match="other hard links"):
        KakaoAuth.from_file(path).valid_token()
    info = precious.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)  # still root's
    assert fake_kakao.token_calls == 0
    shutil.rmtree(precious.parent)


@as_root
def test_root_never_hands_over_a_lock_file_that_was_already_there(
    fake_kakao: FakeKakao, shared: Path
) -> None:
    os.chown(shared, NOBODY, NOBODY)
    path = _owned_token_file(fake_kakao, shared, NOBODY, access_ttl=0)
    lock = Path(str(path) + ".lock")
    lock.write_text("")
    lock.chmod(0o600)  # root's, there before this run
    KakaoAuth.from_file(path).valid_token()
    assert lock.stat().st_uid == 0
