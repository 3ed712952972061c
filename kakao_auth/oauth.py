"""The token endpoint (``POST {kauth}/oauth/token``): build the forms, send them, read the answer.

Kakao takes client authentication in the form body only (``client_secret_post``), and answers
errors as ``{"error", "error_description", "error_code": "KOEnnn"}``. Errors are classified by
``error`` and ``error_code``, never by the description (Kakao says its text may change).

The form carries a refresh token or an authorization code and the client secret, so the exchange
is locked down: HTTPS only, redirects are an error (never followed: a 307 would re-post the form
to wherever it points), the whole exchange has a deadline (requests' ``timeout`` bounds each
socket read, so a server dripping a byte a second could hold a refresh, and the store's lock,
for ever), the answer is capped in size, and no exception raised from here references the
request that carried the form.
"""

from __future__ import annotations

import _thread
import contextlib
import dataclasses
import functools
import http.client
import logging
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union

import requests
import urllib3
from requests.adapters import HTTPAdapter

from .config import origin, require_https, seconds_setting
from .errors import (
    ConfigurationError,
    KakaoOAuthError,
    KakaoUnavailable,
    LoginRequired,
    TransportFailure,
    printable,
)
from .resolve import LookupTooSlow, addresses
from .tls import BundleRefused, verifying_context
from .token import Token, strict_json

if TYPE_CHECKING:
    import socks  # PySocks: only when a SOCKS proxy is named

__all__ = [
    "AnswerTooLarge",
    "NoAnswerInTime",
    "TokenEndpoint",
    "bound",
    "code_form",
    "error_from_answer",
    "exchange",
    "merge_answer",
    "no_auth",
    "parse_answer",
    "refresh_form",
    "untrusted_certificate",
]

log = logging.getLogger("kakao_auth")

TOKEN_PATH = "/oauth/token"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.5
# Kakao's token answers are under 2 KiB; anything far larger is not Kakao.
MAX_ANSWER = 64 * 1024
SOCKS_PORT = 1080  # a SOCKS proxy's port when its URL names none
_KOE_CODE = "KOE"
# requests exceptions that mean the request itself is malformed: no retry can help.
_NOT_TRANSIENT = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
)


def refresh_form(client_id: str, refresh_token: str, client_secret: Optional[str]) -> dict[str, str]:
    """The refresh request's form: these four fields and nothing a caller passed."""
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    return _with_secret(form, client_secret)


def code_form(
    client_id: str,
    redirect_uri: str,
    code: str,
    client_secret: Optional[str],
    code_verifier: Optional[str],
) -> dict[str, str]:
    """The authorization-code exchange form (``redirect_uri``, not the tutorials' typo)."""
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    if code_verifier:
        form["code_verifier"] = code_verifier
    return _with_secret(form, client_secret)


def _with_secret(form: dict[str, str], client_secret: Optional[str]) -> dict[str, str]:
    if client_secret:
        form["client_secret"] = client_secret
    return form


def parse_answer(status: int, body: bytes) -> dict[str, Any]:
    """Return a successful token answer as a dict, or raise the error it carries.

    Only the answer's shape is checked here; :meth:`Token.from_response` validates every field.
    """
    data = _json_object(body)
    if status == 200 and data is not None and isinstance(data.get("access_token"), str):
        return data
    if data is not None and isinstance(data.get("error"), str):
        raise error_from_answer(status, data)
    if status == 200:
        raise KakaoUnavailable("Kakao's token endpoint answered a body that is not a token; try again later")
    if 400 <= status < 500 and status != 429:
        raise ConfigurationError(
            f"the token endpoint answered HTTP {status} in a format that is not Kakao's: "
            "check KAKAO_KAUTH_URL (it should be https://kauth.kakao.com)"
        )
    raise KakaoUnavailable(f"Kakao's token endpoint answered HTTP {status}; try again later")


def merge_answer(current: Optional[Token], answer: Mapping[str, Any], now: float, **extra: Any) -> Token:
    """The token Kakao's ``answer`` (received at ``now``) gives, merged into ``current`` if any.

    Every field is validated (:class:`Token`); an answer that fails is Kakao's fault, typed as
    :class:`KakaoUnavailable` and never saved.
    """
    try:
        token = current.merge(answer, now) if current is not None else Token.from_response(answer, now)
        return dataclasses.replace(token, **extra) if extra else token
    except ValueError as e:
        raise KakaoUnavailable(
            f"Kakao's token endpoint answered a token that fails a check ({e}); try again later"
        ) from None


def error_from_answer(status: Optional[int], data: Mapping[str, Any]) -> KakaoOAuthError:
    """The typed error for Kakao's error object; ``invalid_grant`` means the login is gone.

    KOE303 is an ``invalid_grant`` too, but it is a redirect-URI mismatch: configuration, not a
    dead login. Every field is the server's text: it is checked and cleaned before it can reach
    a message or a terminal.
    """
    error = _word(data.get("error")) or "unknown_error"
    code = _word(data.get("error_code"))
    code = code if code and code.startswith(_KOE_CODE) else None
    description = data.get("error_description")
    description = printable(description) if isinstance(description, str) else None
    cls = LoginRequired if error == "invalid_grant" and code != "KOE303" else KakaoOAuthError
    return cls(error, code, description, status)


def _word(value: Any) -> Optional[str]:
    # error and error_code are short identifiers; anything else is not Kakao's.
    ok = isinstance(value, str) and 0 < len(value) <= 64 and value.isascii()
    return value if ok and value.replace("_", "").isalnum() else None


def _json_object(body: bytes) -> Optional[dict[str, Any]]:
    try:
        data = strict_json(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


# One exchange's raw outcome: (status, body), or the name of the transient failure.
_Outcome = Union[tuple[int, bytes], str]


class TokenEndpoint:
    """Posts forms to Kakao's token endpoint, one bounded exchange per attempt.

    Each attempt has a deadline of ``timeout`` seconds for the whole exchange (connect, send,
    answer). Connection failures, timeouts, garbled transfers and 5xx answers are retried
    ``retries`` times with doubling ``backoff``; Kakao's 4xx answers never are (KOE237 means
    stop). A caller's request arguments never reach this class: it only sends the form given.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = require_https(url, "the token endpoint URL")
        self.timeout = seconds_setting(timeout, "timeout")
        self.retries = int(seconds_setting(retries, "retries", zero=True))
        self.backoff = seconds_setting(backoff, "backoff", zero=True)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"TokenEndpoint({self.url!r})"

    @property
    def worst_case(self) -> float:
        """The longest :meth:`post` can take: every attempt's deadline plus the backoff."""
        return self.timeout * (self.retries + 1) + self.backoff * (float(2**self.retries) - 1)

    def post(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Send ``form`` and return Kakao's token answer, or raise a typed error."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            outcome = self._exchange(form)
            if isinstance(outcome, str):
                if last:
                    # Raised outside any except block: no __context__ leads back to the request.
                    raise KakaoUnavailable(
                        f"cannot reach Kakao's token endpoint {self.url} ({outcome}); try again later"
                    ) from TransportFailure(outcome)
                self._wait(attempt, outcome)
                continue
            status, body = outcome
            if 300 <= status < 400:
                raise ConfigurationError(
                    f"the token endpoint {self.url} answered a redirect (HTTP {status}); it is never "
                    "followed, since it would re-send the form with its secrets: check KAKAO_KAUTH_URL"
                )
            if status < 500 or last:
                return parse_answer(status, body)
            self._wait(attempt, f"HTTP {status}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(self, form: Mapping[str, str]) -> _Outcome:
        log.debug("POST %s (grant_type=%s)", self.url, form.get("grant_type"))
        outcome = exchange(
            "POST", self.url, self.timeout, data=dict(form), headers={"Accept": "application/json"}
        )
        if not isinstance(outcome, str):
            log.debug("token endpoint answered HTTP %s", outcome[0])
        return outcome

    def _wait(self, attempt: int, why: str) -> None:
        delay = self.backoff * (2**attempt)
        log.warning("token endpoint failed (%s); retrying in %.1fs", why, delay)
        self._sleep(delay)


def exchange(method: str, url: str, timeout: float, **request: Any) -> _Outcome:
    """One bounded HTTP exchange: ``(status, body)``, or the name of the transient failure.

    ``timeout`` bounds the whole exchange (connect, send, the answer to its last byte), not each
    read. Redirects are not followed, the body is capped at ``MAX_ANSWER``, a malformed request
    is a :class:`ConfigurationError`, and nothing raised from here references the request.
    """
    deadline = _Deadline(timeout)
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
                outcome: _Outcome = (response.status_code, _read_whole(response))
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


class _Deadline:
    """Shuts the sockets of one exchange when its time is up, ending any read in progress.

    requests' ``timeout`` bounds each socket read: a server that drips one byte a second, in
    its TLS handshake or its answer, never trips it. Shutting the socket down at the deadline
    bounds the whole exchange instead.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._seconds = seconds
        self._ends = 0.0  # set by start()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._over = _thread.allocate_lock()  # held while the exchange runs

    def start(self) -> bool:
        """Start the clock; False if no thread could be started to watch it."""
        self._ends = time.monotonic() + self._seconds
        self._over.acquire()
        try:
            # A bare thread: threading.Thread.start() waits until the new thread has run, which
            # on a busy machine puts milliseconds between the refresh and its request.
            _thread.start_new_thread(self._watch, ())
        except RuntimeError:  # out of threads, or the interpreter is shutting down
            self._over.release()
            return False
        return True

    def __enter__(self) -> _Deadline:
        return self

    def __exit__(self, *exc: object) -> None:
        self._over.release()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()

    def left(self) -> float:
        """Seconds until the deadline (0 once it has passed)."""
        return max(0.0, self._ends - time.monotonic())

    def expire(self) -> None:
        """Count the exchange as out of time: a wait the watcher cannot end reached the deadline."""
        with self._lock:
            self.fired = True

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down at the deadline (at once if it has passed).

        A duplicate is kept, not ``sock``: the TLS layer detaches ``sock`` when it wraps it, and
        the duplicate keeps the descriptor from being reused by another socket until the end.
        """
        with self._lock:
            self._sockets.append(sock.dup())
            if self.fired:
                _shut(self._sockets[-1])

    def _watch(self) -> None:
        if self._over.acquire(timeout=self._seconds):
            self._over.release()  # the exchange ended in time
            return
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    # Shutting the socket (not closing a descriptor) makes a blocked read return at once.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_exchange_deadline = threading.local()
_A = TypeVar("_A")  # an address to try: an IP, or a (proxy, target) pair


class _Watched(urllib3.connection.HTTPConnection):
    """A connection that hands its socket to the deadline of the exchange it serves."""

    def _new_conn(self) -> socket.socket:
        # The TCP socket, before any TLS handshake: the deadline covers the handshake too.
        deadline: Optional[_Deadline] = getattr(_exchange_deadline, "current", None)
        if deadline is None:
            plain: socket.socket = super()._new_conn()
            return plain
        sock = self._connect_within(deadline)
        deadline.watch(sock)
        return sock

    def _connect_within(self, deadline: _Deadline) -> socket.socket:
        # The name is looked up within the deadline (resolve.py), then each address is tried in
        # turn, as urllib3 would, none after the deadline. The host name itself stays for TLS:
        # only the address to connect to is swapped in, for the connect only.
        name = self._dns_host
        found = _look_up(deadline, name, self.port)
        failure: Optional[Exception] = None
        timeout = self.timeout
        try:
            for address, connect_timeout in _in_turn(deadline, found, timeout, name):
                self._dns_host, self.timeout = address, connect_timeout
                try:
                    sock: socket.socket = super()._new_conn()
                except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as e:
                    failure = e
                    continue
                if connect_timeout is not timeout:
                    sock.settimeout(timeout)  # the handshake and the reads keep the exchange's own
                return sock
        finally:
            self._dns_host, self.timeout = name, timeout
        raise failure or OSError(f"no address for {name}")


def _look_up(deadline: _Deadline, name: str, port: int) -> list[str]:
    """The addresses of ``name`` within what is left of ``deadline``."""
    try:
        return addresses(name, port, deadline.left())
    except LookupTooSlow:
        deadline.expire()
        raise


def _in_turn(deadline: _Deadline, found: list[_A], timeout: Any, name: str) -> Iterator[tuple[_A, Any]]:
    """Each address in ``found`` with its connect timeout; none after the deadline.

    What is left is shared among the addresses still to try: an address that drops packets (a
    broken IPv6 route, listed first) must leave time for the next one.
    """
    for index, address in enumerate(found):
        left = deadline.left()
        if left <= 0:
            deadline.expire()
            raise LookupTooSlow(f"no connection to {name} before the deadline")
        yield address, _share(timeout, left / (len(found) - index))


def _share(timeout: Any, share: float) -> Any:
    """A connect's timeout: ``share`` when that is sooner than the connection's own."""
    return share if isinstance(timeout, (int, float)) and share < timeout else timeout


class _CachedContext(urllib3.connection.HTTPSConnection):
    def connect(self) -> None:
        # A CA bundle given by path is parsed once per process, not once per exchange (tls.py).
        if self.ssl_context is None and not getattr(self, "ca_cert_data", None):
            context = verifying_context(self.ca_certs, self.ca_cert_dir)
            if context is not None:
                self.ssl_context, self.ca_certs, self.ca_cert_dir = context, None, None
        super().connect()


class _WatchedHTTPSConnection(_Watched, _CachedContext):
    pass


class _WatchedHTTPConnection(_Watched):
    pass


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections hand their sockets to the exchange's deadline."""

    def __init__(self, deadline: _Deadline) -> None:
        self._deadline = deadline
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        try:
            manager = super().proxy_manager_for(proxy, **kwargs)
        except requests.RequestException:
            raise  # requests' own: PySocks missing
        except ValueError:  # urllib3: a SOCKS version it does not know (socks9://)
            raise requests.exceptions.InvalidProxyURL("not a usable proxy URL") from None
        if isinstance(manager, urllib3.ProxyManager):
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        elif proxy.lower().startswith("socks"):  # its manager exists: so does PySocks
            manager.pool_classes_by_scheme = _socks_pools()
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
        self, deadline: _Deadline, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        _check_proxy(requests.utils.select_proxy(request.url or "", kwargs.get("proxies") or {}))
        _exchange_deadline.current = deadline
        try:
            return super().send(request, *args, **kwargs)
        finally:
            _exchange_deadline.current = None


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
        super().__init__(_Deadline(seconds))  # a new one per request, in send()
        self._seconds = seconds
        self._limit = limit

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["stream"] = True  # the answer is read here, within the deadline
        deadline = _Deadline(self._seconds)
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


@functools.cache
def _socks_pools() -> dict[str, type]:
    """A SOCKS proxy's pools, whose connections the exchange's deadline watches from the start.

    urllib3 connects through ``socks.create_connection``, which hands the socket over only once
    the proxy has answered, and resolves names with no bound: a proxy that drips its answer, or
    the token endpoint's through it, would hold the exchange (and the store's lock) for ever.
    Built when a SOCKS proxy is first named, since urllib3's SOCKS support needs PySocks.
    """
    from urllib3.contrib import socks as urllib3_socks

    class WatchedSOCKS(urllib3_socks.SOCKSConnection):
        def _new_conn(self) -> socks.socksocket:
            deadline: Optional[_Deadline] = getattr(_exchange_deadline, "current", None)
            if deadline is None:
                return super()._new_conn()
            return _through_socks(self, deadline)

    class WatchedSOCKSHTTPS(WatchedSOCKS, _CachedContext, urllib3_socks.SOCKSHTTPSConnection):
        pass

    class WatchedSOCKSPool(urllib3_socks.SOCKSHTTPConnectionPool):
        ConnectionCls = WatchedSOCKS

    class WatchedSOCKSHTTPSPool(urllib3_socks.SOCKSHTTPSConnectionPool):
        ConnectionCls = WatchedSOCKSHTTPS

    return {"http": WatchedSOCKSPool, "https": WatchedSOCKSHTTPSPool}


def _through_socks(conn: Any, deadline: _Deadline) -> socks.socksocket:
    """What ``socks.create_connection`` does for urllib3, each socket watched from its creation."""
    import socks

    options = conn._socks_options
    proxy = str(options["proxy_host"]).strip("[]")
    port = int(options["proxy_port"] or SOCKS_PORT)  # socks5://host names no port: PySocks' default
    found = _look_up(deadline, proxy, port)
    targets = [conn.host.strip("[]")]
    if not options["rdns"]:  # socks5://, socks4://: the client resolves the name, not the proxy
        targets = _look_up(deadline, targets[0], conn.port)
    # Each address of the target in turn, as a direct connection tries them (an unreachable
    # IPv6 address listed first must not fail the exchange), each through each proxy address.
    routes = [(address, target) for target in targets for address in found]
    failure: Optional[OSError] = None
    for (address, target), connect_timeout in _in_turn(deadline, routes, conn.timeout, proxy):
        sock = socks.socksocket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
        deadline.watch(sock)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            if isinstance(connect_timeout, (int, float)):
                sock.settimeout(connect_timeout)
            rdns, user, password = options["rdns"], options["username"], options["password"]
            sock.set_proxy(options["socks_version"], address, port, rdns, user, password)
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.connect((target, conn.port))  # through the proxy: its handshake is watched too
        except OSError as e:  # socks.ProxyError is one
            sock.close()
            failure = e
            continue
        if isinstance(conn.timeout, (int, float)):
            sock.settimeout(conn.timeout)  # the handshake and the reads keep the exchange's own
        return sock
    why = type(failure).__name__ if failure is not None else "no address"
    raise urllib3.exceptions.NewConnectionError(conn, f"no connection through the SOCKS proxy ({why})")
