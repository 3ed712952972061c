"""The API calls kakao_auth makes for its caller (``send_memo``): bounded, every failure typed.

A caller's own ``session.get`` is the caller's: requests' ``timeout`` bounds each read only, and
its exceptions are requests'. A call the library makes on its own is held to the library's
promise instead: the whole exchange, its answer read to the last byte, within ``API_TIMEOUT``
seconds and ``API_LIMIT`` bytes (``net.bound``, as the CLI's calls), and every failure a
:class:`KakaoAuthError`: :class:`KakaoUnavailable` for the network (refused, reset, too slow,
too large), :class:`ConfigurationError` for a setting (a certificate this machine does not trust,
a CA bundle or proxy that cannot be used). The exception chain holds the failure's type name
only, never the request (its ``Authorization`` header carries the access token).
"""

from __future__ import annotations

import http.client
from typing import Any, Optional

import requests
import urllib3

from ..config import origin
from ..errors import KakaoUnavailable, TransportFailure
from ..net import AnswerTooLarge, NoAnswerInTime, bound, no_auth

__all__ = ["API_LIMIT", "API_TIMEOUT", "call"]

# Kakao's answers to the calls the library makes are a few hundred bytes.
API_TIMEOUT = 30.0
API_LIMIT = 64 * 1024

_TRANSPORT = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


def call(session: requests.Session, method: str, url: str, **request: Any) -> requests.Response:
    """Send one request with ``session``'s auth and TLS settings, bounded; a typed error if it fails.

    It goes through a session of its own, so that the bound never changes the caller's
    ``session``; its ``auth`` (KakaoAuth: the token, one refresh and re-send on -401), ``verify``,
    ``cert``, ``proxies``, ``headers`` and ``trust_env`` are the caller's. Redirects are not
    followed (Kakao's API answers where it is asked).
    """
    failure: Optional[KakaoUnavailable] = None
    seconds = API_TIMEOUT
    with requests.Session() as client:
        _inherit(client, session)
        bound(client, seconds, API_LIMIT)
        auth = session.auth if session.auth is not None else no_auth
        try:
            return client.request(method, url, auth=auth, allow_redirects=False, timeout=seconds, **request)
        except NoAnswerInTime:
            failure = KakaoUnavailable(
                f"Kakao's API host {origin(url)} sent no whole answer within {seconds:g}s; try again later"
            )
            name = "NoAnswerInTime"
        except AnswerTooLarge as e:
            failure = KakaoUnavailable(f"Kakao's API host {origin(url)} sent {e}; try again later")
            name = "AnswerTooLarge"
        except _TRANSPORT as e:
            name = type(e).__name__
            failure = KakaoUnavailable(
                f"cannot reach Kakao's API host {origin(url)} ({name}); try again later"
            )
    # Raised outside the except blocks: no __context__ leads back to the request and its token.
    raise failure from TransportFailure(name)


def _inherit(client: requests.Session, session: requests.Session) -> None:
    client.verify = session.verify
    client.cert = session.cert
    client.proxies = dict(session.proxies)
    client.trust_env = session.trust_env
    client.headers.update(session.headers)
