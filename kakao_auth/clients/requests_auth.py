"""KakaoAuth: a requests auth that attaches the Kakao access token and keeps it alive.

The token itself is held by :class:`~kakao_auth.core.TokenCore` (shared with the httpx adapter);
this module is the requests glue. Per request the hot path is memory only: a fresh token in hand
is attached with no file I/O and no lock. A token inside its leeway is refreshed first; a 401
with Kakao's ``-401`` (or ``WWW-Authenticate: ... invalid_token``) triggers one refresh and one
re-send of the same request, the way requests' ``HTTPDigestAuth.handle_401`` re-sends: the
adapter runs no hooks, so the retry cannot loop. The token only ever travels over HTTPS to the
API host (:class:`~kakao_auth.api.ApiRoute`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any, Optional

import requests
from requests.cookies import extract_cookies_to_jar

from ..api import is_invalid_token
from .base import MAX_401, TokenAuth

__all__ = ["KakaoAuth"]

log = logging.getLogger("kakao_auth")

_UNREWINDABLE = -1


class KakaoAuth(TokenAuth, requests.auth.AuthBase):
    """Attach ``Authorization: Bearer`` for kapi.kakao.com and refresh the token when needed.

    Build it with :meth:`from_file` or :meth:`from_store`. Options: ``kauth_url``, ``kapi_url``
    (else ``KAKAO_KAUTH_URL`` / ``KAKAO_KAPI_URL``), ``leeway`` (seconds before expiry to refresh,
    clamped to a tenth of the token's lifetime), ``timeout`` (seconds for one whole exchange with
    the token endpoint), ``retries`` and ``backoff`` (first delay, doubling) for it, ``clock`` (a
    ``time.time`` stand-in for tests).
    """

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.url = self.route.check(r.url or "")
        r.headers["Authorization"] = self.bearer(self.core.request_token())
        hook = functools.partial(self._handle_401, body_pos=_body_position(r))
        r.register_hook("response", hook)  # type: ignore[no-untyped-call]
        return r

    def is_api_url(self, url: str) -> bool:
        """True when ``url`` may carry the token: HTTPS to the API host and port."""
        return self.route.allows(url)

    def _handle_401(
        self, r: requests.Response, *, body_pos: Optional[int], **kwargs: Any
    ) -> requests.Response:
        request = r.request
        if r.status_code != 401 or not is_invalid_token(r.headers.get("WWW-Authenticate"), _peek(r)):
            return r
        # Response hooks also run on redirected hops: never re-send the token off the API host.
        if not self.is_api_url(request.url or ""):
            return r
        sent = (request.headers.get("Authorization") or "").partition(" ")[2]
        log.info("the API host answered -401; refreshing once and retrying")
        new = self.core.refresh(sent)
        if not _rewind(request, body_pos):
            log.warning("the request body cannot be rewound; returning the 401 unretried")
            return r
        return _resend(r, self.bearer(new), kwargs)


def _peek(r: requests.Response, limit: int = MAX_401) -> bytes:
    """The 401's body when it is at most ``limit`` bytes, else ``b""``; never more is read.

    Read whole, a hostile API host's endless 401 filled the memory before any decision. A body
    over the limit stays whole for the caller: what was read is put back in front of the rest.
    """
    # Read already (by a session that net.bound()): requests' _content is False until read.
    content: object = r._content
    if content is not False or r._content_consumed or r.raw is None:  # type: ignore[attr-defined]
        return r.content if len(r.content) <= limit else b""
    chunks: list[bytes] = []
    size = 0
    for chunk in r.raw.stream(1024, decode_content=True):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            r.raw = _PutBack(b"".join(chunks), r.raw)
            return b""
    r._content = b"".join(chunks)  # what requests' own read sets
    r._content_consumed = True  # type: ignore[attr-defined]
    return r._content


class _PutBack:
    """A raw response with the (decoded) bytes already read in front of it."""

    def __init__(self, read: bytes, raw: Any) -> None:
        self._read = read
        self._raw = raw

    def stream(self, amt: int = 2**16, decode_content: Optional[bool] = None) -> Iterator[bytes]:
        read, self._read = self._read, b""
        if read:
            yield read
        yield from self._raw.stream(amt, decode_content=decode_content)

    def read(self, amt: Optional[int] = None, *args: Any, **kwargs: Any) -> bytes:
        read = self._read if amt is None else self._read[:amt]
        self._read = self._read[len(read) :]
        left = None if amt is None else amt - len(read)
        if left == 0:
            return read
        return read + bytes(self._raw.read(left, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def _body_position(r: requests.PreparedRequest) -> Optional[int]:
    """Where a streamed body starts (None: nothing to rewind; -1: it cannot be rewound)."""
    body: Any = r.body  # typed bytes | str, but requests passes file objects and iterators through
    if body is None or isinstance(body, (bytes, str)):
        return None
    tell = getattr(body, "tell", None)
    if tell is None:
        return _UNREWINDABLE
    try:
        return int(tell())
    except (OSError, ValueError):
        return _UNREWINDABLE


def _rewind(request: requests.PreparedRequest, body_pos: Optional[int]) -> bool:
    if body_pos is None:
        return True
    if body_pos == _UNREWINDABLE:
        return False
    try:
        request.body.seek(body_pos)  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _resend(r: requests.Response, authorization: str, send_kwargs: dict[str, Any]) -> requests.Response:
    # As requests' HTTPDigestAuth.handle_401: drain and release the 401, then send a copy. A 401
    # too large to peek at (refreshed for its header) is not drained: its connection is dropped.
    if isinstance(r.raw, _PutBack):
        r.raw.close()  # its connection too, never back to the pool with the rest unread
        r._content = b""
        r._content_consumed = True  # type: ignore[attr-defined]
    _ = r.content
    r.close()
    prep = r.request.copy()
    jar = prep._cookies  # type: ignore[attr-defined]  # requests' own re-send does the same
    extract_cookies_to_jar(jar, r.request, r.raw)  # type: ignore[no-untyped-call]
    prep.prepare_cookies(jar)
    prep.headers["Authorization"] = authorization
    retried: requests.Response = r.connection.send(prep, **send_kwargs)
    retried.history.append(r)
    retried.request = prep
    return retried
