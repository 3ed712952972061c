"""The JSON token file store: :class:`FileTokenStore`.

It keeps the token in a JSON file (``kakao_token.json``), locks a sidecar ``<file>.lock`` that
is never deleted, and writes atomically (atomic_file.py) so that a reader without the lock always
sees a whole file. The file may sit in a hostile place (a shared folder, a root cron job on a
user's file), so it trusts nothing there: see the class docstring.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from typing import Any, ContextManager, Optional

from ..errors import TokenFileError, TokenStoreError, one_line
from ..token import Token
from . import lockwatch
from .atomic_file import CLOEXEC, EUID, NOFOLLOW, atomic_write, owner_to_keep, remove_stale_temps, trusted
from .base import (
    LOGIN_HINT,
    MAX_FILE,
    Adopt,
    PathLike,
    StoreBusy,
    TokenStore,
    lock_only,
    parse_token,
    take_or_adopt,
)

__all__ = ["FileTokenStore"]

DEFAULT_LOCK_TIMEOUT = 30.0
# release wakes it at once (lockwatch), this catches a holder that saved and holds on.
WAKE = 0.02


class FileTokenStore(TokenStore):
    """A JSON token file shared by threads and processes on one machine.

    What it does not trust, and why:

    - A symbolic link at the path is followed only when the link and its target belong to the
      user running or to root, as the kernel's ``protected_symlinks`` would have it: in a shared
      folder another user can plant one to make a root job overwrite any file.
    - Only a regular file is read, opened without blocking: a FIFO would hang every run. Files
      over 1 MiB are refused.
    - The replaced file keeps its owner and group when root writes a user's file (a ``sudo``
      refresh or a root cron job must not lock the user out of their own login); a user never
      replaces a file another user owns.
    - The lock file ``<file>.lock`` is opened without following a link and never truncated;
      one owned by someone other than the running user, root or the token's owner is refused.
    - A temp file left by a writer killed mid-save is removed at the next save.

    ``lock_timeout``: seconds to wait for the lock (default: 30, or longer when a refresh can
    take longer: see :meth:`expect_hold`).
    """

    def __init__(self, path: PathLike, *, lock_timeout: Optional[float] = None) -> None:
        self.path = os.fspath(path)
        self._lock_timeout = lock_timeout
        self._hold = 0.0

    @property
    def location(self) -> str:
        return one_line(self.path)  # for messages and logs: a path may hold a newline

    @property
    def lock_timeout(self) -> float:
        """Seconds a waiter waits for the lock before a :class:`TokenStoreError`."""
        if self._lock_timeout is not None:
            return self._lock_timeout
        return max(DEFAULT_LOCK_TIMEOUT, self._hold + 15.0)

    def expect_hold(self, seconds: float) -> None:
        self._hold = max(self._hold, seconds)

    def error(self, problem: str) -> TokenFileError:
        return TokenFileError(self.path, problem)

    # -- where the file really is ------------------------------------------------------------

    def _target(self) -> str:
        """The path to read and replace: the path itself, or a link's target if it may be followed."""
        try:
            link = os.lstat(self.path)
        except OSError:
            return self.path  # absent (a login creates it) or unreadable: open() will say
        if not stat.S_ISLNK(link.st_mode):
            return self.path
        real = os.path.realpath(self.path)
        if not trusted(link.st_uid):
            raise TokenFileError(
                self.path, "is a symbolic link owned by another user, not followed", "remove it"
            )
        with contextlib.suppress(FileNotFoundError):
            if not trusted(os.stat(real).st_uid):
                raise TokenFileError(
                    self.path, "is a symbolic link to a file owned by another user, not followed", "remove it"
                )
        return real

    # -- load ------------------------------------------------------------------------------------

    def load(self) -> Token:
        raw, mtime = self._read(self._target())
        return parse_token(raw, mtime, self.error)

    def _read(self, real: str) -> tuple[bytes, float]:
        try:
            # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer for ever.
            fd = os.open(real, os.O_RDONLY | NOFOLLOW | _NONBLOCK | CLOEXEC)
        except OSError as e:
            raise self._open_error(e) from None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise TokenFileError(self.path, "is a directory", "pass the path of a file")
            if not stat.S_ISREG(info.st_mode):
                problem = "is not a regular file (a FIFO, device or socket)"
                raise TokenFileError(self.path, problem, "remove it")
            raw = _read_at_most(fd, MAX_FILE + 1)
        finally:
            os.close(fd)
        return raw, info.st_mtime

    def _open_error(self, e: OSError) -> TokenFileError:
        if e.errno == errno.ENOENT:
            return TokenFileError(self.path, "does not exist", f"{LOGIN_HINT} to create it")
        if e.errno == errno.EISDIR:
            return TokenFileError(self.path, "is a directory", "pass the path of a file")
        if e.errno in (errno.EACCES, errno.EPERM):
            hint = "run as its owner, or fix its permissions (chmod 600)"
            return TokenFileError(self.path, "cannot be read: permission denied", hint)
        if e.errno == errno.ELOOP:
            return TokenFileError(self.path, "became a symbolic link while being opened", "remove it")
        return TokenFileError(self.path, f"cannot be read: {e.strerror}")

    # -- save ------------------------------------------------------------------------------------

    def check_writable(self) -> None:
        real = self._target()
        try:
            info: Optional[os.stat_result] = os.stat(real)
        except FileNotFoundError:
            info = None
        except OSError as e:
            raise TokenFileError(self.path, f"cannot be checked: {e.strerror}") from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise TokenFileError(self.path, f"is {kind}, so no token can be saved there", "pass a file path")
        if info is not None and EUID not in (None, 0) and info.st_uid != EUID:
            raise TokenFileError(
                self.path, f"belongs to another user (uid {info.st_uid})", "run as that user"
            )
        folder = os.path.dirname(real) or "."
        if not os.path.isdir(folder):
            raise TokenFileError(
                self.path, f"cannot be saved: the folder {folder} does not exist", "create it"
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise TokenFileError(
                self.path, f"cannot be saved: the folder {folder} is not writable", "fix its permissions"
            )

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        data = json.dumps(token.to_dict(time.time()), indent=2) + "\n"
        real = self._target()
        self.check_writable()
        try:
            atomic_write(real, data.encode(), owner=owner_to_keep(real))
        except OSError as e:
            raise TokenFileError(self.path, f"cannot be written: {e.strerror}", "check the folder") from None
        remove_stale_temps(real)

    def delete(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._target())

    # -- lock ------------------------------------------------------------------------------------

    def lock(self) -> ContextManager[None]:
        return lock_only(self.lock_or_adopt(None))

    def lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        return self._locked(adopt, wait=True)

    def try_lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        return self._locked(adopt, wait=False)

    @contextlib.contextmanager
    def _locked(self, adopt: Optional[Adopt], *, wait: bool) -> Iterator[Optional[Token]]:
        real = self._target()
        if _reenter(real):  # this thread holds it already (a refresh inside a locked block)
            try:
                yield None
            finally:
                _leave(real)
            return
        if fcntl is None:  # Windows
            with _windows_lock(real, self.lock_timeout if wait else 0.0):
                yield None
            return
        fd = self._open_lock(real)
        try:
            adopted = self._acquire(fd, real, adopt, wait)
            if adopted is not None:
                yield adopted
                return
            _enter(real)
            try:
                yield None
            finally:
                _leave(real)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _acquire(self, fd: int, real: str, adopt: Optional[Adopt], wait: bool) -> Optional[Token]:
        """Take the lock, or return a token saved meanwhile; bounded by ``lock_timeout``.

        Without ``wait``: one try and one look, then :class:`StoreBusy`.
        """

        def try_lock() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        def timed_out() -> TokenStoreError:
            if not wait:
                return StoreBusy(f"the lock {real}.lock is held by another process")
            return TokenStoreError(
                f"timed out after {self.lock_timeout:g}s waiting for the lock {real}.lock; "
                "another process holds it"
            )

        def pause(left: float) -> None:
            # Woken when the holder lets go, right after its save; between wake-ups a look
            # every WAKE, 100 times fewer than polling the lock every 2 ms.
            lockwatch.released(real + ".lock", lambda: self._open_lock(real)).wait(min(left, WAKE))

        # A stat per look: the file is read only when it was replaced since the last look.
        seconds = self.lock_timeout if wait else 0.0
        return take_or_adopt(try_lock, lambda: _identity(real), adopt, seconds, timed_out, pause)

    def _open_lock(self, real: str) -> int:
        path = real + ".lock"
        flags = os.O_RDWR | NOFOLLOW | CLOEXEC | _NONBLOCK
        try:
            try:
                fd, created = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600), True
            except FileExistsError:
                fd, created = os.open(path, flags), False
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise TokenFileError(
                    self.path, f"its lock file {path} is a symbolic link", "remove it"
                ) from None
            if e.errno in (errno.EACCES, errno.EPERM):
                raise TokenFileError(
                    self.path, f"its lock file {path} cannot be opened: permission denied", "run as its owner"
                ) from None
            raise TokenFileError(self.path, f"its lock file {path} cannot be opened: {e.strerror}") from None
        try:
            _check_lock_file(fd, real, path, self.path, created=created)
        except BaseException:
            os.close(fd)
            raise
        return fd


def _check_lock_file(fd: int, real: str, path: str, shown: str, *, created: bool) -> None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise TokenFileError(shown, f"its lock file {path} is not a regular file", "remove it")
    if info.st_nlink != 1:
        # A hard link planted as the lock file would make this process lock, or (as root) hand
        # over, whatever file it points to.
        raise TokenFileError(shown, f"its lock file {path} has other hard links", "remove it")
    owner = _owner_of(real)
    if info.st_uid != EUID and info.st_uid != 0 and info.st_uid != owner[0]:
        raise TokenFileError(shown, f"its lock file {path} belongs to another user", "remove it")
    if created and EUID == 0 and owner[0] not in (0, -1):
        # Just created by a root job on a user's file: hand it to the user, or their runs
        # cannot lock. Only a file this process created: never one that was already there.
        with contextlib.suppress(OSError):
            os.fchown(fd, owner[0], owner[1])


_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
fcntl: Any
try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


def _owner_of(real: str) -> tuple[int, int]:
    """The token file's owner and group, else its folder's; (-1, -1) when unknown."""
    for candidate in (real, os.path.dirname(real) or "."):
        with contextlib.suppress(OSError):
            info = os.stat(candidate)
            return info.st_uid, info.st_gid
    return -1, -1


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _identity(path: str) -> Optional[tuple[int, int, int]]:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


@contextlib.contextmanager
def _windows_lock(real: str, timeout: float) -> Iterator[None]:
    import filelock  # Windows only: POSIX uses flock directly

    try:
        with filelock.FileLock(real + ".lock", timeout=timeout).acquire(poll_interval=0.01):
            yield
    except filelock.Timeout:
        if timeout <= 0:
            raise StoreBusy(f"the lock {real}.lock is held by another process") from None
        raise TokenStoreError(f"timed out after {timeout:g}s waiting for the lock {real}.lock") from None


# Which thread of this process holds which file's lock, and how deeply: flock excludes every
# other open of the lock file, this thread's own included, so re-entry must not reach flock.
_holders: dict[str, tuple[int, int]] = {}
_holders_guard = threading.Lock()


def _reenter(real: str) -> bool:
    me = threading.get_ident()
    with _holders_guard:
        owner, depth = _holders.get(real, (None, 0))
        if owner != me:
            return False
        _holders[real] = (me, depth + 1)
        return True


def _enter(real: str) -> None:
    with _holders_guard:
        _holders[real] = (threading.get_ident(), 1)


def _leave(real: str) -> None:
    with _holders_guard:
        owner, depth = _holders[real]
        if depth > 1:
            _holders[real] = (owner, depth - 1)
        else:
            del _holders[real]


def _forget_holders() -> None:
    # A lock some other thread held at fork time is not held by the child.
    global _holders_guard
    _holders_guard = threading.Lock()
    _holders.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_holders)
