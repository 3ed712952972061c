"""Per-request cost of attaching the token, with a transport that answers at once (no network).

Each client sends N GETs to https://kapi.kakao.com/v2/user/me through an adapter (requests) or a
transport (httpx) that returns a canned 200, with trust_env off (no .netrc or proxy lookups), so
what is measured is the client's own work per request. Each stack has its own floor: a plain
client of that stack with a static Authorization header. Rounds are interleaved; the best round
of each client is reported, as microseconds per request and as a ratio to its stack's floor.

    python bench/overhead.py [--requests 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from typing import Any, Callable

import httpx
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kakao_auth import FileTokenStore, KakaoAuth, KakaoHttpxAuth, KakaoSession, Token

from common import table

URL = "https://kapi.kakao.com/v2/user/me"


class InstantAdapter(HTTPAdapter):
    """Answers every request with a canned 200 JSON body, without touching the network."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"id": 1}'
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[attr-defined]
        return response


def clients(token: dict[str, Any], path: str) -> dict[str, requests.Session]:
    from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
    from requests_oauthlib import OAuth2Session

    floor = requests.Session()
    floor.headers["Authorization"] = f"Bearer {token['access_token']}"
    with_auth = requests.Session()
    with_auth.auth = KakaoAuth.from_file(path)
    return {
        "requests + static header (floor)": floor,
        "kakao_auth KakaoAuth": with_auth,
        "kakao_auth KakaoSession": KakaoSession.from_file(path),
        "requests-oauthlib OAuth2Session": OAuth2Session("app", token=dict(token)),
        "Authlib OAuth2Session": AuthlibSession("app", token=dict(token)),
    }


def instant(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": 1})


def httpx_clients(token: Token, path: str) -> dict[str, Callable[[int], float]]:
    """The httpx rows: each a function timing N GETs, sync or async, on one client."""
    headers = {"Authorization": f"Bearer {token.access_token}"}
    transport, atransport = httpx.MockTransport(instant), httpx.MockTransport(instant)
    auth = KakaoHttpxAuth.from_file(path)
    plain = httpx.Client(transport=transport, headers=headers, trust_env=False)
    authed = httpx.Client(transport=transport, auth=auth, trust_env=False)
    aplain = httpx.AsyncClient(transport=atransport, headers=headers, trust_env=False)
    aauthed = httpx.AsyncClient(transport=atransport, auth=auth, trust_env=False)
    return {
        "httpx.Client + static header (floor)": lambda n: timed(plain, n),
        "kakao_auth KakaoHttpxAuth (httpx.Client)": lambda n: timed(authed, n),
        "httpx.AsyncClient + static header (floor)": lambda n: asyncio.run(atimed(aplain, n)),
        "kakao_auth KakaoHttpxAuth (httpx.AsyncClient)": lambda n: asyncio.run(atimed(aauthed, n)),
    }


def timed(session: Any, n: int) -> float:
    get: Callable[[str], Any] = session.get
    start = time.perf_counter()
    for _ in range(n):
        get(URL)
    return (time.perf_counter() - start) / n * 1e6


async def atimed(client: httpx.AsyncClient, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await client.get(URL)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kakao_token.json")
        now = time.time()
        token = Token(
            "a" * 43, expires_in=21599, expires_at=now + 21599, refresh_token="r" * 43, client_id="app"
        )
        FileTokenStore(path).save(token)
        sessions = clients(token.to_dict(now), path)
        runners: dict[str, Callable[[int], float]] = {}
        for name, session in sessions.items():
            # Without this, a session with no auth (the floor) reads ~/.netrc on every request
            # and proxies are looked up in the environment: requests' work, not the client's.
            session.trust_env = False
            session.mount("https://", InstantAdapter())
            runners[name] = lambda n, session=session: timed(session, n)  # type: ignore[misc]
        runners.update(httpx_clients(token, path))
        for run in runners.values():
            run(500)  # warm up
        best = {name: float("inf") for name in runners}
        for _ in range(args.rounds):
            for name, run in runners.items():
                best[name] = min(best[name], run(args.requests))
    rows = [["client", "us/request", "ratio to its floor"]]
    floor = 0.0
    for name, us in best.items():
        floor = us if name.endswith("(floor)") else floor
        rows.append([name, f"{us:.1f}", f"{us / floor:.3f}"])
    print(f"{args.requests} requests x {args.rounds} rounds, best round, Python {sys.version.split()[0]}")
    print(table(rows))


if __name__ == "__main__":
    main()
