"""Expiry times for people: local time plus "in 5h 12m" / "3m ago"."""

from __future__ import annotations

import datetime

__all__ = ["describe", "span"]


def span(seconds: float) -> str:
    """A duration in its two largest units: ``59d 23h``, ``5h 12m``, ``3m 5s``, ``42s``."""
    s = int(abs(seconds))
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {s % 60}s"
    return f"{s}s"


def describe(at: float, now: float) -> str:
    """``2026-11-21 18:00 KST (in 5h 12m)``, or ``(expired 3m 5s ago)`` once past."""
    try:
        local = datetime.datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    except (OverflowError, ValueError, OSError):  # beyond what this platform's time can show
        local = f"epoch {at:.0f}"
    relative = f"in {span(at - now)}" if at > now else f"expired {span(now - at)} ago"
    return f"{local} ({relative})"
