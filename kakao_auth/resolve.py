"""Name lookups within the token exchange's deadline.

``getaddrinfo`` blocks in the C library for as long as the resolver takes (glibc: 5 s per try
and server, two tries, up to three servers; more where resolv.conf says so). It runs before any
socket exists for the exchange's deadline to shut, and with the store's lock held: a resolver
that does not answer made a 10 s refresh last 30 s a try, past the waiters' patience, which is
derived from the refresh's worst case. The lookup runs in a thread of its own instead, and the
exchange waits for it only as long as it has left; a lookup that outlives that is abandoned and
ends when the resolver gives up.
"""

from __future__ import annotations

import _thread
import ipaddress
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
    answers: list[Any] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            answers.extend(socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM))
        except Exception as e:  # handed to the waiting exchange, which types it
            failures.append(e)
        finally:
            done.set()

    try:
        _thread.start_new_thread(look_up, ())
    except RuntimeError:  # out of threads: no lookup without a bound on it (not a timeout)
        raise OSError("no thread to bound the name lookup with") from None
    if not done.wait(max(seconds, 0.0)):
        raise LookupTooSlow(f"no address within {seconds:.3g}s")
    if failures:
        raise failures[0]
    return list(dict.fromkeys(str(info[4][0]) for info in answers))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
