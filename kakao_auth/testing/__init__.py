"""kakao_auth's test kit: a fake Kakao over HTTPS, an in-memory store, a throwaway Redis.

::

    from kakao_auth.testing import FakeKakao
    with FakeKakao() as fake:                      # kauth and kapi on two loopback HTTPS ports
        os.environ.update(fake.environ())          # KAKAO_KAUTH_URL, KAKAO_KAPI_URL, CA bundle
        fake.write_token_file("kakao_token.json")  # a logged-in token file
        ...                                        # run the code under test
        assert fake.refresh_calls == 1

``FakeGitHub`` fakes GitHub's Actions-secrets API (real libsodium sealed boxes) for workflows
that keep the login in a secret. Under pytest, the ``fake_kakao`` fixture
(``kakao_auth.testing.pytest_plugin``, registered for every project that installs kakao_auth)
does the above for each test. Needs the ``testing``
extra (trustme): ``pip install 'kakao-auth[testing]'``.
"""

from __future__ import annotations

from .fake_github import FakeGitHub
from .fake_kakao import DEFAULT_REDIRECT_URI, FakeKakao
from .memory import MemoryTokenStore
from .net import free_port
from .redis_server import RedisServer

__all__ = [
    "DEFAULT_REDIRECT_URI",
    "FakeGitHub",
    "FakeKakao",
    "MemoryTokenStore",
    "RedisServer",
    "free_port",
]
