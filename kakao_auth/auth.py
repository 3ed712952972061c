"""KakaoAuth: a requests auth that attaches the Kakao access token and keeps it alive.

The token itself is held by :class:`~kakao_auth.core.TokenCore` (shared with the httpx adapter);
this module is the requests glue. Per request the hot path is memory only: a fresh token in hand
is attached with no file I/O and no lock. A token inside its leeway is refreshed first; a 401
with Kakao's ``-401`` (or ``WWW-Authenticate: ... invalid_token``) triggers one refresh and one
re-send of the same request, the way requests' ``HTTPDigestAuth.handle_401`` re-sends: the
adapter runs no hooks, so the retry cannot loop. The token only ever travels over HTTPS to the
API host (:class:`~kakao_auth.routing.ApiRoute`).
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Optional

import requests
from requests.cookies import extract_cookies_to_jar

from .adapter import TokenAuth
from .routing import is_invalid_token

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
        if r.status_code != 401 or not is_invalid_token(r.headers.get("WWW-Authenticate"), r.content):
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
    # As requests' HTTPDigestAuth.handle_401: drain and release the 401, then send a copy.
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
