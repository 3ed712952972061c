"""What the command line reads besides its arguments: a field's file, a memo, a pasted URL.

All come from the shell, and a wrong one is easy to give: ``-f template_object=@/dev/zero``,
a binary file, ``yes | kakao-auth memo -``. Each is read up to a bound, as UTF-8 text (a
leading byte-order mark, as Windows editors write, is dropped), and a wrong one is a one-line
error that says what to do, never a MemoryError or a "bug in kakao-auth".
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from ..errors import ConfigurationError, printable

__all__ = [
    "MAX_FIELD_FILE",
    "MAX_LINE",
    "MAX_STDIN",
    "read_field_file",
    "read_line",
    "read_stdin",
    "text_argument",
]

# Kakao's templates and forms are a few KiB; a megabyte is a mistake, not a template.
MAX_FIELD_FILE = 1024 * 1024
# A memo is at most 200 characters: 64 KiB of stdin is already far more than one.
MAX_STDIN = 64 * 1024
# A pasted redirect URL is under 2 KiB.
MAX_LINE = 16 * 1024


def text_argument(value: str) -> str:
    """``value`` (a command-line argument sent as text) if the terminal's encoding decoded it.

    Bytes it could not decode (a script saved as EUC-KR, run in a UTF-8 locale) reach Python as
    lone surrogates, which no request can carry: they are named here, not met as a crash.
    """
    if any("\udc80" <= c <= "\udcff" for c in value):
        encoding = sys.getfilesystemencoding()
        raise ConfigurationError(
            f"{printable(value, hide_tokens=False)!r} is not {encoding} text: save the script that "
            f"runs kakao-auth as {encoding}, or run it in a locale of its own encoding"
        )
    return value


def read_field_file(path: str) -> str:
    """The text of ``path`` (``-f KEY=@FILE``), at most :data:`MAX_FIELD_FILE` bytes of UTF-8."""
    shown = printable(path, hide_tokens=False)
    try:
        with open(path, "rb") as f:
            return _text(f.read(MAX_FIELD_FILE + 1), MAX_FIELD_FILE, shown)
    except OSError as e:
        raise ConfigurationError(f"cannot read {shown}: {e.strerror or type(e).__name__}") from None


def read_stdin() -> str:
    """The text on standard input, at most :data:`MAX_STDIN` bytes of UTF-8."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # replaced by a text stream (embedding, tests): no bytes to check
        return str(sys.stdin.read(MAX_STDIN))
    with _reading_stdin():
        return _text(stream.read(MAX_STDIN + 1), MAX_STDIN, "standard input")


def read_line() -> str:
    """One line of standard input, at most :data:`MAX_LINE` bytes of UTF-8 (a pasted URL).

    Read from the descriptor, not through ``sys.stdin``: the caller may wait for it in a thread
    that the exit then abandons, and a thread left inside stdin's buffered reader aborts the
    interpreter at exit.
    """
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a stream without one (embedding)
        return str(sys.stdin.readline(MAX_LINE))
    with _reading_stdin():
        return _text(_first_line(fd, MAX_LINE + 1), MAX_LINE, "the pasted line")


def _first_line(fd: int, limit: int) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < limit:
        chunk = os.read(fd, limit - len(data))
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


@contextlib.contextmanager
def _reading_stdin() -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise ConfigurationError(f"cannot read standard input: {e.strerror or type(e).__name__}") from None


def _text(data: bytes, limit: int, shown: str) -> str:
    if len(data) > limit:
        raise ConfigurationError(f"{shown} holds more than {limit // 1024} KiB: give the text itself")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigurationError(f"{shown} is not UTF-8 text: save it as UTF-8") from None
