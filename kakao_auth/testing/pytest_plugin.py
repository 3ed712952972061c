"""The ``fake_kakao`` pytest fixture, registered for every project that installs kakao_auth.

::

    def test_my_cron_script_sends_a_memo(fake_kakao):
        fake_kakao.write_token_file()        # a logged-in kakao_token.json in tmp_path
        my_script.main()                     # uses KakaoSession.from_file() as in production
        assert fake_kakao.memos == [{"object_type": "text", ...}]

The fixture is a running :class:`kakao_auth.testing.FakeKakao` with the environment pointed at
it: ``KAKAO_KAUTH_URL``, ``KAKAO_KAPI_URL``, ``KAKAO_REST_API_KEY``, ``REQUESTS_CA_BUNDLE``,
``SSL_CERT_FILE`` and
``KAKAO_TOKEN_FILE`` (``<tmp_path>/kakao_token.json``, also ``fake_kakao.token_file``).

The ``kakao_vault`` fixture is a :class:`~kakao_auth.TokenVault` on a temporary SQLite file
beside ``fake_kakao`` (``KAKAO_TOKEN_VAULT`` points at it too), for web apps of many users::

    def test_memo_for_each_user(fake_kakao, kakao_vault):
        kakao_vault.save(1, fake_kakao.issue_tokens(user_id=1))
        my_app.notify(user_id=1)           # uses TokenVault() as in production
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .fake_kakao import FakeKakao

if TYPE_CHECKING:
    from ..vault import TokenVault

__all__ = ["fake_kakao", "kakao_vault"]


@pytest.fixture
def fake_kakao(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeKakao]:
    """A running fake Kakao, with the environment pointed at it for the test's duration."""
    with FakeKakao() as fake:
        for name, value in fake.environ().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("KAKAO_CLIENT_SECRET", raising=False)
        fake.token_file = str(tmp_path / "kakao_token.json")
        monkeypatch.setenv("KAKAO_TOKEN_FILE", fake.token_file)
        yield fake


@pytest.fixture
def kakao_vault(
    fake_kakao: FakeKakao, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[TokenVault]:
    """A TokenVault on ``<tmp_path>/kakao_tokens.db`` (SQLite), pointed at ``fake_kakao``."""
    from ..vault import TokenVault

    url = f"sqlite:///{tmp_path / 'kakao_tokens.db'}"
    monkeypatch.setenv("KAKAO_TOKEN_VAULT", url)
    monkeypatch.delenv("KAKAO_VAULT_KEY", raising=False)
    with TokenVault(url) as vault:
        yield vault
