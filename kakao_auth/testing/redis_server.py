"""A throwaway ``redis-server`` on loopback, for tests of the Redis token store (yours too)."""

from __future__ import annotations

import signal
import socket
import subprocess
import tempfile
import time
from typing import Optional

from .net import free_port

__all__ = ["RedisServer"]


class RedisServer:
    """A throwaway ``redis-server`` (Debian's, on PATH) on a free loopback port.

    ``persistent=True`` keeps the data across :meth:`restart` (append-only file, fsync always).
    """

    def __init__(self, *, persistent: bool = False) -> None:
        self.persistent = persistent
        self._tmp = tempfile.TemporaryDirectory(prefix="kakao-auth-redis-")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> RedisServer:
        """Start the server and wait until it answers PING."""
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            self._tmp.name,
        ]
        argv += (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        )
        self._proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self._answers():
            if time.monotonic() > deadline or self._proc.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, as a restart or a crash of the host would)."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections hang, as with a stalled network."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Unfreeze a paused server (SIGCONT)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self.resume()
        self.stop()
        self._tmp.cleanup()
