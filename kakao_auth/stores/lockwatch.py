"""Waiting for a token file's lock without each waiter polling it: wake when its holder lets go.

A process that finds ``<file>.lock`` held waits for the holder to save and let go. Each waiter
polling the lock every few milliseconds wakes every waiter hundreds of times a second, and on a
busy machine each wake-up takes the processor from the one process that is refreshing.
Instead, one thread per process and lock file watches the lock for all the waiters of its
process, on its own open of the lock file: it tries ``flock(LOCK_SH | LOCK_NB)`` every
``LOOK`` seconds, and when that is granted (no one holds the lock exclusively) it lets go at
once and wakes the waiters of its process.

It tries rather than blocks: a blocked ``flock`` cannot be interrupted, so a watch blocked
behind a holder that never lets go (one stopped with SIGSTOP) was left behind for ever, a
thread and a descriptor, after every waiter had given up. The watch ends when the lock is let
go, or ``IDLE`` seconds after the last waiter asked for it; there is at most one per lock file.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import threading
import time
from typing import Any, Callable

__all__ = ["released"]

fcntl: Any
try:
    import fcntl
except ImportError:  # Windows: the file store polls there
    fcntl = None

# How often the watch tries the lock: one thread per process, a non-blocking syscall each time.
LOOK = 0.005
# How long a watch no waiter asks for goes on: waiters ask at every pause (store.WAKE, 20 ms).
IDLE = 1.0

# The watch under way per lock file, in this process.
_watches: dict[str, _Watch] = {}
_guard = threading.Lock()


class _Watch:
    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.released = threading.Event()
        self.asked = time.monotonic()  # when a waiter last asked for this watch

    def run(self) -> None:
        try:
            while not self._free() and time.monotonic() - self.asked < IDLE:
                time.sleep(LOOK)
        finally:
            os.close(self.fd)
            with _guard:
                if _watches.get(self.path) is self:
                    del _watches[self.path]
            self.released.set()  # a waiter still there looks again: at worst one look too many

    def _free(self) -> bool:
        """Whether no one holds the lock exclusively now (the shared lock taken is let go at once)."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            return True  # the waiters look again at their next timeout
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        return True


def released(path: str, open_lock: Callable[[], int]) -> threading.Event:
    """An event set when the exclusive holder of the lock file ``path`` lets go (or the watch ends).

    ``open_lock()`` opens the lock file with the store's checks (a new open: flock locks belong
    to an open file, so the watch must not share the waiter's). A watch already under way for
    ``path`` is shared.
    """
    with _guard:
        watch = _watches.get(path)
        if watch is not None:
            watch.asked = time.monotonic()
        else:
            watch = _Watch(path, open_lock())
            try:
                # A bare thread: threading.Thread.start() would wait for it to be scheduled.
                _thread.start_new_thread(watch.run, ())
            except RuntimeError:  # out of threads, or shutting down: the waiter polls instead
                os.close(watch.fd)
                return threading.Event()
            _watches[path] = watch
        return watch.released


def _forget() -> None:
    # The watching threads do not exist in a forked child; their descriptors do.
    global _guard
    _guard = threading.Lock()
    for watch in _watches.values():
        with contextlib.suppress(OSError):
            os.close(watch.fd)
    _watches.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)
