"""Single flight across real threads and real processes sharing one kakao_token.json."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import requests
from kakao_auth import KakaoAuth
from kakao_auth.testing import FakeKakao

from tests.conftest import run_workers

ME = "/v2/user/me"


def test_stampede_16_processes_x_4_threads_make_one_refresh(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    reports = run_workers(fake_kakao, token_file, processes=16, threads=4)
    assert [r["failed"] for r in reports] == [[]] * 16
    assert sum(r["ok"] for r in reports) == 64
    assert fake_kakao.token_calls == 1
    saved = json.loads(token_file.read_text())
    assert fake_kakao.access_token_alive(saved["access_token"])
    assert fake_kakao.refresh_token_alive(saved["refresh_token"])


def test_threads_across_many_expiries_of_2_second_tokens(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.access_ttl = 2
    fake_kakao.write_token_file(access_ttl=2)
    auths = [KakaoAuth.from_file(token_file) for _ in range(2)]  # two holders in one process
    failures: list[str] = []
    calls = [0]
    duration = 7.0
    stop = time.monotonic() + duration

    def work(auth: KakaoAuth) -> None:
        with requests.Session() as http:
            while time.monotonic() < stop:
                r = http.get(fake_kakao.kapi_url + ME, auth=auth)
                calls[0] += 1
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text}")

    threads = [threading.Thread(target=work, args=(auths[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert calls[0] > 100
    # A 2-second token is refreshed 0.2 s before expiry: about one refresh per 1.8 s, not per call.
    assert 2 <= fake_kakao.refresh_calls <= duration / 1.5 + 1
    assert fake_kakao.token_calls == fake_kakao.refresh_calls
