"""A throwaway PostgreSQL server on loopback, for tests of the SQL vault (yours too).

Debian's PostgreSQL (``/usr/lib/postgresql/<version>/bin``, package ``postgresql``) is started
with ``initdb`` + ``pg_ctl`` in a temporary folder on a free loopback port, with a password
(SCRAM) for TCP connections, the way :class:`RedisServer` starts redis-server. PostgreSQL refuses
to run as root: as root, it runs as the ``postgres`` user (``runuser``), in a folder it owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from typing import Optional

from .net import free_port

__all__ = ["PostgresServer", "find_postgres"]


def find_postgres() -> Optional[str]:
    """The folder of the newest installed PostgreSQL's ``initdb`` and ``pg_ctl``, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _version(path: str) -> float:
    try:
        return float(path.split("/")[-3])
    except ValueError:
        return 0.0


class PostgresServer:
    """A PostgreSQL server of its own on 127.0.0.1; ``url`` names its ``postgres`` database.

    ``database_url(name)`` names another database, :meth:`create_database` makes one.
    """

    def __init__(self, *, bin_dir: Optional[str] = None) -> None:
        found = bin_dir or find_postgres()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
        self.bin_dir = found
        self.password = secrets.token_hex(16)
        self.port = free_port()
        self._tmp = tempfile.mkdtemp(prefix="kakao-auth-postgres-")
        self.data = os.path.join(self._tmp, "data")
        self._as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        self.url = self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """The URL of the database ``name`` on this server (user ``postgres``, with the password)."""
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{name}"

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_root else []
        result = subprocess.run(
            [*prefix, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60
        )
        if result.returncode != 0:
            raise RuntimeError(f"{os.path.basename(argv[0])} failed: {result.stdout[-2000:]}")

    def start(self) -> PostgresServer:
        """Initdb (once), then start the server and wait until it accepts connections."""
        if not os.path.isdir(self.data):
            self._init()
        options = f"-p {self.port} -k {self._tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = os.path.join(self._tmp, "postgres.log")
        self._run(
            os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data, "-o", options, "-l", log, "-w", "start"
        )
        return self

    def _init(self) -> None:
        pwfile = os.path.join(self._tmp, "pw")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self._as_root:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self._tmp, user.pw_uid, user.pw_gid)
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        os.chmod(pwfile, 0o600)
        self._run(
            os.path.join(self.bin_dir, "initdb"),
            "-D",
            self.data,
            "-U",
            "postgres",
            "--pwfile",
            pwfile,
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        os.remove(pwfile)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as a crash would)."""
        self._run(os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop and start again on the same port, the data kept."""
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        """Create the database ``name`` (letters, digits, _) and return its URL."""
        if not name.replace("_", "a").isalnum():
            raise ValueError("a database name of letters, digits and _")
        self._run(
            os.path.join(self.bin_dir, "psql"),
            "-h",
            self._tmp,
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-q",
            "-c",
            f"CREATE DATABASE {name}",
        )
        return self.database_url(name)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self._tmp, ignore_errors=True)
