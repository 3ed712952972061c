"""A pytest plug-in: requests-oauthlib's own OAuth2Session tests, run against KakaoSession.

Loaded by ``run.py`` (``-p shim``) into a pytest run of requests-oauthlib's
``tests/test_oauth2_session.py``, taken from its sdist: the name ``OAuth2Session`` in that test
module is rebound to :class:`kakao_auth.KakaoSession`, nothing else is changed.
"""

from __future__ import annotations

from typing import Any

from kakao_auth import KakaoSession


def pytest_collection_modifyitems(items: list[Any]) -> None:
    # The test functions read the name from their module's globals when they run.
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "OAuth2Session"):
            module.OAuth2Session = KakaoSession
