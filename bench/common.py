"""What the benchmarks share: the requests-oauthlib file pattern users write today, and output."""

from __future__ import annotations

import json
import os
import statistics
from typing import Any

from requests_oauthlib import OAuth2Session


def oauthlib_file_session(token_file: str) -> OAuth2Session:
    """requests-oauthlib's documented auto-refresh, with a token_updater that saves the JSON file.

    This is what a careful user writes without kakao_auth: the refreshed token is saved (in place,
    without a lock, as the documentation's example does); nothing coordinates processes.
    """
    with open(token_file) as f:
        token = json.load(f)
    client_id = os.environ["KAKAO_REST_API_KEY"]

    def save(new: dict[str, Any]) -> None:
        with open(token_file, "w") as f:
            json.dump(new, f)

    return OAuth2Session(
        client_id,
        token=token,
        auto_refresh_url=os.environ["KAKAO_KAUTH_URL"] + "/oauth/token",
        auto_refresh_kwargs={"client_id": client_id},
        token_updater=save,
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
