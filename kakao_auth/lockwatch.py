"""Waiting for a token file's lock without polling: wake when its holder lets go.

A process that finds ``<file>.lock`` held waits for the holder to save and let go. Polling the
lock every few milliseconds wakes every waiter hundreds of times a second, and on a busy machine
each wake-up takes the processor from the one process that is refreshing. Instead, one thread
per process and lock file blocks in ``flock(LOCK_SH)`` on its own open of the lock file: the
kernel grants it, to every waiting process at once, the moment the exclusive holder lets go. It
lets go of the shared lock at once and wakes the waiters of its process.

The thread outlives a waiter that gives up (a blocked ``flock`` cannot be interrupted), but
never its holder: it ends when the lock is let go, and there is at most one per lock file.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import threading
from typing import Any, Callable

__all__ = ["released"]

fcntl: Any
try:
    import fcntl
except ImportError:  # Windows: the file store polls there
    fcntl = None

# The watch under way per lock file, in this process.
_watches: dict[str, _Watch] = {}
_guard = threading.Lock()


class _Watch:
    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.released = threading.Event()

    def run(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_SH)  # granted when no one holds the lock exclusively
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        except OSError:
            pass  # the waiters look again at their next timeout
        finally:
            os.close(self.fd)
            with _guard:
                if _watches.get(self.path) is self:
                    del _watches[self.path]
            self.released.set()


def released(path: str, open_lock: Callable[[], int]) -> threading.Event:
    """An event set when the exclusive holder of the lock file ``path`` lets go.

    ``open_lock()`` opens the lock file with the store's checks (a new open: flock locks belong
    to an open file, so the watch must not share the waiter's). A watch already under way for
    ``path`` is shared.
    """
    with _guard:
        watch = _watches.get(path)
        if watch is None:
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
