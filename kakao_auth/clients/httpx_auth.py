"""KakaoHttpxAuth: the same promise as KakaoAuth, for httpx clients, sync and async.

::

    auth = KakaoHttpxAuth.from_file("kakao_token.json")
    httpx.Client(auth=auth).get("https://kapi.kakao.com/v2/user/me")
    await httpx.AsyncClient(auth=auth).get("https://kapi.kakao.com/v2/user/me")

It is an ``httpx.Auth`` with both flows, httpx's documented pattern for auth that does I/O or
takes locks: the token logic is :class:`~kakao_auth.core.TokenCore`'s, shared with KakaoAuth.
The async flow never blocks the event loop: a fresh token is attached from memory; a refresh
(file lock, file I/O, token POST) runs in a worker thread, and the tasks of one loop that meet the
same expired token wait for that one refresh on an async lock. A 401 with kapi's -401 is
answered by one refresh and one re-send of the same request (its body read first, a streamed
one too, as httpx's docs ask of an auth flow that re-sends); a second 401 is returned as it is.
httpx drops ``Authorization`` on a redirect to another origin, and a 401 from anywhere but the
API host is never answered with a refresh. Needs httpx: ``pip install 'kakao-auth[httpx]'``.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any, Optional, cast

from ..api import is_invalid_token
from ..errors import ConfigurationError
from .base import MAX_401, TokenAuth

if TYPE_CHECKING:
    import httpx
    from httpx import AsyncByteStream as _AsyncStream
    from httpx import Auth as _HttpxAuth
    from httpx import SyncByteStream as _SyncStream
else:
    try:
        import httpx
        from httpx import AsyncByteStream as _AsyncStream
        from httpx import Auth as _HttpxAuth
        from httpx import SyncByteStream as _SyncStream
    except ImportError:  # `import kakao_auth` works without httpx; building one says what to install
        httpx = None
        _HttpxAuth = object

        class _SyncStream:
            pass

        class _AsyncStream:
            pass


__all__ = ["KakaoHttpxAuth"]

log = logging.getLogger("kakao_auth")


class KakaoHttpxAuth(TokenAuth, _HttpxAuth):
    """Attach and refresh the Kakao access token on httpx requests (``Client`` and ``AsyncClient``).

    Built like :class:`~kakao_auth.KakaoAuth`: :meth:`from_file`, :meth:`from_store`, the same
    options.
    """

    requires_request_body = True  # a -401 re-sends the same request, body included

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if httpx is None:
            raise ConfigurationError("KakaoHttpxAuth needs httpx: pip install 'kakao-auth[httpx]'")
        super().__init__(*args, **kwargs)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # httpx.Auth's own flows read the body for requires_request_body; these replace them. A
        # streamed body (a generator) can be sent once: read now, it can be sent again.
        request.read()
        self._route(request)
        token = self.core.request_token()
        request.headers["Authorization"] = self.bearer(token)
        response = yield request
        if response.status_code == 401:
            kept = _Kept(response)
            kept.take(iter(cast(httpx.SyncByteStream, response.stream)))
            if self._worth_a_refresh(response, kept.body()):
                kept.drop_rest()  # httpx reads the 401 before the re-send: only what was peeked
                request.headers["Authorization"] = self.bearer(self.core.refresh(token.access_token))
                yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()  # as in sync_auth_flow
        self._route(request)
        token = await self.core.arequest_token()
        request.headers["Authorization"] = self.bearer(token)
        response = yield request
        if response.status_code == 401:
            kept = _Kept(response)
            await kept.atake(cast(httpx.AsyncByteStream, response.stream).__aiter__())
            if self._worth_a_refresh(response, kept.body()):
                kept.drop_rest()
                new = await self.core.arefresh(token.access_token)
                request.headers["Authorization"] = self.bearer(new)
                yield request

    def _route(self, request: httpx.Request) -> None:
        url = str(request.url)
        routed = self.route.check(url)
        if routed != url:  # KAKAO_KAPI_URL: https://kapi.kakao.com/... goes to the fake/staging host
            request.url = httpx.URL(routed)
            request.headers["Host"] = request.url.netloc.decode("ascii")

    def _worth_a_refresh(self, response: httpx.Response, body: bytes) -> bool:
        # After a redirect, the 401 may come from elsewhere: only the API host's -401 counts.
        if not self.route.allows(str(response.request.url)):
            return False
        if not is_invalid_token(response.headers.get("WWW-Authenticate"), body):
            return False
        log.info("the API host answered -401; refreshing once and retrying")
        return True


class _Kept:
    """At most ``MAX_401`` bytes of a 401's raw body, read to tell kapi's -401 from any other.

    Read whole, a hostile API host's endless 401 filled the memory before any decision. What
    was read is put back in front of the rest (:class:`_PutBack`), so the caller still reads
    the whole body, or, when the 401 is refreshed and re-sent, the rest is never read.
    """

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.chunks: list[bytes] = []
        self.size = 0
        self.over = False
        self.stream: Any = response.stream

    def take(self, rest: Iterator[bytes]) -> None:
        for chunk in rest:
            if self._add(chunk):
                break
        self.response.stream = _PutBack(self, rest)

    async def atake(self, rest: AsyncIterator[bytes]) -> None:
        async for chunk in rest:
            if self._add(chunk):
                break
        self.response.stream = _PutBack(self, rest)

    def _add(self, chunk: bytes) -> bool:
        self.chunks.append(chunk)
        self.size += len(chunk)
        self.over = self.size > MAX_401
        return self.over

    def body(self) -> bytes:
        """The body, decoded, when it was read whole within the limit; else ``b""``."""
        if self.over:
            return b""
        encoding = self.response.headers.get("Content-Encoding", "identity")
        return _decoded(encoding.strip().lower(), b"".join(self.chunks)) or b""

    def drop_rest(self) -> None:
        """The 401 is history now: keep what was read, never read the rest."""
        if self.over and isinstance(self.response.stream, _PutBack):
            self.response.stream.rest = None


class _PutBack(_SyncStream, _AsyncStream):
    """A response's raw stream with the chunks already read in front of the rest."""

    def __init__(self, kept: _Kept, rest: Any) -> None:
        self.kept = kept
        self.rest: Any = rest

    def __iter__(self) -> Iterator[bytes]:
        yield from self.kept.chunks
        if self.rest is not None:
            yield from self.rest

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.kept.chunks:
            yield chunk
        if self.rest is not None:
            async for chunk in self.rest:
                yield chunk

    def close(self) -> None:
        self.kept.stream.close()

    async def aclose(self) -> None:
        await self.kept.stream.aclose()


def _decoded(encoding: str, raw: bytes) -> Optional[bytes]:
    """``raw`` decoded as its Content-Encoding says, at most ``MAX_401`` bytes; None if it cannot be."""
    if encoding in ("identity", ""):
        return raw
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
    if encoding not in wbits:
        return None  # br, zstd...: the WWW-Authenticate header decides alone
    try:
        data = zlib.decompressobj(wbits[encoding]).decompress(raw, MAX_401 + 1)  # no bomb
    except zlib.error:
        return None
    return data if len(data) <= MAX_401 else None
