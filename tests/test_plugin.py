"""The fake_kakao fixture as a user meets it: testing a cron script that sends a memo."""

from __future__ import annotations

import importlib.util
import json
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import pytest
from kakao_auth import LoginRequired
from kakao_auth.testing import FakeKakao

EXAMPLE = Path(__file__).parents[1] / "examples" / "send_memo.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("send_memo", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_plugin_is_registered_for_pytest() -> None:
    eps = entry_points()
    group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])  # 3.9
    found = [ep for ep in group if ep.name == "kakao_auth"]
    assert {ep.value for ep in found} == {"kakao_auth.testing.pytest_plugin"}


def test_fixture_points_the_environment_at_the_fake(
    fake_kakao: FakeKakao, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    assert os.environ["KAKAO_KAPI_URL"] == fake_kakao.kapi_url
    assert os.environ["KAKAO_TOKEN_FILE"] == fake_kakao.token_file
    assert Path(os.environ["REQUESTS_CA_BUNDLE"]).is_file()


# The example from the README: a user's test of their own cron script.
def test_my_cron_script_sends_a_memo(fake_kakao: FakeKakao) -> None:
    fake_kakao.write_token_file()  # a logged-in kakao_token.json in tmp_path
    send_memo = _load_example()
    assert send_memo.send("backup finished", fake_kakao.token_file) == {"result_code": 0}
    assert fake_kakao.memos[0]["text"] == "backup finished"


def test_my_cron_script_survives_an_expired_token(fake_kakao: FakeKakao) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    _load_example().send("still works", fake_kakao.token_file)
    assert fake_kakao.refresh_calls == 1
    assert json.loads(Path(str(fake_kakao.token_file)).read_text())["expires_in"] > 21000


def test_my_cron_script_when_the_login_is_revoked(fake_kakao: FakeKakao) -> None:
    fake_kakao.write_token_file()
    fake_kakao.revoke_all()
    with pytest.raises(LoginRequired):
        _load_example().send("nobody home", fake_kakao.token_file)


# -- store plug-ins (the kakao_auth.stores entry-point group) that are broken (issue 24) ---------

BROKEN_PLUGIN = """
from kakao_auth.testing import MemoryTokenStore

def not_a_store(url, *, client_id=None):
    return object()

def raises(url, *, client_id=None):
    raise RuntimeError("the plug-in's own words: " + url)

def works(url, *, client_id=None):
    return MemoryTokenStore()
"""
BROKEN_ENTRY_POINTS = {
    "nomodule": "no_such_module_for_kakao:factory",
    "noattr": "broken_store_plugin:missing",
    "notstore": "broken_store_plugin:not_a_store",
    "raises": "broken_store_plugin:raises",
    "works": "broken_store_plugin:works",
}
OPEN_EACH = """
import sys
from kakao_auth.stores import open_store
for scheme in sys.argv[1:]:
    try:
        print(scheme, "ok", type(open_store(scheme.upper() + "://user:Pw0rdPiece@host/x")).__name__)
    except Exception as e:
        print(scheme, type(e).__name__, e, "| cause:", repr(e.__cause__), "| context:", repr(e.__context__))
"""


def _install_plugin(
    folder: Path, name: str, module: str, code: str, entries: dict[str, str], group: str = ""
) -> None:
    """A distribution ``name`` on ``folder`` (for PYTHONPATH): ``module``.py plus its dist-info."""
    from kakao_auth.stores import ENTRY_POINT_GROUP

    (folder / f"{module}.py").write_text(code)
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{scheme} = {target}\n" for scheme, target in entries.items())
    (info / "entry_points.txt").write_text(f"[{group or ENTRY_POINT_GROUP}]\n{lines}")


def test_a_broken_store_plugin_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    _install_plugin(
        tmp_path, "broken-store-plugin", "broken_store_plugin", BROKEN_PLUGIN, BROKEN_ENTRY_POINTS
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    argv = [sys.executable, "-c", OPEN_EACH, *BROKEN_ENTRY_POINTS]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    lines = {line.split(" ", 1)[0]: line for line in done.stdout.splitlines()}
    assert set(lines) == set(BROKEN_ENTRY_POINTS), done.stdout + done.stderr
    assert lines["works"] == "works ok MemoryTokenStore"  # the case-insensitive scheme too
    for scheme in ("nomodule", "noattr", "notstore", "raises"):
        line = lines[scheme]
        assert line.startswith(f"{scheme} ConfigurationError "), line
        assert f"{scheme}://" in line and BROKEN_ENTRY_POINTS[scheme] in line, line
        assert "broken-store-plugin" in line, line  # the distribution to fix or remove
        assert "Pw0rdPiece" not in line and "own words" not in line, line
        assert line.endswith("| cause: None | context: None"), line
    assert "ModuleNotFoundError" in lines["nomodule"] and "AttributeError" in lines["noattr"]
    assert "not a kakao_auth.TokenStore" in lines["notstore"] and "RuntimeError" in lines["raises"]


BROKEN_VAULT = """
def not_a_backend(url, options):
    return object()

def raises(url, options):
    raise RuntimeError("the plug-in's own words: " + url)
"""
BROKEN_VAULTS = {
    "nomodule": "no_such_module_for_kakao:factory",
    "noattr": "broken_vault_plugin:missing",
    "notbackend": "broken_vault_plugin:not_a_backend",
    "raises": "broken_vault_plugin:raises",
}
OPEN_EACH_VAULT = """
import sys
from kakao_auth import TokenVault
for scheme in sys.argv[1:]:
    try:
        TokenVault(scheme + "://user:Pw0rdPiece@host/x")
    except Exception as e:
        print(scheme, type(e).__name__, e, "| cause:", repr(e.__cause__), "| context:", repr(e.__context__))
"""


def test_a_broken_vault_plugin_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    _install_plugin(
        tmp_path,
        "broken-vault-plugin",
        "broken_vault_plugin",
        BROKEN_VAULT,
        BROKEN_VAULTS,
        "kakao_auth.vaults",
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    argv = [sys.executable, "-c", OPEN_EACH_VAULT, *BROKEN_VAULTS]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    lines = {line.split(" ", 1)[0]: line for line in done.stdout.splitlines()}
    assert set(lines) == set(BROKEN_VAULTS), done.stdout + done.stderr
    for scheme, line in lines.items():
        assert line.startswith(f"{scheme} ConfigurationError the vault backend plug-in"), line
        assert BROKEN_VAULTS[scheme] in line and "broken-vault-plugin" in line, line
        assert "Pw0rdPiece" not in line and "own words" not in line, line
        assert line.endswith("| cause: None | context: None"), line
    assert "ModuleNotFoundError" in lines["nomodule"] and "AttributeError" in lines["noattr"]
    assert "not a kakao_auth.vault.VaultBackend" in lines["notbackend"] and "RuntimeError" in lines["raises"]
