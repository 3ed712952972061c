"""GitHubSecretStore against the fake Kakao and a fake GitHub (real libsodium crypto), with each
workflow run a separate process whose environment holds the secret's current value."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kakao_auth import ConfigurationError, GitHubSecretStore, TokenStoreError
from kakao_auth.stores import BUILTIN_STORES, ENTRY_POINT_GROUP, open_store
from kakao_auth.testing import FakeGitHub, FakeKakao

if os.environ.get("CI") != "true":
    pytest.importorskip("nacl")  # in CI these tests must run: .ci/run installs the extra

SECRET = "KAKAO_REFRESH_TOKEN"
MONTH = 30 * 86400
RUN = """
from kakao_auth import KakaoSession
session = KakaoSession.from_file()
print("status", session.get("https://kapi.kakao.com/v2/user/me").status_code, flush=True)
"""


@pytest.fixture
def github(fake_kakao: FakeKakao) -> Iterator[FakeGitHub]:
    with FakeGitHub(ca=fake_kakao.ca, ca_bundle=fake_kakao.ca_bundle) as gh:
        yield gh


def workflow_run(
    fake: FakeKakao, gh: FakeGitHub, value: str, *, token: str | None = None, actions: bool = True
) -> subprocess.CompletedProcess[str]:
    """One scheduled run: the step's env block holds the secret's current value."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_", "KAKAO_"))}
    env.update(fake.environ())
    env.update(gh.environ())
    if not actions:
        del env["GITHUB_ACTIONS"]
    env.update({SECRET: value, "GH_TOKEN": token or gh.writer_token, "KAKAO_TOKEN_STORE": f"github:{SECRET}"})
    return subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=120)


def _bare_login(fake: FakeKakao, tmp_path: Path, **kwargs: object) -> str:
    token = fake.write_token_file(tmp_path / "login.json", **kwargs)  # type: ignore[arg-type]
    assert token.refresh_token is not None
    return token.refresh_token


def test_runs_with_a_rotation_in_the_middle_never_lose_the_login(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path
) -> None:
    github.secrets[SECRET] = _bare_login(fake_kakao, tmp_path)  # what users keep today
    outputs = []
    for run in range(1, 7):
        if run == 4:
            fake_kakao.shorten_refresh_tokens(20 * 86400)  # the last month: Kakao rotates now
        calls = fake_kakao.token_calls
        done = workflow_run(fake_kakao, github, github.secrets[SECRET])
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == 0, done.stderr
        assert "status 200" in done.stdout
        assert fake_kakao.token_calls - calls <= 1  # once per run at most
        live = github.secrets[SECRET]
        stored = json.loads(live)["refresh_token"] if live.startswith("{") else live
        assert fake_kakao.refresh_token_alive(stored), f"run {run} left a dead refresh token"
    assert github.changes == 1  # changed exactly once: at the rotation
    # Each run that may rotate (a bare secret: its age is unknown) first writes its value back
    # unchanged, to prove the token may write: runs 1 to 4.
    assert github.puts == 5
    secrets_seen = {fake_kakao_token for fake_kakao_token in _all_tokens(github)}
    for text in outputs:
        for line in text.splitlines():
            if not line.startswith("::add-mask::"):
                assert not any(secret in line for secret in secrets_seen), line


def _all_tokens(github: FakeGitHub) -> set[str]:
    value = github.secrets[SECRET]
    data = json.loads(value) if value.startswith("{") else {"refresh_token": value}
    return {data[k] for k in ("access_token", "refresh_token") if k in data}


def test_no_call_to_kakao_when_the_write_back_cannot_work(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path
) -> None:
    old = _bare_login(fake_kakao, tmp_path, refresh_ttl=20 * 86400)  # a refresh would rotate it
    done = workflow_run(fake_kakao, github, old, token=github.reader_token)  # the workflow's GITHUB_TOKEN
    assert done.returncode != 0
    assert "Secrets: Read and write" in done.stderr and "GH_TOKEN" in done.stderr
    assert "ConfigurationError" in done.stderr  # typed
    assert fake_kakao.token_calls == 0
    assert fake_kakao.refresh_token_alive(old)


def test_a_github_token_pasted_with_its_line_end_writes_back(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path
) -> None:
    old = _bare_login(fake_kakao, tmp_path, refresh_ttl=20 * 86400)  # this refresh rotates it
    github.secrets[SECRET] = old
    done = workflow_run(fake_kakao, github, old, token=github.writer_token + "\n")
    assert done.returncode == 0, done.stderr
    assert github.changes == 1 and fake_kakao.token_calls == 1


@pytest.mark.parametrize("bad", ["\u00e9{token}", "{token}\r\nX-Injected: 1", "{token} {token}"])
def test_a_github_token_that_cannot_be_one_is_named_before_kakao_is_called(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path, bad: str
) -> None:
    old = _bare_login(fake_kakao, tmp_path, refresh_ttl=20 * 86400)
    token = bad.format(token=github.writer_token)
    done = workflow_run(fake_kakao, github, old, token=token)
    assert done.returncode != 0
    assert "GH_TOKEN is not a GitHub token" in done.stderr and github.writer_token not in done.stderr
    assert fake_kakao.token_calls == 0 and fake_kakao.refresh_token_alive(old)
    with pytest.raises(ConfigurationError, match="token= is not a GitHub token"):
        GitHubSecretStore(SECRET, repository=github.repository, api_url=github.api_url, token=token)


def test_a_failed_write_back_says_the_login_must_be_redone(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path
) -> None:
    old = _bare_login(fake_kakao, tmp_path, refresh_ttl=20 * 86400)
    store = GitHubSecretStore(
        SECRET, repository=github.repository, api_url=github.api_url, token=github.writer_token
    )
    os.environ[SECRET] = old
    try:
        from kakao_auth import KakaoAuth

        store.load()
        store.check_writable()  # the proof: the value written back, unchanged
        github.fail_puts = 3  # then GitHub fails the rotation's write-back
        with pytest.raises(TokenStoreError, match="run `kakao-auth login`"):
            KakaoAuth.from_store(store).valid_token()
    finally:
        del os.environ[SECRET]
    assert github.puts == 1 and fake_kakao.token_calls == 1


@pytest.mark.parametrize(
    "answer",
    [b"[1, 2]", b'"key"', b"7", b"{}", b'{"key_id": 1, "key": 2}', b'{"key_id": "1", "key": "not base64!"}'],
)
def test_a_public_key_answer_that_is_no_key_is_a_typed_error_and_writes_nothing(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path, answer: bytes
) -> None:
    token = fake_kakao.write_token_file(tmp_path / "login.json")
    github.key_answer = answer
    store = GitHubSecretStore(
        SECRET, repository=github.repository, api_url=github.api_url, token=github.writer_token
    )
    with pytest.raises(TokenStoreError, match="public key"):
        store.save(token)
    assert github.key_reads == 1 and github.puts == 0


def test_masks_only_inside_actions_and_only_tokens(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path
) -> None:
    refresh = _bare_login(fake_kakao, tmp_path)
    inside = workflow_run(fake_kakao, github, refresh)
    lines = inside.stderr.splitlines()
    masks = [line[len("::add-mask::") :] for line in lines if line.startswith("::add-mask::")]
    assert refresh in masks and len(masks) >= 2  # the refresh token and the new access token
    assert all(m and " " not in m for m in masks)
    assert "::add-mask::" not in inside.stdout  # stdout stays the program's own
    outside = workflow_run(fake_kakao, github, refresh, actions=False)
    assert "::add-mask::" not in outside.stdout + outside.stderr


def test_load_reads_the_environment_bare_or_json(
    fake_kakao: FakeKakao, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/kakao-cron")
    token = fake_kakao.write_token_file(tmp_path / "t.json")
    monkeypatch.setenv(SECRET, str(token.refresh_token))
    bare = GitHubSecretStore(SECRET).load()
    assert bare.refresh_token == token.refresh_token and not bare.is_fresh(0)
    monkeypatch.setenv(SECRET, json.dumps(token.to_dict(time.time())))
    assert GitHubSecretStore(SECRET).load().access_token == token.access_token
    monkeypatch.delenv(SECRET)
    with pytest.raises(
        TokenStoreError, match=r"KAKAO_REFRESH_TOKEN: \$\{\{ secrets.KAKAO_REFRESH_TOKEN \}\}"
    ):
        GitHubSecretStore(SECRET).load()
    monkeypatch.setenv(SECRET, "not a token\n")
    with pytest.raises(TokenStoreError, match="neither a refresh token"):
        GitHubSecretStore(SECRET).load()


def test_store_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/kakao-cron")
    long = open_store("github://someone/their-repo/MY_TOKEN")
    assert isinstance(long, GitHubSecretStore) and long.location == "github://someone/their-repo/MY_TOKEN"
    short = open_store("github:KAKAO_REFRESH_TOKEN")
    assert short.location == "github://octo/kakao-cron/KAKAO_REFRESH_TOKEN"
    for bad in ("github://a/b", "github:GITHUB_TOKEN", "github:1BAD", "github:has-dash", "github://a/b/c/d"):
        with pytest.raises(ConfigurationError):
            open_store(bad)
    monkeypatch.delenv("GITHUB_REPOSITORY")
    with pytest.raises(ConfigurationError, match="GITHUB_REPOSITORY"):
        open_store("github:KAKAO_REFRESH_TOKEN")
    with pytest.raises(ConfigurationError, match="https"):
        GitHubSecretStore(SECRET, repository="a/b", api_url="http://api.github.local")


def test_copy_sets_the_secret_and_status_reads_it(
    fake_kakao: FakeKakao, github: FakeGitHub, token_file: Path
) -> None:
    fake_kakao.write_token_file()
    env = {**os.environ, **fake_kakao.environ(), **github.environ(), "GH_TOKEN": github.writer_token}
    del env["GITHUB_ACTIONS"]  # on the user's machine
    cli = [sys.executable, "-m", "kakao_auth"]
    target = f"github://{github.repository}/{SECRET}"
    done = subprocess.run(
        [*cli, "copy", str(token_file), target], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    saved = json.loads(github.secrets[SECRET])
    assert fake_kakao.refresh_token_alive(saved["refresh_token"]) and "client_secret" not in saved
    for secret in (saved["access_token"], saved["refresh_token"]):
        assert secret not in done.stdout + done.stderr
    env[SECRET] = github.secrets[SECRET]
    status = subprocess.run(
        [*cli, "status", "--store", target], env=env, capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 0, status.stderr
    assert "Refresh token:" in status.stdout and "expires" in status.stdout


def test_the_builtin_stores_are_registered_as_entry_points() -> None:
    from importlib.metadata import entry_points

    found = {e.name: e.value for e in entry_points(group=ENTRY_POINT_GROUP)}
    assert found == BUILTIN_STORES


PLUGIN = """
from kakao_auth.testing import MemoryTokenStore
def factory(url, *, client_id=None):
    return MemoryTokenStore()
"""


def test_a_third_party_scheme_resolves_through_the_entry_point_group(tmp_path: Path) -> None:
    (tmp_path / "vault_plugin.py").write_text(PLUGIN)
    info = tmp_path / "vault_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vault-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nvault = vault_plugin:factory\n")
    code = "from kakao_auth.stores import open_store; print(type(open_store('vault://kv/kakao')).__name__)"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "MemoryTokenStore", done.stderr
    with pytest.raises(ConfigurationError, match="no token store handles vault"):
        open_store("vault://kv/kakao")


def test_kakao_auth_token_in_actions_prints_only_the_token(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path
) -> None:
    refresh = _bare_login(fake_kakao, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_", "KAKAO_"))}
    env.update({**fake_kakao.environ(), **github.environ(), SECRET: refresh, "GH_TOKEN": github.writer_token})
    argv = [sys.executable, "-m", "kakao_auth", "token", "--store", f"github:{SECRET}"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n" and fake_kakao.access_token_alive(token)  # TOKEN=$(kakao-auth token)
    assert f"::add-mask::{token}" in done.stderr.splitlines()


# -- hardening round 3 (issue 24) ---------------------------------------------------------------


def _in_process_store(github: FakeGitHub, token: str | None = None) -> GitHubSecretStore:
    return GitHubSecretStore(
        SECRET, repository=github.repository, api_url=github.api_url, token=token or github.writer_token
    )


def _refresh_with(store: GitHubSecretStore, value: str) -> None:
    """One run's refresh, in this process, with the step's env holding the secret's ``value``."""
    from kakao_auth import KakaoAuth

    os.environ[SECRET] = value
    try:
        KakaoAuth.from_store(store).valid_token()
    finally:
        del os.environ[SECRET]


@pytest.mark.parametrize(
    ("key_id", "key"),
    [
        ("1", base64.b64encode(b"\x01" * 31).decode()),  # short
        ("1", base64.b64encode(b"\x01" * 33).decode()),  # long
        ("1", base64.b64encode(bytes(32)).decode()),  # all zeros: libsodium refuses to seal
        ("1", "AQEB!" + base64.b64encode(b"\x01" * 32).decode()[5:]),  # not base64
        ("1 2", base64.b64encode(b"\x01" * 32).decode()),  # a key id with a space
        ("../1", base64.b64encode(b"\x01" * 32).decode()),
        ("", base64.b64encode(b"\x01" * 32).decode()),
    ],
)
def test_a_public_key_that_is_no_curve25519_key_stops_before_kakao_is_asked(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path, key_id: str, key: str
) -> None:
    old = _bare_login(fake_kakao, tmp_path, refresh_ttl=20 * 86400)  # a refresh would rotate it
    github.secrets[SECRET] = old
    github.key_answer = json.dumps({"key_id": key_id, "key": key}).encode()
    with pytest.raises(TokenStoreError, match="public key") as caught:
        _refresh_with(_in_process_store(github), old)
    assert fake_kakao.token_calls == 0 and fake_kakao.refresh_token_alive(old)
    assert github.puts == 0 and old not in _chain_text(caught.value)


def test_seal_types_every_failure() -> None:
    from kakao_auth.stores.github import seal

    for key in (bytes(32), b"\x01" * 31):
        with pytest.raises(TokenStoreError, match="public key is not usable") as caught:
            seal(key, "a-secret-value")
        assert caught.value.__context__ is None and caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("prefix", "permission"), [("github_pat_", "Secrets: Read and write"), ("ghp_", "`repo`")]
)
def test_a_token_that_can_read_but_not_write_secrets_fails_before_kakao_is_asked(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path, prefix: str, permission: str
) -> None:
    github.read_only_token = prefix + github.read_only_token.split("_")[-1]
    old = _bare_login(fake_kakao, tmp_path, refresh_ttl=20 * 86400)
    github.secrets[SECRET] = old
    done = workflow_run(fake_kakao, github, old, token=github.read_only_token)
    assert done.returncode != 0
    assert "ConfigurationError" in done.stderr and "can read" in done.stderr and permission in done.stderr
    assert fake_kakao.token_calls == 0 and fake_kakao.refresh_token_alive(old)
    assert github.secrets[SECRET] == old and github.read_only_token not in done.stderr


def test_a_tutorial_json_secret_without_an_issue_time_may_rotate(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path
) -> None:
    old = _bare_login(fake_kakao, tmp_path, refresh_ttl=20 * 86400)  # Kakao will rotate it
    # The tutorial's JSON: lifetimes relative to a moment it does not record (60 days "left").
    value = json.dumps(
        {"access_token": "expired-access-token", "expires_in": 0, "refresh_token": old,
         "refresh_token_expires_in": 60 * 86400}
    )  # fmt: skip
    github.secrets[SECRET] = value
    done = workflow_run(fake_kakao, github, value, token=github.read_only_token)
    assert done.returncode != 0 and "can read" in done.stderr
    assert fake_kakao.token_calls == 0 and fake_kakao.refresh_token_alive(old)
    done = workflow_run(fake_kakao, github, value)  # with a token that may write: rotated, kept
    assert done.returncode == 0, done.stderr
    assert github.changes == 1
    assert fake_kakao.refresh_token_alive(json.loads(github.secrets[SECRET])["refresh_token"])


def test_a_dated_secret_with_months_left_is_not_written(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path
) -> None:
    token = fake_kakao.write_token_file(tmp_path / "login.json", access_ttl=0)  # two months left
    value = json.dumps(token.to_dict(time.time()))
    github.secrets[SECRET] = value
    done = workflow_run(fake_kakao, github, value, token=github.read_only_token)
    assert done.returncode == 0, done.stderr  # nothing will rotate: no write, no write check
    assert fake_kakao.token_calls == 1 and github.puts == 0


def test_a_key_rotated_between_the_check_and_the_put_is_read_again(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path
) -> None:
    old = _bare_login(fake_kakao, tmp_path, refresh_ttl=20 * 86400)
    github.secrets[SECRET] = old
    store = _in_process_store(github)
    os.environ[SECRET] = old
    try:
        store.load()
        store.check_writable()  # reads the key, writes the value back with it
        github.rotate_key()  # GitHub rotates its key: the id read is now refused with 422
        _refresh_with(store, old)
    finally:
        os.environ.pop(SECRET, None)
    assert fake_kakao.token_calls == 1 and github.changes == 1 and github.key_reads == 2
    assert fake_kakao.refresh_token_alive(json.loads(github.secrets[SECRET])["refresh_token"])


FAKE_GH = """#!{python}
import json, sys
with open({log!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:] == ["auth", "token", "--hostname", {host!r}]:
    print({token!r})
else:
    sys.exit(1)
"""


def _fake_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, token: str) -> Path:
    """A ``gh`` first on PATH that records its argv, and knows ``token`` for ``host`` only."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    log = tmp_path / "gh-argv.log"
    gh = folder / "gh"
    gh.write_text(FAKE_GH.format(python=sys.executable, log=str(log), host=host, token=token))
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    for name in ("GH_TOKEN", "GITHUB_TOKEN", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    return log


def test_gh_is_asked_for_the_api_hosts_token(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = github.api_url.split("://")[1]  # 127.0.0.1:PORT
    log = _fake_gh(tmp_path, monkeypatch, host, github.writer_token)
    old = _bare_login(fake_kakao, tmp_path, refresh_ttl=20 * 86400)
    github.secrets[SECRET] = old
    store = GitHubSecretStore(SECRET, repository=github.repository, api_url=github.api_url)
    _refresh_with(store, old)
    assert github.changes == 1
    assert {tuple(json.loads(line)) for line in log.read_text().splitlines()} == {
        ("auth", "token", "--hostname", host)
    }


@pytest.mark.parametrize(
    ("api_url", "host"),
    [
        ("https://api.github.com", "github.com"),
        ("https://ghe.example.com/api/v3", "ghe.example.com"),
        ("https://ghe.example.com:8443/api/v3/", "ghe.example.com:8443"),
        ("https://api.octo.ghe.com", "octo.ghe.com"),
    ],
)
def test_gh_hostname_for_github_and_enterprise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_url: str, host: str
) -> None:
    from kakao_auth.stores.github import _gh_cli_token

    log = _fake_gh(tmp_path, monkeypatch, host, "gho_" + "a" * 36)
    assert _gh_cli_token(False, api_url) == "gho_" + "a" * 36
    assert json.loads(log.read_text()) == ["auth", "token", "--hostname", host]


@pytest.mark.parametrize("name", ["GH_TOKEN", "gh_token", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN"])
def test_a_secret_name_that_is_the_github_token_variable_is_refused(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/kakao-cron")
    with pytest.raises(ConfigurationError):
        open_store(f"github:{name}")
    with pytest.raises(ConfigurationError):
        GitHubSecretStore(name, repository="octo/kakao-cron")


def test_a_bare_secret_never_masks_the_placeholder_access_token(
    fake_kakao: FakeKakao, github: FakeGitHub, tmp_path: Path
) -> None:
    old = _bare_login(fake_kakao, tmp_path, refresh_ttl=20 * 86400)
    github.secrets[SECRET] = old
    fake_kakao.write_token_file(tmp_path / "unused.json")
    done = workflow_run(fake_kakao, github, old)
    assert done.returncode == 0, done.stderr
    masks = [
        line[len("::add-mask::") :] for line in done.stderr.splitlines() if line.startswith("::add-mask::")
    ]
    assert old in masks and "0" not in masks
    assert all(len(m) >= 16 for m in masks)


def test_store_urls_are_case_insensitive_and_names_checked_as_github_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/kakao-cron")
    assert (
        open_store("GITHUB://Octo-Cat/my.repo_1/MY_TOKEN").location == "github://Octo-Cat/my.repo_1/MY_TOKEN"
    )
    assert open_store("GitHub:KAKAO_REFRESH_TOKEN").location == "github://octo/kakao-cron/KAKAO_REFRESH_TOKEN"
    bad = [
        "github://octo/./NAME",
        "github://octo/../NAME",
        "github://-octo/repo/NAME",
        "github://octo-/repo/NAME",
        "github://oc--to/repo/NAME",
        "github://oc_to/repo/NAME",
        f"github://{'a' * 40}/repo/NAME",
        f"github://octo/{'r' * 101}/NAME",
        "github://octo/re po/NAME",
        "github://octo/repo/1NAME",
        "github://octo/repo/GITHUB_NAME",
        "github://octo/repo/NA-ME",
        "github:",
    ]
    for url in bad:
        with pytest.raises(ConfigurationError):
            open_store(url)
    assert open_store(f"github://{'a' * 39}/{'r' * 100}/NAME").location.startswith("github://aaa")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/..")
    with pytest.raises(ConfigurationError, match="not an OWNER/REPO name"):
        open_store("github:KAKAO_REFRESH_TOKEN")


def _chain_text(error: BaseException) -> str:
    """The message of ``error`` and of every exception its __cause__/__context__ chain holds."""
    seen: list[str] = []
    node: BaseException | None = error
    while node is not None and len(seen) < 20:
        seen.append(f"{type(node).__name__}: {node} {node!r}")
        node = node.__cause__ or node.__context__
    return "\n".join(seen)
