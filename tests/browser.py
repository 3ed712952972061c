"""A stand-in browser for `kakao-auth login` tests, used through the BROWSER variable.

Like a real browser launcher it returns at once and browses in the background: it opens the
authorize URL at the fake Kakao, requests /favicon.ico from the callback server as browsers do,
then follows the redirect. FAKE_BROWSER=forge changes the state; FAKE_BROWSER=silent does nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import requests


def browse(url: str) -> None:
    mode = os.environ.get("FAKE_BROWSER", "normal")
    if mode == "silent":
        return
    authorize = requests.get(url, allow_redirects=False, timeout=30)
    location = authorize.headers["Location"]
    if mode == "forge":
        location = location.replace("state=", "state=forged")
    origin = location.split("/callback")[0]
    requests.get(origin + "/favicon.ico", timeout=30)
    requests.get(location, timeout=30)


if __name__ == "__main__":
    if len(sys.argv) == 2:  # the launcher: detach and return, as xdg-open does
        subprocess.Popen([sys.executable, __file__, sys.argv[1], "--browse"], start_new_session=True)
    else:
        browse(sys.argv[1])
