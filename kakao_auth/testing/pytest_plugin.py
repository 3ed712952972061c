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
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .fake_kakao import FakeKakao

__all__ = ["fake_kakao"]


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
