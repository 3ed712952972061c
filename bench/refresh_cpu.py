"""The processor time of one refresh in a long-running process, by the size of the CA bundle.

A bot or a back end refreshes every few hours, so each refresh opens a new connection to the
token endpoint; with a CA bundle named by path (``REQUESTS_CA_BUNDLE``, as Debian and most CI
images set it) urllib3 builds a new TLS context and parses the whole bundle for every new
connection. kakao_auth keeps one context per bundle (``kakao_auth/net/tls.py``). Compared: kakao_auth
(``KakaoAuth.refresh()``: the lock, the exchange, the atomic save) and requests-oauthlib's
``OAuth2Session.refresh_token`` plus the token_updater that saves the file, its pooled
connections closed before each refresh (hours apart, the server would have closed them).

The figure is the calling thread's processor time (``time.thread_time``), so the fake Kakao's
threads in this process are not counted; the token endpoint answers at once. Two bundles: the
fake's CA alone, and the fake's CA with certifi's bundle (some 120 CAs; Debian's has some 140).

    python bench/refresh_cpu.py [--refreshes 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import certifi
from kakao_auth import KakaoAuth
from kakao_auth.testing import FakeKakao

from common import oauthlib_file_session, table


def timed(refresh: Callable[[], object], count: int) -> list[float]:
    """The calling thread's processor seconds for each of ``count`` refreshes."""
    spent = []
    for _ in range(count):
        started = time.thread_time()
        refresh()
        spent.append(time.thread_time() - started)
    return spent


def kakao_auth_refresh(path: str) -> Callable[[], object]:
    auth = KakaoAuth.from_file(path, retries=0)
    return auth.refresh


def oauthlib_refresh(path: str) -> Callable[[], object]:
    session = oauthlib_file_session(path)

    def refresh() -> None:
        session.close()  # the pooled connection would be long dead, hours later
        token = session.refresh_token(session.auto_refresh_url, **session.auto_refresh_kwargs)
        session.token_updater(token)

    return refresh


CLIENTS = (("kakao_auth", kakao_auth_refresh), ("requests-oauthlib", oauthlib_refresh))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refreshes", type=int, default=30)
    args = parser.parse_args()
    rows = [["CA bundle", "client", "first (ms)", "median (ms)", "median / kakao_auth's"]]
    with FakeKakao() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.access_limit = fake.refresh_limit = None
        os.environ.update(fake.environ())
        with open(fake.ca_bundle, "rb") as f:
            fake_ca = f.read()
        with open(certifi.where(), "rb") as f:
            certifi_cas = f.read()
        bundles = {
            "the fake's CA (1)": fake_ca,
            f"+ certifi ({certifi_cas.count(b'BEGIN CERTIFICATE')})": fake_ca + certifi_cas,
        }
        for name, content in bundles.items():
            bundle = os.path.join(tmp, f"bundle-{len(content)}.pem")
            with open(bundle, "wb") as f:
                f.write(content)
            os.environ["REQUESTS_CA_BUNDLE"] = bundle
            results = {}
            for client, build in CLIENTS:
                path = os.path.join(tmp, f"{client}.json")
                fake.write_token_file(path)
                results[client] = timed(build(path), args.refreshes)
            ours = statistics.median(results["kakao_auth"])
            for client, spent in results.items():
                median = statistics.median(spent)
                rows.append(
                    [name, client, f"{spent[0] * 1000:.1f}", f"{median * 1000:.2f}", f"{median / ours:.2f}"]
                )
    print(f"{args.refreshes} refreshes per client and bundle, Python {sys.version.split()[0]}")
    print(table(rows))


if __name__ == "__main__":
    main()
