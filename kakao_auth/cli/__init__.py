"""``kakao-auth``, the command line: one module per command group, output formatting in one place.

main.py parses and dispatches (``COMMANDS``), options.py holds the shared options, login.py the
browser/paste login (with callback.py, its local server), stored.py the commands on the stored
login, api.py ``api`` and ``memo``, output.py what reaches the terminal, inputs.py what is read
from it, demo.py the offline story against the fake Kakao (imported only by ``demo``/``fake``).
"""

from __future__ import annotations

from .main import COMMANDS, build_parser, main, parse

__all__ = ["COMMANDS", "build_parser", "main", "parse"]
