"""One deadline for a whole exchange: connect, TLS handshake, answer, the name lookup included.

requests' ``timeout`` bounds each socket read: a server that drips one byte a second, in its TLS
handshake or its answer, never trips it. A watcher thread shuts the exchange's sockets down at
its deadline instead, ending any read in progress. The connections below hand their sockets to
that watcher from their creation, look the host name up within what is left (dns.py), and try
each address in turn, none after the deadline.
"""

from __future__ import annotations

import _thread
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Optional, TypeVar

import urllib3

from .dns import LookupTooSlow, addresses
from .tls import verifying_context

__all__ = ["WATCHED_POOLS", "CachedContext", "Deadline", "exchange_deadline", "in_turn", "look_up"]


class Deadline:
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

    def __enter__(self) -> Deadline:
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


exchange_deadline = threading.local()
_A = TypeVar("_A")  # an address to try: an IP, or a (proxy, target) pair


class _Watched(urllib3.connection.HTTPConnection):
    """A connection that hands its socket to the deadline of the exchange it serves."""

    def _new_conn(self) -> socket.socket:
        # The TCP socket, before any TLS handshake: the deadline covers the handshake too.
        deadline: Optional[Deadline] = getattr(exchange_deadline, "current", None)
        if deadline is None:
            plain: socket.socket = super()._new_conn()
            return plain
        sock = self._connect_within(deadline)
        deadline.watch(sock)
        return sock

    def _connect_within(self, deadline: Deadline) -> socket.socket:
        # The name is looked up within the deadline (dns.py), then each address is tried in
        # turn, as urllib3 would, none after the deadline. The host name itself stays for TLS:
        # only the address to connect to is swapped in, for the connect only.
        name = self._dns_host
        found = look_up(deadline, name, self.port)
        failure: Optional[Exception] = None
        timeout = self.timeout
        try:
            for address, connect_timeout in in_turn(deadline, found, timeout, name):
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


def look_up(deadline: Deadline, name: str, port: int) -> list[str]:
    """The addresses of ``name`` within what is left of ``deadline``."""
    try:
        return addresses(name, port, deadline.left())
    except LookupTooSlow:
        deadline.expire()
        raise


def in_turn(deadline: Deadline, found: list[_A], timeout: Any, name: str) -> Iterator[tuple[_A, Any]]:
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


class CachedContext(urllib3.connection.HTTPSConnection):
    """An HTTPS connection whose CA bundle, given by path, is parsed once per process (tls.py)."""

    def connect(self) -> None:
        # A CA bundle given by path is parsed once per process, not once per exchange (tls.py).
        if self.ssl_context is None and not getattr(self, "ca_cert_data", None):
            context = verifying_context(self.ca_certs, self.ca_cert_dir)
            if context is not None:
                self.ssl_context, self.ca_certs, self.ca_cert_dir = context, None, None
        super().connect()


class _WatchedHTTPSConnection(_Watched, CachedContext):
    pass


class _WatchedHTTPConnection(_Watched):
    pass


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
