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
from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

from .adapter import TokenAuth
from .errors import ConfigurationError
from .routing import is_invalid_token

if TYPE_CHECKING:
    import httpx
    from httpx import Auth as _HttpxAuth
else:
    try:
        import httpx
        from httpx import Auth as _HttpxAuth
    except ImportError:  # `import kakao_auth` works without httpx; building one says what to install
        httpx = None
        _HttpxAuth = object

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
            response.read()
            if self._worth_a_refresh(response):
                request.headers["Authorization"] = self.bearer(self.core.refresh(token.access_token))
                yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()  # as in sync_auth_flow
        self._route(request)
        token = await self.core.arequest_token()
        request.headers["Authorization"] = self.bearer(token)
        response = yield request
        if response.status_code == 401:
            await response.aread()
            if self._worth_a_refresh(response):
                new = await self.core.arefresh(token.access_token)
                request.headers["Authorization"] = self.bearer(new)
                yield request

    def _route(self, request: httpx.Request) -> None:
        url = str(request.url)
        routed = self.route.check(url)
        if routed != url:  # KAKAO_KAPI_URL: https://kapi.kakao.com/... goes to the fake/staging host
            request.url = httpx.URL(routed)
            request.headers["Host"] = request.url.netloc.decode("ascii")

    def _worth_a_refresh(self, response: httpx.Response) -> bool:
        # After a redirect, the 401 may come from elsewhere: only the API host's -401 counts.
        if not self.route.allows(str(response.request.url)):
            return False
        if not is_invalid_token(response.headers.get("WWW-Authenticate"), response.content):
            return False
        log.info("the API host answered -401; refreshing once and retrying")
        return True
