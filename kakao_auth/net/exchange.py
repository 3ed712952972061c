"""One bounded HTTP exchange, and sessions whose every request is bounded the same way.

The token form carries a refresh token or an authorization code and the client secret, so the
exchange is locked down: HTTPS only, redirects are an error (never followed: a 307 would re-post
the form to wherever it points), the whole exchange has a deadline (requests' ``timeout`` bounds
each socket read, so a server dripping a byte a second could hold a refresh, and the store's
lock, for ever: deadline.py), the answer is capped in size, and no exception raised from here
references the request that carried the form.
"""

from __future__ import annotations

import http.client
import os
import ssl
import urllib.parse
from typing import Any, Optional, Union

import requests
import urllib3
from requests.adapters import HTTPAdapter

from ..config import origin
from ..errors import ConfigurationError, TransportFailure, printable
from .deadline import WATCHED_POOLS, Deadline, exchange_deadline
from .tls import BundleRefused

__all__ = [
    "MAX_ANSWER",
    "AnswerTooLarge",
    "NoAnswerInTime",
    "Outcome",
    "bound",
    "exchange",
    "no_auth",
    "untrusted_certificate",
]

# Kakao's token answers are under 2 KiB; anything far larger is not Kakao.
MAX_ANSWER = 64 * 1024
# requests exceptions that mean the request itself is malformed: no retry can help.
_NOT_TRANSIENT = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
)

Outcome = Union[tuple[int, bytes], str]


def exchange(method: str, url: str, timeout: float, **request: Any) -> Outcome:
    """One bounded HTTP exchange: ``(status, body)``, or the name of the transient failure.

    ``timeout`` bounds the whole exchange (connect, send, the answer to its last byte), not each
    read. Redirects are not followed, the body is capped at ``MAX_ANSWER``, a malformed request
    is a :class:`ConfigurationError`, and nothing raised from here references the request.
    """
    deadline = Deadline(timeout)
    if not deadline.start():
        return "no thread to bound the exchange with"  # never an exchange without a deadline
    failure: Optional[str] = None
    setting: Optional[ConfigurationError] = None  # what no retry can help: a setting to fix
    # A new session per exchange: these calls are hours apart, a pooled connection would be dead.
    with requests.Session() as client, deadline:
        client.mount("https://", _WatchedAdapter(deadline))
        client.mount("http://", _WatchedAdapter(deadline))
        try:
            response = client.request(
                method, url, timeout=timeout, allow_redirects=False, stream=True, auth=no_auth, **request
            )
            with response:
                outcome: Outcome = (response.status_code, _read_whole(response))
        except (*_NOT_TRANSIENT, BundleRefused) as e:
            setting = _setting_to_fix(url, e)
        except _TooLarge:
            failure = f"an answer over {MAX_ANSWER // 1024} KiB"
        except _Incomplete:
            failure = "an incomplete answer"
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            OSError,
            ValueError,
        ) as e:
            untrusted = untrusted_certificate(e)
            if untrusted is not None:  # no retry makes this machine trust it
                setting = _untrusted_setting(url, untrusted)
            else:
                failure = type(e).__name__
    if setting is not None:
        raise setting
    if deadline.fired:  # whatever the read made of a socket shut under it
        return f"no answer within {timeout:g}s"
    return failure if failure is not None else outcome


def _setting_to_fix(url: str, error: Exception) -> ConfigurationError:
    """The setting to fix when the request to ``url`` could not even be made; never its words.

    Its words may hold a proxy's password; only the name of its type goes on, as the cause.
    """
    if isinstance(error, BundleRefused):
        problem = (
            f"the CA bundle {printable(error.path, hide_tokens=False)} {error.problem}, so it "
            f"cannot verify {url}: check REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE"
        )
    elif isinstance(error, requests.exceptions.InvalidSchema) and "dependencies for SOCKS" in str(error):
        problem = (
            "a SOCKS proxy is set (HTTPS_PROXY or ALL_PROXY) but PySocks is not installed: "
            "pip install 'requests[socks]', or unset the proxy"
        )
    elif isinstance(error, requests.exceptions.InvalidProxyURL):
        problem = (
            f"the proxy set for {url} is not a usable URL: fix or unset HTTPS_PROXY and ALL_PROXY, "
            "or list the host in NO_PROXY"
        )
    else:
        problem = f"{url} cannot be requested ({type(error).__name__})"
    setting = ConfigurationError(problem)
    setting.__cause__ = TransportFailure(type(error).__name__)
    return setting


def untrusted_certificate(error: BaseException) -> Optional[ssl.SSLCertVerificationError]:
    """The certificate check that failed behind ``error`` (requests and urllib3 wrap it), if any."""
    todo: list[object] = [error]
    for _ in range(32):  # a few wrappers deep; never a walk without an end
        if not todo:
            break
        e = todo.pop()
        if isinstance(e, ssl.SSLCertVerificationError):
            return e
        if isinstance(e, BaseException):
            todo += [*e.args, getattr(e, "reason", None), e.__cause__, e.__context__]
    return None


def _untrusted_setting(url: str, error: ssl.SSLCertVerificationError) -> ConfigurationError:
    """An untrusted certificate is a setting to fix (the CA bundle, or the URL), not an outage.

    Retrying never makes this machine trust it, so "try again later" would be wrong advice.
    """
    why = printable(str(error.verify_message or "certificate verify failed"), 100)
    setting = ConfigurationError(
        f"the certificate of {origin(url)} is not trusted here ({why}): this is a setting to fix, "
        "not an outage. If a proxy or a private CA signs it, point REQUESTS_CA_BUNDLE (or "
        "CURL_CA_BUNDLE) at a PEM bundle that holds its CA; else check the URL "
        "(KAKAO_KAUTH_URL / KAKAO_KAPI_URL) and this machine's clock"
    )
    setting.__cause__ = TransportFailure(type(error).__name__)
    return setting


def _check_proxy(proxy: Optional[str]) -> None:
    """Refuse a proxy URL that requests or urllib3 would fail on, some versions with a bare ValueError.

    That would read as a transient failure, retried, then "try again later": it is a setting.
    """
    if not proxy:
        return
    try:
        _ = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy).port  # in range
        urllib3.util.parse_url(proxy)
    except ValueError:
        raise requests.exceptions.InvalidProxyURL("not a usable proxy URL") from None


def no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth that adds nothing: the request goes with only the headers its caller gave.

    Given explicitly because, without one, requests reads ``~/.netrc`` (or ``$NETRC``, which
    could be a FIFO that blocks for ever) and adds its credentials, a ``default`` entry's to
    every host: to Kakao's token endpoint, and over the GitHub store's own token.
    """
    return request


class _TooLarge(Exception):
    pass


class _Incomplete(Exception):
    pass


def _read_whole(response: requests.Response, limit: int = MAX_ANSWER) -> bytes:
    """The body, at most ``limit`` bytes, and all of what Content-Length announced.

    urllib3 1.x returns a body cut short by a reset without a word; 2.x raises. Both are a
    transfer that failed, never an answer to parse.
    """
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(8192):
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    announced = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
    if announced.isdigit() and not encoded and int(announced) != size:
        raise _Incomplete
    return b"".join(chunks)


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections hand their sockets to the exchange's deadline."""

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        try:
            manager = super().proxy_manager_for(proxy, **kwargs)
        except requests.RequestException:
            raise  # requests' own: PySocks missing
        except ValueError:  # urllib3: a SOCKS version it does not know (socks9://)
            raise requests.exceptions.InvalidProxyURL("not a usable proxy URL") from None
        if isinstance(manager, urllib3.ProxyManager):
            manager.pool_classes_by_scheme = WATCHED_POOLS
        elif proxy.lower().startswith("socks"):  # its manager exists: so does PySocks
            from .socks import socks_pools  # here: only a SOCKS proxy needs it

            manager.pool_classes_by_scheme = socks_pools()
        return manager

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # A CA bundle that does not exist is a setting to fix, not a failure to retry: requests'
        # own OSError read as "cannot reach Kakao's token endpoint; try again later".
        if url.lower().startswith("https:") and isinstance(verify, str) and not os.path.exists(verify):
            raise BundleRefused(verify, "does not exist")
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        return self._send_within(self._deadline, request, *args, **kwargs)

    def _send_within(
        self, deadline: Deadline, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        _check_proxy(requests.utils.select_proxy(request.url or "", kwargs.get("proxies") or {}))
        exchange_deadline.current = deadline
        try:
            return super().send(request, *args, **kwargs)
        finally:
            exchange_deadline.current = None


class AnswerTooLarge(requests.RequestException):
    """An answer over the size a bounded session reads (:func:`bound`)."""


class NoAnswerInTime(requests.Timeout):
    """A request of a bounded session that did not end within its deadline (:func:`bound`)."""


class _BoundedAdapter(_WatchedAdapter):
    """Each request's whole exchange, its answer read to the end, within ``seconds``; answers capped.

    requests' ``timeout`` bounds each socket read: an API host that drips its answer held a
    command for as long as it dripped, and a huge answer was read whole into memory.
    """

    def __init__(self, seconds: float, limit: int) -> None:
        super().__init__(Deadline(seconds))  # a new one per request, in send()
        self._seconds = seconds
        self._limit = limit

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["stream"] = True  # the answer is read here, within the deadline
        deadline = Deadline(self._seconds)
        if not deadline.start():
            raise requests.ConnectionError("no thread to bound the request with")
        setting: Optional[ConfigurationError] = None  # raised outside the except: no context
        with deadline:
            try:
                response = self._send_within(deadline, request, *args, **kwargs)
                body = _read_whole(response, self._limit)
            except (*_NOT_TRANSIENT, BundleRefused) as e:
                setting = _setting_to_fix(origin(request.url or ""), e)
            except _TooLarge:
                raise AnswerTooLarge(f"an answer over {_size(self._limit)}") from None
            except (_Incomplete, urllib3.exceptions.HTTPError, OSError) as e:  # requests' are OSError
                untrusted = untrusted_certificate(e)
                if untrusted is not None:
                    setting = _untrusted_setting(request.url or "", untrusted)
                elif deadline.fired:
                    raise NoAnswerInTime(f"no answer within {self._seconds:g}s") from None
                elif isinstance(e, requests.RequestException):
                    raise
                else:
                    raise requests.ConnectionError(f"the answer was cut short ({type(e).__name__})") from None
        if setting is not None:
            raise setting
        if deadline.fired:
            raise NoAnswerInTime(f"no answer within {self._seconds:g}s")
        response._content = body  # what requests' own read sets
        return response


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"


def bound(session: requests.Session, seconds: float, limit: int) -> None:
    """Bound every request of ``session``: its whole exchange to ``seconds``, its answer to ``limit`` bytes.

    A request past the deadline raises :class:`NoAnswerInTime` (a ``requests.Timeout``), an
    answer over the limit :class:`AnswerTooLarge`; a redirect is a request of its own.
    """
    adapter = _BoundedAdapter(seconds, limit)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
