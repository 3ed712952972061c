"""The JSON file store: atomic 0600 writes, clear errors for bad files, nothing written on error."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from kakao_auth import FileTokenStore, KakaoAuth, Token, TokenFileError
from kakao_auth.testing import FakeKakao

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
TOKEN = Token("a" * 40, expires_in=100, expires_at=2e9, refresh_token="r" * 40, client_id="app")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_save_is_private_whatever_the_umask_and_earlier_mode(tmp_path: Path) -> None:
    path = tmp_path / "kakao_token.json"
    path.write_text("{}")
    path.chmod(0o644)
    old = os.umask(0)
    try:
        FileTokenStore(path).save(TOKEN)
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    assert json.loads(path.read_text())["access_token"] == "a" * 40


def test_save_leaves_no_temp_files_and_loads_back(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "t.json")
    store.save(TOKEN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]
    assert store.load().refresh_token == "r" * 40


def test_save_failure_keeps_the_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.json"
    store = FileTokenStore(path)
    store.save(TOKEN)
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(TokenFileError, match="cannot be written"):
        store.save(Token("b" * 40))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


BAD_FILES = {
    "empty": (b"", "is empty"),
    "blank": (b"  \n", "is empty"),
    "not-json": (b'{"access_token": ', "is not JSON"),
    "list": (b"[1, 2, 3]", "holds a JSON list"),
    "string": (b'"token"', "holds a JSON str"),
    "no-access-token": (b'{"refresh_token": "r"}', "has no access_token"),
    "bad-type": (b'{"access_token": "a", "expires_in": "6h"}', "expires_in is not a number"),
    "not-utf8": (b"\xff\xfe\x00", "is not JSON"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_raise_a_clear_error_and_stay_as_they_were(tmp_path: Path, name: str) -> None:
    content, problem = BAD_FILES[name]
    path = tmp_path / "kakao_token.json"
    path.write_bytes(content)
    with pytest.raises(TokenFileError) as info:
        KakaoAuth.from_file(path, client_id="app")
    assert problem in str(info.value)
    assert str(path) in str(info.value)
    assert "kakao-auth login" in str(info.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kakao_token.json"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match=r"does not exist.*kakao-auth login"):
        KakaoAuth.from_file(tmp_path / "nope.json")
    assert list(tmp_path.iterdir()) == []


def test_directory_in_its_place(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match="is a directory"):
        KakaoAuth.from_file(tmp_path)


@posix_only
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"access_token": "a"}))
    path.chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(TokenFileError, match="permission denied"):
            KakaoAuth.from_file(path)
        return
    # root reads any file: fork, drop to an unprivileged user, and load there.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        message = "loaded"
        try:
            os.setuid(65534)
            KakaoAuth.from_file(path)
        except TokenFileError as e:
            message = str(e)
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert "permission denied" in os.read(read_end, 4096).decode()


@posix_only
def test_symlink_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    target = tmp_path / "secrets" / "kakao.json"
    target.parent.mkdir()
    FileTokenStore(target).save(TOKEN)
    link = tmp_path / "kakao_token.json"
    link.symlink_to(target)
    FileTokenStore(link).save(Token("b" * 40, refresh_token="r" * 40))
    assert link.is_symlink()
    assert json.loads(target.read_text())["access_token"] == "b" * 40
    assert _mode(target) == 0o600


def test_paths_may_be_str_or_pathlike(tmp_path: Path) -> None:
    FileTokenStore(str(tmp_path / "a.json")).save(TOKEN)
    assert FileTokenStore(tmp_path / "a.json").load().access_token == "a" * 40


def test_lock_is_a_sidecar_that_outlives_release(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "t.json")
    with store.lock():
        assert (tmp_path / "t.json.lock").exists()
    assert (tmp_path / "t.json.lock").exists()


def test_a_path_with_a_newline_cannot_forge_a_log_line_or_drive_a_terminal(
    fake_kakao: FakeKakao, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Library users log what kakao_auth logs and raises: a path from the environment must not
    # add a line of its own to their log, nor escape sequences to their terminal.
    path = tmp_path / "kakao\nERROR forged line\x1b[2J.json"
    with pytest.raises(TokenFileError) as missing:
        FileTokenStore(path).load()
    assert missing.value.path == str(path)  # the attribute keeps the path itself
    assert "\n" not in str(missing.value) and "\x1b" not in str(missing.value)
    assert "kakao\\nERROR forged line\\x1b[2J.json" in str(missing.value)
    fake_kakao.write_token_file(path, access_ttl=0)
    with caplog.at_level("INFO", logger="kakao_auth"):
        KakaoAuth.from_file(path).valid_token()
    assert fake_kakao.token_calls == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("refreshed" in m for m in messages)
    assert not any("\n" in m or "\x1b" in m for m in messages), messages
