"""TLS contexts for the token exchanges, built once per CA bundle rather than once per exchange.

Each exchange opens a new connection (refreshes are hours apart), and for a CA bundle given by
path (``REQUESTS_CA_BUNDLE``, as Debian and most CI images set it, or certifi's file on requests
< 2.32) urllib3 builds a new context and parses the whole bundle every time: 28 ms of processor
for Debian's bundle, at every refresh of a bot or a back end that runs for days, with the
store's lock held. A context is kept per bundle and reused (a process's first refresh still
builds it); the bundle's identity on disk (inode, size, mtime) is part of the key, so a bundle
that is replaced or edited is read again.

A bundle path comes from the environment, so it is not trusted: one that is not a regular file
(a FIFO would block the exchange in ``open`` for ever, beyond the reach of its deadline) is
refused with :class:`BundleRefused`. So is a CA folder holding such a thing under a name OpenSSL
opens during the handshake (``<subject hash>.<n>``); the folder is looked over at every exchange,
since what a link in it points to can change without the folder changing.
"""

from __future__ import annotations

import os
import re
import ssl
import stat
import threading
from typing import Callable, Optional

from urllib3.util.ssl_ import create_urllib3_context

__all__ = ["BundleRefused", "verifying_context"]

# A handful of bundles at most (one per CA setting): the oldest goes beyond this.
_KEEP = 8
_contexts: dict[tuple[object, ...], ssl.SSLContext] = {}
_guard = threading.Lock()
# The names OpenSSL opens in a CA folder: the subject hash, then .<n> (certificates) or .r<n> (CRLs).
_HASHED = re.compile(r"[0-9a-f]{8}\.r?[0-9]+")


class BundleRefused(Exception):
    """The CA bundle (or folder) named for verification is not a regular file (or folder)."""

    def __init__(self, path: str, problem: str = "is not a regular file") -> None:
        super().__init__(path)
        self.path = path
        self.problem = problem


def verifying_context(ca_file: Optional[str], ca_dir: Optional[str]) -> Optional[ssl.SSLContext]:
    """A context that verifies against ``ca_file`` / ``ca_dir``; None when there is nothing to load.

    None too when the bundle cannot be read or parsed: the caller's usual path then reports it
    exactly as it would have. :class:`BundleRefused` when it is not a regular file (folder).
    """
    if not ca_file and not ca_dir:
        return None
    key = (ca_file, ca_dir, _identity(ca_file, stat.S_ISREG), _identity(ca_dir, stat.S_ISDIR))
    if ca_dir:
        _check_folder(ca_dir)
    with _guard:
        context = _contexts.get(key)
    if context is not None:
        return context
    try:
        context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
        context.load_verify_locations(cafile=ca_file, capath=ca_dir)
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        return None
    with _guard:
        _contexts[key] = context
        while len(_contexts) > _KEEP:
            del _contexts[next(iter(_contexts))]
    return context


def _identity(path: Optional[str], expected: Callable[[int], bool]) -> Optional[tuple[int, int, int, int]]:
    if not path:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None  # absent or unreachable: loading it fails, and says so
    if not expected(info.st_mode):
        raise BundleRefused(path)
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _check_folder(ca_dir: str) -> None:
    """Refuse a CA folder where the handshake could open something that is not a regular file."""
    try:
        names = os.listdir(ca_dir)
    except OSError:
        return  # loading it fails, and says so
    for name in names:
        if not _HASHED.fullmatch(name):
            continue  # never opened by OpenSSL
        try:
            info = os.stat(os.path.join(ca_dir, name))  # through a link: what would be opened
        except OSError:
            continue  # a dangling or looping link: OpenSSL cannot open it either
        if not stat.S_ISREG(info.st_mode):
            raise BundleRefused(ca_dir, f"holds {name}, which is not a regular file")


def _forget_guard() -> None:
    # A fork while another thread held the guard would leave the child's copy held for ever.
    global _guard
    _guard = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_guard)
