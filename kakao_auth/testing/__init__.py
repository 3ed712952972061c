"""kakao_auth's test kit: a fake Kakao over HTTPS, an in-memory store, a throwaway Redis.

::

    from kakao_auth.testing import FakeKakao
    with FakeKakao() as fake:                      # kauth and kapi on two loopback HTTPS ports
        fake.write_token_file()                    # a logged-in token file: fake.token_file
        os.environ.update(fake.environ())          # the URLs, app key, CA bundle, token file
        ...                                        # run the code under test, unchanged
        assert fake.refresh_calls == 1

This works in any script or test runner. ``environ()`` is the whole environment that points
kakao_auth (and requests and httpx) at the fake: ``KAKAO_KAUTH_URL``, ``KAKAO_KAPI_URL``,
``KAKAO_AUTHORIZE_URL``, ``KAKAO_REST_API_KEY``, ``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``, and
``KAKAO_TOKEN_FILE`` once a token file is written; pass it as ``env=`` to a child process.
``write_token_file(path)`` writes elsewhere; both forms return the ``Token`` written. Knobs and
counters (``fail_token``, ``expire_access_tokens``, ``memos``, ``refresh_calls``...) are listed
in the README's "Testing your own scripts".

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
