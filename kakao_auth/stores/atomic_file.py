"""Replacing a file atomically: a reader without the lock always sees a whole file.

A unique temp file in the same folder, created 0600 without following a link, written and
fsynced, ``os.replace``d over the target, then the folder fsynced so the rename survives a power
cut. The replaced file keeps its owner and group when root writes a user's file, and a temp file
left by a writer killed mid-save is removed at the next save.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from typing import Optional

__all__ = ["CLOEXEC", "EUID", "NOFOLLOW", "atomic_write", "owner_to_keep", "remove_stale_temps", "trusted"]

EUID: Optional[int] = os.geteuid() if hasattr(os, "geteuid") else None
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def trusted(uid: int) -> bool:
    """Whether a file owned by ``uid`` may be followed or removed: this user's, or root's."""
    return EUID is None or uid in (EUID, 0)


def owner_to_keep(real: str) -> Optional[tuple[int, int]]:
    """The (uid, gid) the replaced file must keep, -1 for "as created"; None: nothing to keep."""
    try:
        info = os.stat(real)
    except OSError:
        return None
    if EUID == 0:
        return (info.st_uid, info.st_gid) if (info.st_uid, info.st_gid) != (0, 0) else None
    if EUID is not None and info.st_gid != os.getegid():
        return -1, info.st_gid
    return None


def remove_stale_temps(real: str) -> None:
    """Remove the temp files :func:`atomic_write` left for ``real`` when its writer died."""
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
                if stat.S_ISREG(info.st_mode) and trusted(info.st_uid):
                    os.remove(path)


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
    # moment waiters can adopt it). The name matches what remove_stale_temps cleans up.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC | getattr(os, "O_BINARY", 0)
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
