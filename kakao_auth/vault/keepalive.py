"""keep_alive: refresh every user whose refresh token is in its last month, once each.

Kakao issues a new refresh token only when the old one has less than a month left at the
refresh; a daily run over the due users (read through the expiry index, in pages) keeps every
login alive for as long as its user stays linked. Each user goes through the one refresh path
(``refresh.py``): claimed, re-read, refreshed once or adopted, saved before the claim is let go,
so two runs at once (two cron machines) refresh a user once. A few users at a time: Kakao allows
a user 30 refresh tokens an hour (KOE237 is "later"), and the token endpoint is shared.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import TYPE_CHECKING, Callable, Optional

from ..errors import KakaoAuthError, LoginRequired

if TYPE_CHECKING:
    from .api import TokenVault

__all__ = ["KeepAliveReport", "keep_alive"]

log = logging.getLogger("kakao_auth")


@dataclasses.dataclass
class KeepAliveReport:
    """What a keep-alive run did: which users were renewed, which died, which failed.

    ``renewed``, ``dead`` (the login is gone) and ``failed`` (try again later: KOE237, Kakao or
    the database unreachable) are lists of user ids; ``checked`` counts the due users;
    ``reasons`` holds each failed user's error message (no token in it).
    """

    renewed: list[str] = dataclasses.field(default_factory=list)
    dead: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    checked: int = 0
    reasons: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """True when no login died and none failed."""
        return not self.dead and not self.failed

    def summary(self) -> str:
        """One line for a log or a terminal."""
        return (
            f"checked {self.checked}: {len(self.renewed)} renewed, {len(self.dead)} dead, "
            f"{len(self.failed)} failed"
        )


def keep_alive(
    vault: TokenVault,
    within: float,
    *,
    concurrency: int = 4,
    progress: Optional[Callable[[KeepAliveReport], object]] = None,
) -> KeepAliveReport:
    """Refresh each user of ``vault`` whose refresh token dies within ``within`` seconds."""
    report = KeepAliveReport()
    before = vault.clock() + within
    guard = threading.Lock()
    workers = max(1, int(concurrency))
    # At most this many users submitted and not done: the due users are streamed, not listed.
    room = threading.BoundedSemaphore(workers * 2)

    def one(user: str) -> None:
        try:
            outcome, reason = _renew(vault, user, before)
        finally:
            room.release()
        with guard:
            report.checked += 1
            getattr(report, outcome).append(user)
            if reason:
                report.reasons[user] = reason
            if progress is not None:
                progress(report)

    from concurrent.futures import ThreadPoolExecutor  # only a keep-alive run pays for it

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kakao_auth keep-alive") as pool:
        for user in vault.expiring(within):
            room.acquire()
            pool.submit(one, user)
    return report


def _renew(vault: TokenVault, user: str, before: float) -> tuple[str, Optional[str]]:
    """Refresh ``user`` once, unless renewed since it was listed: ("renewed" | "dead" | "failed", why)."""
    refresher = vault.refresher(user)
    try:
        seen = refresher.store.load()
        dies = seen.refresh_token_expires_at
        if dies is not None and dies >= before:
            return "renewed", None  # by another run (or a request) since the page was read
        # The access token read now is the one to replace: a run that finds another one (a
        # second run, or a request, refreshed meanwhile) adopts it without asking Kakao.
        refresher.refresh(seen.access_token)
    except LoginRequired as e:
        log.info("keep-alive: the login of user %s is gone: %s", user, e)
        return "dead", str(e)
    except KakaoAuthError as e:
        log.warning("keep-alive: user %s not refreshed now: %s", user, e)
        return "failed", str(e)
    except Exception as e:  # one user's surprise must not end the run for the others
        log.error("keep-alive: user %s not refreshed (%s)", user, type(e).__name__)
        return "failed", type(e).__name__
    return "renewed", None
