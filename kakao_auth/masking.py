"""GitHub Actions: keep every token the library obtains out of the workflow log.

Actions masks only the registered secrets' exact values; a token read out of a JSON secret, or
one Kakao just issued, would be printed in clear by a script that prints it. The runner's
workflow command ``::add-mask::VALUE`` registers a value for masking from then on (what
``core.setSecret`` does). The runner reads workflow commands from a step's stderr as from its
stdout; they go to stderr, so that stdout stays the program's own output (``TOKEN=$(kakao-auth
token)``, ``kakao-auth status --json``). Outside Actions (``GITHUB_ACTIONS`` not ``true``)
nothing is printed.

Only real secrets are registered: a value shorter than :data:`MIN_SECRET` characters (the
access token "0" a bare refresh-token secret loads with, a placeholder) is not one, and masking
it would hide every "0" in the log from then on. Kakao's tokens and client secrets are longer
(a client secret is 32 characters, a token tens of them).
"""

from __future__ import annotations

import hashlib
import sys
import threading

from .config import in_github_actions
from .token import Token

__all__ = ["MIN_SECRET", "mask_token"]

MIN_SECRET = 16

_masked: set[str] = set()
_guard = threading.Lock()


def mask_token(token: Token) -> None:
    """Register ``token``'s secrets with the Actions runner, once each (no-op outside Actions)."""
    if not in_github_actions():
        return
    for value in (token.access_token, token.refresh_token, token.id_token, token.client_secret):
        if value and len(value) >= MIN_SECRET:
            _mask(value)


def _mask(value: str) -> None:
    digest = hashlib.sha256(value.encode()).hexdigest()
    with _guard:
        if digest in _masked:
            return
        _masked.add(digest)
    # The token's characters were checked (RFC 6750 b64token): one line, no workflow command in it.
    sys.stderr.write(f"::add-mask::{value}\n")
    sys.stderr.flush()
