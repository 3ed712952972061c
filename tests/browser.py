"""A stand-in browser for `kakao-auth login` tests, used through the BROWSER variable.

Like a real browser launcher it returns at once and browses in the background: it opens the
authorize URL at the fake Kakao, requests /favicon.ico from the callback server as browsers do,
then follows the redirect. FAKE_BROWSER modes:

- forge: sends the redirect with another state, and nothing else;
- silent: does nothing;
- hostile: first opens an idle connection to the callback port (kept open), sends a bare
  ``/callback`` and one with a forged state, then the real redirect;
- blocking: like w3m over SSH, the launcher itself does not return (for 60 s) while it browses;
- ipv6: follows the redirect to ``localhost`` over ``::1``, as browsers try first.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import requests


def browse(url: str) -> None:
    mode = os.environ.get("FAKE_BROWSER", "normal")
    if mode == "silent":
        return
    authorize = requests.get(url, allow_redirects=False, timeout=30)
    location = authorize.headers["Location"]
    if mode == "forge":
        location = location.replace("state=", "state=forged")
    if mode == "ipv6":
        location = location.replace("//localhost:", "//[::1]:")
    origin = location.split("/callback")[0]
    idle = None
    if mode == "hostile":
        idle = socket.create_connection(("127.0.0.1", urlsplit(location).port or 80))
        assert requests.get(origin + "/callback", timeout=30).status_code == 400
        forged = location.replace("state=", "state=forged")
        assert requests.get(forged, timeout=30).status_code == 400
    requests.get(origin + "/favicon.ico", timeout=30)
    requests.get(location, timeout=30)
    if idle is not None:
        idle.close()


if __name__ == "__main__":
    if len(sys.argv) == 2 and os.environ.get("FAKE_BROWSER") == "blocking":
        # A terminal browser: the "launcher" is the browser, and stays. It lets go of the test's
        # output pipes, as a real one holds the terminal, not the caller's pipes.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        browse(sys.argv[1])
        time.sleep(60)
    elif len(sys.argv) == 2:  # the launcher: detach and return, as xdg-open does
        subprocess.Popen([sys.executable, __file__, sys.argv[1], "--browse"], start_new_session=True)
    else:
        browse(sys.argv[1])
