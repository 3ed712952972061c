"""A stampede worker using the requests-oauthlib file pattern (one OAuth2Session per process)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kakao_auth.testing.workers import Caller, serve

from common import oauthlib_file_session


def caller(token_file: str) -> Caller:
    """One OAuth2Session per process, as the pattern's users write it (its pool serves the threads)."""
    session = oauthlib_file_session(token_file)

    def call(url: str) -> int:
        status: int = session.get(url, timeout=60).status_code
        return status

    return Caller(call, warm=lambda url: session.get(url, timeout=60, withhold_token=True))


if __name__ == "__main__":
    serve(caller)
