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
