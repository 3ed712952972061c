"""Where tokens live: the TokenStore interface and the JSON file store.

A store is shared by everyone who refreshes one login: threads, processes, machines. The refresh
path (``refresh.py``) needs three things of it, and third-party stores implement exactly these:

- ``load()``: the stored token, or a :class:`TokenStoreError` saying what is wrong;
- ``save(token, previous=...)``: replace the stored token as one whole value; ``previous`` is the
  token ``load()`` returned inside the same lock, for stores whose lock can lapse (fencing);
- ``lock()``: a context manager that excludes every other holder sharing the store, bounded in
  time, raising :class:`TokenStoreError` when the wait is exhausted.

Four more have defaults a store may refine: ``lock_or_adopt()`` (watch the store while waiting,
so waiters adopt a token saved meanwhile instead of queueing), ``try_lock_or_adopt()`` (the same
without waiting: :class:`StoreBusy` when another holder has the lock, for a refresh ahead of
expiry that no one needs to wait for), ``check_writable()`` (called before Kakao is asked for a
token the store must then take) and ``expect_hold()`` (how long a holder may keep the lock:
stores whose lock has a TTL lengthen it).

:class:`FileTokenStore` keeps the token in a JSON file (``kakao_token.json``), locks a sidecar
``<file>.lock`` that is never deleted, and writes atomically so that a reader without the lock
always sees a whole file. The file may sit in a hostile place (a shared folder, a root cron job on
a user's file), so it trusts nothing there: see the class docstring.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable, ContextManager, Optional, Protocol, Union

from . import lockwatch
from .display import one_line
from .errors import TokenFileError, TokenStoreConflict, TokenStoreError
from .token import Token, strict_json

__all__ = [
    "FileTokenStore",
    "PathLike",
    "StoreBusy",
    "TokenStore",
    "TokenStoreConflict",
    "lock_only",
    "parse_token",
    "take_or_adopt",
]

PathLike = Union[str, "os.PathLike[str]"]


class Adopt(Protocol):
    """What a waiter for the lock asks about a token saved by another holder meanwhile."""

    def __call__(self) -> Optional[Token]:
        """Read the store: the token to adopt instead of taking the lock, or None (not yet)."""

    def consider(self, token: Token) -> Optional[Token]:
        """``token`` if it is one to adopt (a store that has just read it need not read again)."""


class StoreBusy(TokenStoreError):
    """Another holder has the store's lock: raised by ``try_lock_or_adopt``, which does not wait."""


DEFAULT_LOCK_TIMEOUT = 30.0
# A token file is under 2 KiB; a larger one is not ours (or is an attack on memory).
MAX_FILE = 1 << 20
TOO_LARGE = "is over 1 MiB, far too large for a token"
# How often a waiter of a store without a wake-up of its own polls the lock and the store.
POLL = 0.002
# How often a file store waiter looks at the file while the holder keeps the lock: the holder's
# release wakes it at once (lockwatch), this catches a holder that saved and holds on.
WAKE = 0.02
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

    def lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        """Hold the lock (yield None), or yield the token ``adopt`` found while waiting for it.

        The default takes the lock and never adopts; stores that can watch for a new token
        cheaply while they wait override it, so that waiters do not queue after a refresh.
        """
        return _never_adopting(self.lock())

    def try_lock_or_adopt(self, adopt: Optional[Adopt]) -> ContextManager[Optional[Token]]:
        """As :meth:`lock_or_adopt`, but raise :class:`StoreBusy` at once if the lock is held.

        The default waits, as :meth:`lock_or_adopt` does: a store that cannot tell a held lock
        without waiting for it only costs its caller the wait.
        """
        return self.lock_or_adopt(adopt)

    def check_writable(self) -> None:  # noqa: B027  # optional: most stores cannot tell ahead
        """Raise :class:`TokenStoreError` now if a save would certainly fail (before Kakao is asked)."""

    def expect_hold(self, seconds: float) -> None:  # noqa: B027  # optional: only TTL locks care
        """A holder may keep the lock up to ``seconds`` (a refresh's worst case); TTL locks adapt."""

    def error(self, problem: str) -> TokenStoreError:
        """The error to raise when the stored token itself is unusable (no refresh token...)."""
        return TokenStoreError(f"{self.location} {problem}; {_LOGIN_HINT}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


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
        if not _trusted(link.st_uid):
            raise TokenFileError(
                self.path, "is a symbolic link owned by another user, not followed", "remove it"
            )
        with contextlib.suppress(FileNotFoundError):
            if not _trusted(os.stat(real).st_uid):
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
            fd = os.open(real, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
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
            return TokenFileError(self.path, "does not exist", f"{_LOGIN_HINT} to create it")
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
        if info is not None and _EUID not in (None, 0) and info.st_uid != _EUID:
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
            atomic_write(real, data.encode(), owner=_owner_to_keep(real))
        except OSError as e:
            raise TokenFileError(self.path, f"cannot be written: {e.strerror}", "check the folder") from None
        _remove_stale_temps(real)

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
        flags = os.O_RDWR | _NOFOLLOW | _CLOEXEC | _NONBLOCK
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


def take_or_adopt(
    try_lock: Callable[[], bool],
    mark: Callable[[], object],
    adopt: Optional[Adopt],
    seconds: float,
    timed_out: Callable[[], TokenStoreError],
    pause: Callable[[float], object] = lambda left: time.sleep(min(POLL, left)),
) -> Optional[Token]:
    """Take a store's lock (return None), or return the token ``adopt`` finds while waiting.

    ``mark()`` is a cheap fingerprint of the stored token (a stat, the raw value): ``adopt`` (a
    read and parse) runs only when it changed. ``pause(left)`` waits before the next try, at
    most ``left`` seconds. The whole wait is bounded by ``seconds``. After a pause the store is
    looked at before the lock is tried: the news that ends a wait is most often a saved token,
    and taking the lock only to adopt it under the lock would hold up the others.
    """
    deadline = time.monotonic() + seconds
    seen: list[object] = [_NOTHING]

    def look() -> Optional[Token]:
        if adopt is None:
            return None
        now_seen = mark()
        if now_seen == seen[0]:
            return None
        seen[0] = now_seen
        return adopt()

    locked = try_lock()
    while not locked:
        token = look()
        if token is not None:
            return token
        left = deadline - time.monotonic()
        if left <= 0:
            raise timed_out()
        pause(left)
        token = look()
        if token is not None:
            return token
        locked = try_lock()
    return None


_NOTHING = object()


def _check_lock_file(fd: int, real: str, path: str, shown: str, *, created: bool) -> None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise TokenFileError(shown, f"its lock file {path} is not a regular file", "remove it")
    if info.st_nlink != 1:
        # A hard link planted as the lock file would make this process lock, or (as root) hand
        # over, whatever file it points to.
        raise TokenFileError(shown, f"its lock file {path} has other hard links", "remove it")
    owner = _owner_of(real)
    if info.st_uid != _EUID and info.st_uid != 0 and info.st_uid != owner[0]:
        raise TokenFileError(shown, f"its lock file {path} belongs to another user", "remove it")
    if created and _EUID == 0 and owner[0] not in (0, -1):
        # Just created by a root job on a user's file: hand it to the user, or their runs
        # cannot lock. Only a file this process created: never one that was already there.
        with contextlib.suppress(OSError):
            os.fchown(fd, owner[0], owner[1])


_EUID: Optional[int] = os.geteuid() if hasattr(os, "geteuid") else None
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

fcntl: Any
try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


def _trusted(uid: int) -> bool:
    return _EUID is None or uid in (_EUID, 0)


def _owner_of(real: str) -> tuple[int, int]:
    """The token file's owner and group, else its folder's; (-1, -1) when unknown."""
    for candidate in (real, os.path.dirname(real) or "."):
        with contextlib.suppress(OSError):
            info = os.stat(candidate)
            return info.st_uid, info.st_gid
    return -1, -1


def _owner_to_keep(real: str) -> Optional[tuple[int, int]]:
    """The (uid, gid) the replaced file must keep, -1 for "as created"; None: nothing to keep."""
    try:
        info = os.stat(real)
    except OSError:
        return None
    if _EUID == 0:
        return (info.st_uid, info.st_gid) if (info.st_uid, info.st_gid) != (0, 0) else None
    if _EUID is not None and info.st_gid != os.getegid():
        return -1, info.st_gid
    return None


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


def _remove_stale_temps(real: str) -> None:
    # Called under the lock right after a save: any temp file of this store is a dead writer's.
    folder = os.path.dirname(real) or "."
    prefix = "." + os.path.basename(real) + "."
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            if not (name.startswith(prefix) and name.endswith(".tmp")):
                continue
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                info = os.lstat(path)
                if stat.S_ISREG(info.st_mode) and _trusted(info.st_uid):
                    os.remove(path)


@contextlib.contextmanager
def _never_adopting(held: ContextManager[None]) -> Iterator[Optional[Token]]:
    """A plain ``lock()`` as ``lock_or_adopt()``: it holds the lock and adopts nothing."""
    with held:
        yield None


@contextlib.contextmanager
def lock_only(held: ContextManager[Optional[Token]]) -> Iterator[None]:
    """``lock_or_adopt(None)`` as a plain ``lock()``: it never adopts, so it yields nothing."""
    with held:
        yield


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


def parse_token(raw: bytes, issued_at: float, error: Callable[[str], TokenStoreError]) -> Token:
    """Parse a stored token; ``issued_at`` dates tutorial files that store no expiry.

    ``error`` builds the store's own error for a problem (a :class:`TokenFileError` naming the
    file, for the file store).
    """
    if len(raw) > MAX_FILE:  # a file read at most one byte over
        raise error(TOO_LARGE)
    if not raw.strip():
        raise error("is empty")
    try:
        data = strict_json(raw)
    except RecursionError:
        raise error("is not JSON (nested too deep)") from None
    except ValueError as e:
        raise error(f"is not JSON ({_json_where(e)})") from None
    if not isinstance(data, dict):
        raise error(f"holds a JSON {type(data).__name__}, not an object")
    try:
        return Token.from_dict(data, issued_at=issued_at)
    except ValueError as e:
        said = str(e)  # "no access_token", "expires_in is not a number": each its own sentence
        raise error(f"has {said}" if said.startswith("no ") else f"holds an unusable token: {said}") from None


def _json_where(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"line {e.lineno} column {e.colno}"
    return "not UTF-8 text"


def atomic_write(path: str, data: bytes, *, owner: Optional[tuple[int, int]] = None) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old file or the new, never half.

    The temp file is created 0600 (``O_EXCL``, never through a link) in the target's folder so
    that ``os.replace`` is a rename on one file system; the folder is fsynced so the rename
    survives a power cut. ``owner`` (uid, gid; -1 keeps one) is given to the temp file before it
    replaces ``path``. The temp file is removed on any failure.
    """
    folder = os.path.dirname(path) or "."
    fd, tmp = _create_temp(folder, os.path.basename(path))
    try:
        if owner is not None:
            _chown(fd, owner)
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


def _create_temp(folder: str, base: str) -> tuple[int, str]:
    # tempfile.mkstemp without importing tempfile (~3 ms, paid between Kakao's answer and the
    # moment waiters can adopt it). The name matches what _remove_stale_temps cleans up.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{base}.{os.urandom(8).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", folder)


def _chown(fd: int, owner: tuple[int, int]) -> None:
    uid, gid = owner
    try:
        os.fchown(fd, uid, gid)
    except PermissionError:
        if uid != -1:  # root keeping a user's file: must work, or the user is locked out
            raise
        # A user keeping a group they are not in: the file stays in their own group.


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
