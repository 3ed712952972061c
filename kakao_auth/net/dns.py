"""Name lookups within the token exchange's deadline.

``getaddrinfo`` blocks in the C library for as long as the resolver takes (glibc: 5 s per try
and server, two tries, up to three servers; more where resolv.conf says so). It runs before any
socket exists for the exchange's deadline to shut, and with the store's lock held: a resolver
that does not answer made a 10 s refresh last 30 s a try, past the waiters' patience, which is
derived from the refresh's worst case. The lookup runs in a thread of its own instead, and the
exchange waits for it only as long as it has left; a lookup that outlives that is abandoned and
ends when the resolver gives up. Until then, the next exchange for the same name waits for that
lookup rather than starting another: retries against a silent resolver leave one thread behind,
not one each.
"""

from __future__ import annotations

import _thread
import ipaddress
import os
import socket
import threading
from typing import Any

from urllib3.util.connection import allowed_gai_family

__all__ = ["LookupTooSlow", "addresses"]


class LookupTooSlow(OSError):
    """The name lookup did not finish within the time given."""


def addresses(host: str, port: int, seconds: float) -> list[str]:
    """The IP addresses of ``host`` in the resolver's order, looked up within ``seconds``.

    An IP address is returned as it is. Raises :class:`LookupTooSlow` past ``seconds``, what
    ``getaddrinfo`` raised (``socket.gaierror``), or ``OSError`` when no thread can be started.
    """
    if _is_address(host):
        return [host]
    lookup = _lookup(host, port)
    if not lookup.done.wait(max(seconds, 0.0)):
        raise LookupTooSlow(f"no address within {seconds:.3g}s")
    if lookup.failures:
        raise lookup.failures[0]
    return list(dict.fromkeys(str(info[4][0]) for info in lookup.answers))


class _Lookup:
    """One ``getaddrinfo`` under way in a thread of its own, which any exchange may wait for."""

    def __init__(self, host: str, port: int) -> None:
        self.key = (host, port)
        self.answers: list[Any] = []
        self.failures: list[BaseException] = []
        self.done = threading.Event()

    def run(self) -> None:
        try:
            host, port = self.key
            self.answers.extend(socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM))
        except Exception as e:  # handed to the waiting exchange, which types it
            self.failures.append(e)
        finally:
            with _guard:
                if _under_way.get(self.key) is self:
                    del _under_way[self.key]
            self.done.set()


# The lookups under way in this process, by (host, port).
_under_way: dict[tuple[str, int], _Lookup] = {}
_guard = threading.Lock()


def _lookup(host: str, port: int) -> _Lookup:
    with _guard:
        lookup = _under_way.get((host, port))
        if lookup is not None:
            return lookup
        lookup = _Lookup(host, port)
        try:
            _thread.start_new_thread(lookup.run, ())
        except RuntimeError:  # out of threads: no lookup without a bound on it (not a timeout)
            raise OSError("no thread to bound the name lookup with") from None
        _under_way[lookup.key] = lookup
        return lookup


def _forget() -> None:
    # The lookup threads do not exist in a forked child: its exchanges start their own.
    global _guard
    _guard = threading.Lock()
    _under_way.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
