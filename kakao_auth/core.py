"""The token holder, free of any HTTP stack: what ``KakaoAuth`` and ``KakaoHttpxAuth`` share.

It keeps the token in hand and answers one question per request, "which token do I attach?",
from memory when the token is fresh (no file I/O, no lock). When the token has expired, or the
API host refused it, it refreshes through the one cross-process path (``refresh.py``) as one
in-process flight: the first thread refreshes, the others of this process wait for it and wake
together when it lands; async tasks of one event loop share one refresh without a thread each.
A token that is due (inside the leeway) is still valid: the first request to find it due starts
a thread that refreshes it (unless another holder of the store is at it) and waits for it a
little (``AHEAD_WAIT``); every other request goes on with the token meanwhile, and so does that
one if Kakao is slow (botocore's advisory refresh, google-auth's non-blocking refresh of a stale
token).

It is also the one write path: a login's code exchange and ``kakao-auth copy`` save through
:meth:`TokenCore.save`, under the store's lock.

Every wait is bounded: it is derived from the token endpoint's worst case, so a waiter never
gives up while a legitimate refresh is still running, and never waits for ever.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any, Callable, Optional, TypeVar

from . import ahead
from .ahead import AHEAD_THREAD
from .errors import KakaoAuthError, TokenStoreError
from .masking import mask_token
from .oauth import TokenEndpoint, merge_answer
from .refresh import Refresher
from .token import Token, TokenState

_T = TypeVar("_T")

__all__ = ["AHEAD_THREAD", "TokenCore"]

log = logging.getLogger("kakao_auth")

# How much longer than a refresh's worst case a waiter waits before it gives up.
LOCK_MARGIN = 15.0

# How long the request that finds the token due waits for its refresh before it goes out with the
# still-valid token (the refresh goes on): Kakao answers in tens of milliseconds, when it answers.
AHEAD_WAIT = 2.0
# After a refresh ahead of expiry found the lock held or Kakao unreachable, the next try is this
# many seconds later at the earliest: the token is still valid, and Kakao is not to be hammered.
AHEAD_PAUSE = 2.0
# Worker threads an event loop's tasks use at once for a core: the one refresh (or first read of
# the store) under the loop's lock, and the wait for a refresh ahead of expiry.
LOOP_THREADS = 2


class TokenCore:
    """Holds one login's token and keeps it valid; shared by the requests and httpx adapters."""

    def __init__(self, refresher: Refresher) -> None:
        self.refresher = refresher
        self.store = refresher.store
        self.leeway = refresher.leeway
        self.clock = refresher.clock
        endpoint = refresher.endpoint
        # A store whose lock has a TTL must outlive the slowest refresh (timeout x attempts + backoff).
        self.store.expect_hold(endpoint.worst_case)
        self.lock_wait = endpoint.worst_case + LOCK_MARGIN
        self._token: Optional[Token] = None
        # Bumped by every login or token set by hand: a refresh that began before one of them
        # ends with the old login's token, which must not replace the new one in hand.
        self._logins = 0
        self._flight: Optional[_Flight] = None  # the refresh under way in this process, if any
        self._ahead = False  # a refresh ahead of expiry is under way in this process
        self._ahead_after = 0.0  # time.monotonic() before which no refresh ahead is tried
        self._ahead_error: Optional[KakaoAuthError] = None  # a refresh ahead's failure, for the next request
        self._guard = threading.Lock()  # held for microseconds: reading and setting _flight
        self._loops: weakref.WeakKeyDictionary[Any, _Loop] = weakref.WeakKeyDictionary()
        # Called with each token a refresh (or an adopted refresh) or a login brings, once, in
        # the thread that brought it and outside the guard: KakaoSession's token_updater.
        self.on_update: Optional[Callable[[Token], None]] = None
        _cores.add(self)

    def _forget_threads(self) -> None:
        """In a forked child: the refreshes under way were the parent's threads, which it has not."""
        self._guard = threading.Lock()
        self._flight = None
        self._ahead = False

    def __repr__(self) -> str:
        return f"TokenCore({self.store!r})"

    # -- the token in hand ---------------------------------------------------------------------

    @property
    def held(self) -> Optional[Token]:
        """The token in hand, without reading the store (None before first use)."""
        return self._token

    @property
    def token(self) -> Token:
        """The token in hand (read from the store on first use); it may be due for refresh."""
        token = self._token
        return token if token is not None else self.reload()

    def reload(self) -> Token:
        """Read the store again and hold what it has."""
        return self._hold(self.store.load())

    def adopt(self, token: Token) -> None:
        """Hold ``token`` (already in the store, or set by hand): it replaces any refresh under way."""
        with self._guard:
            self._logins += 1
            self._hold(token)

    def forget(self) -> None:
        """Hold no token: the next use reads the store again (a refresh under way is not kept)."""
        with self._guard:
            self._logins += 1
            self._token = None

    def _updated(self, token: Token) -> None:
        """Hand ``token`` to ``on_update``, outside any flight: its failure is this caller's alone.

        The token is held (and saved) by then; a :class:`KakaoAuthError` the hook raises (the
        session's ``token_updater`` failing, typed) goes to the caller, not to the threads that
        waited for the same refresh, which get their token.
        """
        hook = self.on_update
        if hook is not None:
            hook(token)

    def _hold(self, token: Token) -> Token:
        # Not on the hot path: only when the token in hand changes.
        if token is not self._token:
            mask_token(token)
            self._token = token
        return token

    def _hold_refreshed(self, token: Token, logins: int) -> tuple[Token, bool]:
        """Hold what a refresh begun at login count ``logins`` ended with, unless a login came since.

        Returns the token held, and whether it is new (for ``on_update``, which the caller calls).
        """
        with self._guard:
            held = self._token
            if self._logins != logins and held is not None:
                return held, False  # the new login's token, saved after this refresh's
            self._hold(token)
        return token, token is not held

    def is_fresh(self, token: Token) -> bool:
        """Whether ``token`` can be attached now without refreshing first."""
        return token.is_fresh(self.clock(), self.leeway)

    # -- sync ----------------------------------------------------------------------------------

    def valid_token(self) -> Token:
        """A fresh token (outside the leeway), refreshing first when due: for a caller who keeps it."""
        token = self.token
        if self.is_fresh(token):
            return token
        return self.refresh(token.access_token)

    def request_token(self) -> Token:
        """The token to attach to a request sent now: the hot path is memory only.

        Only an expired token makes the caller wait for a refresh. A due one is still valid: the
        request that finds it due starts its refresh and waits for it up to ``AHEAD_WAIT``, then
        goes out with the token in hand; every other request goes out with it meanwhile.
        """
        self._raise_ahead_error()
        token = self.token
        state = token.state(self.clock(), self.leeway)
        if state is TokenState.FRESH:
            return token
        if state is TokenState.DUE:
            run = self._start_ahead(token, here=True)
            if run is None:
                return token
            run.done.wait(AHEAD_WAIT)
            return self._after_wait(run)
        return self.refresh(token.access_token)

    def _start_ahead(self, due: Token, *, here: bool) -> Optional[ahead.Run]:
        """Start the refresh of the due token ``due``; None when one is under way (or paused).

        It runs in a thread of its own, which the interpreter waits for at exit (ahead.py, at
        most ``lock_wait``), so a refresh token Kakao rotates in the answer is saved even
        when the caller gives up waiting and its script ends first. The thread is a daemon and
        the wait is an ``atexit`` hook rather than threading's own join, so that a Ctrl-C at
        exit stops the wait with one line, not threading's traceback. Without a thread to spare,
        the refresh is made ``here`` (a sync caller) or left to a later call.
        """
        if not self._claim_ahead():
            return None
        run = ahead.Run(due, ends=time.monotonic() + self.lock_wait)
        if not ahead.start(run, self._ahead_in_background):  # no thread to spare
            if not here:
                self._end_ahead(None)
                return None
            run.token = self._refresh_ahead(due)
            run.done.set()
        return run

    def _claim_ahead(self) -> bool:
        """Whether this caller is the one to refresh a due token (no refresh under way, no pause)."""
        with self._guard:
            if self._ahead or self._flight is not None or time.monotonic() < self._ahead_after:
                return False
            self._ahead = True
            return True

    def _ahead_in_background(self, run: ahead.Run) -> None:
        try:
            run.token = self._refresh_ahead(run.due)
        except KakaoAuthError as e:
            self._hand_over(run, e)
        except Exception as e:  # a thread's exception would be printed with its locals' context
            log.error("the refresh ahead of expiry failed (%s)", type(e).__name__)
        finally:
            ahead.finish(run)

    def _hand_over(self, run: ahead.Run, error: KakaoAuthError) -> None:
        """A refresh ahead's failure (not transient: a dead login, a token issued but not saved).

        It is the waiting request's to raise; once that request went on without it, it is
        logged now and raised to this holder's next request.
        """
        with self._guard:
            if run.watched:
                run.error = error
                return
            self._ahead_error = error
        log.error("the refresh ahead of expiry failed: %s", error)

    def _after_wait(self, run: ahead.Run) -> Token:
        """What the request that started ``run`` sends once it stops waiting for it."""
        with self._guard:
            run.watched = False
            error, run.error = run.error, None
        if error is not None:
            raise error
        return run.token if run.token is not None else run.due

    def _refresh_ahead(self, due: Token) -> Optional[Token]:
        """Refresh the due token ``due`` (after :meth:`_claim_ahead`); None if not done."""
        logins = self._logins
        new: Optional[Token] = None
        try:
            new = self.refresher.refresh_ahead(due.access_token)
        finally:
            self._end_ahead(new)
        if new is None:
            return None
        token, changed = self._hold_refreshed(new, logins)
        if changed:
            self._updated(token)  # a failure is handed to the request waiting, or the next one
        return token

    def _end_ahead(self, new: Optional[Token]) -> None:
        with self._guard:
            self._ahead = False
            if new is None:  # the lock was held or Kakao failed: not again for a while
                self._ahead_after = time.monotonic() + AHEAD_PAUSE

    def _raise_ahead_error(self) -> None:
        if self._ahead_error is None:  # the hot path: one attribute read
            return
        with self._guard:
            error, self._ahead_error = self._ahead_error, None
        if error is not None:
            raise error

    def refresh(self, failed: Optional[str], *, force: bool = False) -> Token:
        """A token newer than the access token ``failed``, refreshing at most once per expiry.

        The threads of this process share one flight: the first refreshes, the others wait for
        it (bounded) and all wake together when it lands, rather than taking a lock in turn.
        A thread that refreshes again inside its own flight (re-entry) goes straight through.
        ``force`` refreshes even when the token in hand (or in the store) is fresh.
        """
        me = threading.get_ident()
        with self._guard:
            logins = self._logins
            mine = self._token
            if not force and mine is not None and mine.supersedes(failed, self.clock(), self.leeway):
                return mine
            ongoing = self._flight
            flight = None  # set when this thread starts (and so must end) a flight
            if ongoing is None:
                flight = self._flight = _Flight(me)
        if ongoing is not None and ongoing.leader != me:
            return self._follow(ongoing)  # outside the guard: the leader needs it to finish
        try:
            token, changed = self._hold_refreshed(self.refresher.refresh(failed, force=force), logins)
        except BaseException as e:
            if flight is not None:
                flight.error = e
            raise
        else:
            if flight is not None:
                flight.token = token
        finally:
            if flight is not None:
                with self._guard:
                    self._flight = None
                flight.done.set()
        if changed:
            self._updated(token)  # after the flight: the threads that waited have their token
        return token

    def _follow(self, flight: _Flight) -> Token:
        if not flight.done.wait(self.lock_wait):
            raise TokenStoreError(
                f"timed out after {self.lock_wait:g}s waiting for another thread's refresh of "
                f"{self.store.location}; try again"
            )
        if flight.error is not None:
            # The leader's failure is this thread's too (no second try: Kakao would be asked
            # again by every thread). A copy, so that tracebacks of threads do not mix.
            error = copy.copy(flight.error)
            error.__cause__ = flight.error.__cause__
            raise error
        assert flight.token is not None
        return flight.token

    def save(self, token: Token) -> Token:
        """Store ``token`` (a login's or a copy's) under the store's lock and hold it."""
        self.refresher.save(token)
        self.adopt(token)
        return token

    def save_set(self, token: Token) -> Token:
        """Store a token set by hand, fenced (:meth:`Refresher.save_set`), and hold it."""
        self.refresher.save_set(token)
        self.adopt(token)
        return token

    def log_in(self, endpoint: TokenEndpoint, form: Mapping[str, str], **extra: Any) -> Token:
        """Exchange a login's authorization-code ``form`` at ``endpoint``, then save the token.

        The store is checked first: an authorization code is single use, so it is not spent on
        a token that could not be saved. ``extra`` fields (client id, secret) are kept with it.
        """
        self.store.check_writable()
        issued = self.clock()
        token = self.save(merge_answer(None, endpoint.post(form), issued, **extra))
        self._updated(token)
        return token

    # -- async ---------------------------------------------------------------------------------

    async def arequest_token(self) -> Token:
        """:meth:`request_token` for async code: the store and Kakao are reached off the loop."""
        self._raise_ahead_error()
        token = self._token
        if token is None:
            async with self._loop().lock:  # the tasks of a loop read the store once
                token = await self._aheld()
        state = token.state(self.clock(), self.leeway)
        if state is TokenState.FRESH:
            return token
        if state is TokenState.DUE:
            run = self._start_ahead(token, here=False)  # never a refresh on the loop
            if run is None:
                return token
            await self._offload(lambda: run.done.wait(AHEAD_WAIT))
            return self._after_wait(run)
        return await self.arefresh(token.access_token)

    async def arefresh(self, failed: Optional[str], *, force: bool = False) -> Token:
        """:meth:`refresh` for async code: the tasks of one loop share one refresh.

        The waiting tasks queue on an async lock (no thread each); the one refresh runs in a
        worker thread, so the file lock, the file I/O and the token POST never block the loop.
        A task cancelled meanwhile leaves the refresh to finish and save.
        """
        async with self._loop().lock:
            mine = await self._aheld()
            if not force and mine.supersedes(failed, self.clock(), self.leeway):
                return mine
            return await self._offload(lambda: self.refresh(failed, force=force))

    async def _aheld(self) -> Token:
        """The token in hand, read from the store off the loop on first use."""
        mine = self._token
        return mine if mine is not None else await self._offload(self.reload)

    async def _offload(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` in a worker thread, from the running loop's own few (``LOOP_THREADS``).

        anyio's default threads are the application's too (FastAPI runs its sync endpoints and
        dependencies on them): all taken, a refresh would wait for one without a bound, and for
        ever if those threads wait on this loop.
        """
        import anyio.to_thread

        return await anyio.to_thread.run_sync(work, limiter=self._loop().threads)

    def _loop(self) -> _Loop:
        """What the tasks of the running event loop share."""
        import anyio.lowlevel

        token = anyio.lowlevel.current_token()
        loop = getattr(token, "native_token", token)  # anyio 4 wraps the loop; anyio 3 is the loop
        with self._guard:  # loops in several threads may ask at once
            shared = self._loops.get(loop)
            if shared is None:
                shared = self._loops[loop] = _Loop()
            return shared


# Every core of this process, for the fork handler below.
_cores: weakref.WeakSet[TokenCore] = weakref.WeakSet()


def _forget_threads() -> None:
    # A child forked while a refresh was under way would otherwise wait for it to the end of
    # lock_wait, and never refresh ahead again: the thread that was to finish it is not here.
    ahead.forget()
    for core in list(_cores):
        core._forget_threads()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads)


class _Loop:
    """What the tasks of one event loop share: one refresh at a time, and threads of their own."""

    def __init__(self) -> None:
        import anyio

        self.lock = anyio.Lock()
        self.threads = anyio.CapacityLimiter(LOOP_THREADS)


class _Flight:
    """One refresh under way in this process, which other threads can wait for."""

    def __init__(self, leader: int) -> None:
        self.leader = leader
        self.done = threading.Event()
        self.token: Optional[Token] = None
        self.error: Optional[BaseException] = None
