"""Where tokens live: the TokenStore interface and the JSON file store.

A store is shared by everyone who refreshes one login: threads, processes, machines. The refresh
path (``refresh.py``) needs three things of it, and third-party stores implement exactly these:

- ``load()``: the stored token, or a :class:`TokenStoreError` saying what is wrong;
- ``save(token, previous=...)``: replace the stored token as one whole value; ``previous`` is the
  token ``load()`` returned inside the same lock, for stores whose lock can lapse (fencing);
- ``lock()``: a context manager that excludes every other holder sharing the store, bounded in
  time, raising :class:`TokenStoreError` when the wait is exhausted.

:class:`FileTokenStore` keeps the token in a JSON file (``kakao_token.json``), locks a sidecar
``<file>.lock`` that is never deleted, and writes atomically so that a reader without the lock
always sees a whole file.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable, ContextManager, Optional, Union

from .errors import TokenFileError, TokenStoreConflict, TokenStoreError
from .token import Token

__all__ = ["FileTokenStore", "PathLike", "TokenStore", "TokenStoreConflict", "parse_token"]

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_LOCK_TIMEOUT = 30.0
_LOGIN_HINT = "run `kakao-auth login`"


class TokenStore(abc.ABC):
    """The interface the refresh path uses; see the module docstring for the contract."""

    @abc.abstractmethod
    def load(self) -> Token:
        """Return the stored token; raise :class:`TokenStoreError` when there is none usable."""

    @abc.abstractmethod
    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        """Store ``token`` as one whole value.

        ``previous`` is what ``load()`` gave under the lock. A store whose lock can lapse (a TTL)
        must refuse, with :class:`TokenStoreConflict`, to overwrite a value that is no longer
        ``previous``: a holder paused past its lock must not undo a newer refresh.
        """

    @abc.abstractmethod
    def lock(self) -> ContextManager[None]:
        """Return a context manager holding the store's exclusive lock across all its users."""

    @abc.abstractmethod
    def delete(self) -> None:
        """Remove the stored token (after a logout); absent already is not an error."""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the token lives, for messages: a path or a URL without credentials."""

    def error(self, problem: str) -> TokenStoreError:
        """The error to raise when the stored token itself is unusable (no refresh token...)."""
        return TokenStoreError(f"{self.location} {problem}; {_LOGIN_HINT}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


class FileTokenStore(TokenStore):
    """A JSON token file shared by threads and processes on one machine.

    A symlinked token file is followed: the target is read, locked and replaced, so the link
    keeps pointing at the live token.
    """

    def __init__(self, path: PathLike, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = os.fspath(path)
        self.lock_timeout = lock_timeout

    @property
    def location(self) -> str:
        return self.path

    def error(self, problem: str) -> TokenFileError:
        return TokenFileError(self.path, problem)

    def _real(self) -> str:
        return os.path.realpath(self.path)

    def load(self) -> Token:
        raw, mtime = self._read()
        return parse_token(raw, mtime, self.error)

    def _read(self) -> tuple[bytes, float]:
        try:
            with open(self._real(), "rb") as f:
                return f.read(), os.fstat(f.fileno()).st_mtime
        except FileNotFoundError:
            raise TokenFileError(self.path, "does not exist", f"{_LOGIN_HINT} to create it") from None
        except IsADirectoryError:
            raise TokenFileError(self.path, "is a directory", "pass the path of a file") from None
        except PermissionError:
            hint = "run as its owner, or fix its permissions (chmod 600)"
            raise TokenFileError(self.path, "cannot be read: permission denied", hint) from None
        except OSError as e:
            raise TokenFileError(self.path, f"cannot be read: {e.strerror}") from e

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        data = json.dumps(token.to_dict(time.time()), indent=2) + "\n"
        try:
            atomic_write(self._real(), data.encode())
        except OSError as e:
            raise TokenFileError(self.path, f"cannot be written: {e.strerror}", "check the folder") from e

    def delete(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._real())

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        # Imported here: a run whose token is fresh never locks, and filelock costs ~13 ms to import.
        import filelock

        real = self._real()
        # Threads first: filelock's lock is reentrant per thread, not exclusive between threads
        # that each build their own FileLock on the same path.
        with _process_lock(real):
            lock = filelock.FileLock(real + ".lock", timeout=self.lock_timeout, mode=0o600)
            try:
                # filelock polls; a refresh holds the lock for one round trip, so poll often.
                with lock.acquire(poll_interval=0.01):
                    yield
            except filelock.Timeout:
                msg = f"timed out after {self.lock_timeout:g}s waiting for the lock {real}.lock"
                raise TokenStoreError(f"{msg}; another process holds it") from None


def parse_token(raw: bytes, issued_at: float, error: Callable[[str], TokenStoreError]) -> Token:
    """Parse a stored token; ``issued_at`` dates tutorial files that store no expiry.

    ``error`` builds the store's own error for a problem (a :class:`TokenFileError` naming the
    file, for the file store).
    """
    if not raw.strip():
        raise error("is empty")
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise error("is not JSON (nested too deep)") from None
    except ValueError as e:
        raise error(f"is not JSON ({_json_where(e)})") from None
    if not isinstance(data, dict):
        raise error(f"holds a JSON {type(data).__name__}, not an object")
    try:
        return Token.from_dict(data, issued_at=issued_at)
    except ValueError as e:
        raise error(f"has {e}") from None


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259), though Python's parser takes them by default.
    raise ValueError(f"{name} is not JSON")


def _json_where(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"line {e.lineno} column {e.colno}"
    return "not UTF-8 text"


def atomic_write(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old file or the new, never half.

    The temp file is created 0600 by ``mkstemp`` whatever the umask, in the target's folder so
    that ``os.replace`` is a rename on one file system; the folder is fsynced so the rename
    survives a power cut. The temp file is removed on any failure.
    """
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def _replace(src: str, dst: str) -> None:
    # Windows refuses to replace a file another process has open; readers hold it for
    # microseconds, so a few short retries are enough. POSIX never raises here.
    for attempt in range(10):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or attempt == 9:
                raise
            time.sleep(0.01 * (attempt + 1))


def _fsync_folder(folder: str) -> None:
    if os.name == "nt":  # Windows cannot open a folder for fsync; NTFS journals the rename.
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(key: str) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(key, threading.Lock())


def _forget_process_locks() -> None:
    # A lock some other thread held at fork time would stay held forever in the child.
    global _process_locks_guard
    _process_locks_guard = threading.Lock()
    _process_locks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_process_locks)
