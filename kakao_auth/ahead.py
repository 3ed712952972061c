"""The refresh ahead of expiry runs in a thread of its own, which the interpreter's exit waits for.

A due token (inside the leeway) is still valid: the core (core.py) starts its refresh in a
thread and lets requests go on with the token in hand. Kakao rotates refresh tokens, so what it
answers must be saved even when the request that started the refresh gives up waiting and the
script ends first: the exit waits for every refresh under way here, each at most its
``lock_wait`` (the refresh's worst case plus 15 s). The threads are daemons and the wait is an
``atexit`` hook rather than threading's own join, so that a Ctrl-C at exit stops the wait with
one line, not threading's traceback.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Callable, Optional

from .errors import KakaoAuthError
from .token import Token

__all__ = ["AHEAD_THREAD", "Run", "finish", "forget", "start"]

log = logging.getLogger("kakao_auth")

# The name of the thread that refreshes a due token while the other requests go on with it.
AHEAD_THREAD = "kakao_auth refresh ahead"


class Run:
    """One refresh ahead of expiry, run in a thread; the request that started it waits a little."""

    def __init__(self, due: Token, ends: float) -> None:
        self.due = due
        self.ends = ends  # time.monotonic() after which the exit no longer waits for it
        self.done = threading.Event()
        self.token: Optional[Token] = None  # the new token, once refreshed or adopted
        self.error: Optional[KakaoAuthError] = None  # a failure for the waiting request to raise
        self.watched = True  # the request that started it still waits for it


# The refreshes ahead of expiry under way in this process, which the exit waits for.
_running: set[Run] = set()


def start(run: Run, target: Callable[[Run], None]) -> bool:
    """Run ``target(run)`` in a refresh-ahead thread; False when no thread can be started."""
    thread = threading.Thread(target=target, args=(run,), name=AHEAD_THREAD, daemon=True)
    _running.add(run)
    try:
        thread.start()
    except RuntimeError:  # out of threads, or the interpreter is shutting down
        _running.discard(run)
        return False
    return True


def finish(run: Run) -> None:
    """``run`` is over: its waiter wakes, and the exit no longer waits for it."""
    run.done.set()
    _running.discard(run)


def forget() -> None:
    """In a forked child: the refreshes under way were the parent's threads, which it has not.

    Called by the core's fork handler (core.py), the one registered for both.
    """
    _running.clear()


def _at_exit() -> None:
    """Let the refreshes ahead under way save what Kakao answered, each within its ``lock_wait``.

    Their threads are daemons: this wait is theirs. A Ctrl-C ends it with one line (the refresh
    is cut short where it stands) instead of the traceback threading prints for its own join.
    """
    try:
        for run in list(_running):
            run.done.wait(max(0.0, run.ends - time.monotonic()))
    except KeyboardInterrupt:
        if _running:
            log.warning(
                "interrupted at exit during a refresh ahead of expiry; if a command then says the "
                "login is gone, run `kakao-auth login`"
            )


atexit.register(_at_exit)
