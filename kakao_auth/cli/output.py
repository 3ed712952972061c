r"""What the command line prints of text it did not write: someone else's text stays text.

An API answer carries other people's words (a friend's nickname, a message); a path or a key
comes from the environment or the command line. Printed as they came, their control characters
would drive the terminal: C0 escapes, their 8-bit C1 twins (CSI U+009B and OSC U+009D, which
some terminals obey), bidi overrides that turn what follows around, line separators. Those are
shown as escapes (``\x1b``, ``\u202e``), in JSON as JSON's own, so the value is still there to
read. Spaces of every script (U+3000, U+00A0) are text and are kept. The command line writes
through :func:`escaped_output`, so no message, path or answer reaches the terminal otherwise;
errors and store locations go through :func:`kakao_auth.errors.one_line`, so none forges a line in
a user's log. Expiry times are shown for people: local time plus "in 5h 12m" / "3m ago".

An output whose encoding cannot hold a character (a Latin-1 or ASCII locale, a cp949 console
redirected to a file) gets escapes instead of an error: by then the call was made, and a login
is already saved.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import sys
import time
from collections.abc import Iterator
from typing import Any, Optional, TextIO

from ..errors import drives, escape_driving
from ..token import Token

__all__ = [
    "answer_text",
    "describe",
    "escaped_output",
    "fail",
    "print_expiries",
    "span",
    "tolerate_encodings",
]

# Everything but printable ASCII, newline and tab: the characters worth a look, fast.
_CANDIDATES = re.compile(r"[^\n\t -~]")


def answer_text(body: Any, encoding: Optional[str]) -> str:
    """Parsed JSON (or text that was not JSON) as text safe for a terminal; JSON stays valid JSON."""
    if isinstance(body, str):
        text = escape_driving(body.replace("\r\n", "\n"))
        return text if _fits(text, encoding) else _escaped(text, encoding)
    shown = _CANDIDATES.sub(_json_escaped, json.dumps(body, indent=2, ensure_ascii=False))
    return shown if _fits(shown, encoding) else json.dumps(body, indent=2)


@contextlib.contextmanager
def escaped_output() -> Iterator[None]:
    """Within: whatever is printed to stdout and stderr has its driving characters escaped."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Escaping(sys.stdout), _Escaping(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


class _Escaping:
    """A text stream that writes to another with :func:`escape_driving` applied."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape_driving(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, encoding, isatty, buffer...
        return getattr(self._stream, name)


def tolerate_encodings(*streams: TextIO) -> None:
    """Print what an output's encoding cannot hold as backslash escapes, rather than fail."""
    for stream in streams:
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            reconfigure(errors="backslashreplace")


def _json_escaped(match: re.Match[str]) -> str:
    c = match.group()
    # Only inside strings (JSON's own syntax is ASCII): the escape keeps the value.
    return json.dumps(c)[1:-1] if drives(c) else c


def _fits(text: str, encoding: Optional[str]) -> bool:
    try:
        text.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):  # LookupError: an encoding Python does not know
        return False
    return True


def _escaped(text: str, encoding: Optional[str]) -> str:
    try:
        return text.encode(encoding or "utf-8", "backslashreplace").decode(encoding or "utf-8")
    except LookupError:
        return text.encode("ascii", "backslashreplace").decode("ascii")


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


def print_expiries(token: Token) -> None:
    """Print when the access and refresh tokens expire."""
    now = time.time()
    if token.expires_at is not None:
        print(f"Access token expires:  {describe(token.expires_at, now)}")
    if token.refresh_token_expires_at is not None:
        print(f"Refresh token expires: {describe(token.refresh_token_expires_at, now)}")


def fail(message: str) -> int:
    """Print ``kakao-auth: message`` to stderr (one line) and return the failure status."""
    line = " ".join(message.split())
    with contextlib.suppress(OSError):
        print(f"kakao-auth: {line}", file=sys.stderr)
    return 1
