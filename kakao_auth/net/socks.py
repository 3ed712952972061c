"""The SOCKS path of a bounded exchange: the proxy's handshake watched by the same deadline."""

from __future__ import annotations

import functools
import socket
from typing import TYPE_CHECKING, Any, Optional

import urllib3

from .deadline import CachedContext, Deadline, exchange_deadline, in_turn, look_up

if TYPE_CHECKING:
    import socks  # PySocks: only when a SOCKS proxy is named

__all__ = ["SOCKS_PORT", "socks_pools"]

SOCKS_PORT = 1080  # a SOCKS proxy's port when its URL names none


@functools.cache
def socks_pools() -> dict[str, type]:
    """A SOCKS proxy's pools, whose connections the exchange's deadline watches from the start.

    urllib3 connects through ``socks.create_connection``, which hands the socket over only once
    the proxy has answered, and resolves names with no bound: a proxy that drips its answer, or
    the token endpoint's through it, would hold the exchange (and the store's lock) for ever.
    Built when a SOCKS proxy is first named, since urllib3's SOCKS support needs PySocks.
    """
    from urllib3.contrib import socks as urllib3_socks

    class WatchedSOCKS(urllib3_socks.SOCKSConnection):
        def _new_conn(self) -> socks.socksocket:
            deadline: Optional[Deadline] = getattr(exchange_deadline, "current", None)
            if deadline is None:
                return super()._new_conn()
            return _through_socks(self, deadline)

    class WatchedSOCKSHTTPS(WatchedSOCKS, CachedContext, urllib3_socks.SOCKSHTTPSConnection):
        pass

    class WatchedSOCKSPool(urllib3_socks.SOCKSHTTPConnectionPool):
        ConnectionCls = WatchedSOCKS

    class WatchedSOCKSHTTPSPool(urllib3_socks.SOCKSHTTPSConnectionPool):
        ConnectionCls = WatchedSOCKSHTTPS

    return {"http": WatchedSOCKSPool, "https": WatchedSOCKSHTTPSPool}


def _through_socks(conn: Any, deadline: Deadline) -> socks.socksocket:
    """What ``socks.create_connection`` does for urllib3, each socket watched from its creation."""
    import socks

    options = conn._socks_options
    proxy = str(options["proxy_host"]).strip("[]")
    port = int(options["proxy_port"] or SOCKS_PORT)  # socks5://host names no port: PySocks' default
    found = look_up(deadline, proxy, port)
    targets = [conn.host.strip("[]")]
    if not options["rdns"]:  # socks5://, socks4://: the client resolves the name, not the proxy
        targets = look_up(deadline, targets[0], conn.port)
    # Each address of the target in turn, as a direct connection tries them (an unreachable
    # IPv6 address listed first must not fail the exchange), each through each proxy address.
    routes = [(address, target) for target in targets for address in found]
    failure: Optional[OSError] = None
    for (address, target), connect_timeout in in_turn(deadline, routes, conn.timeout, proxy):
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
