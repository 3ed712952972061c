"""The user's own kapi paths: who is logged in, and the two ways to leave.

``GET /v2/user/me`` names the user (the command line's login greeting, WebLogin without an
id_token); ``POST /v1/user/logout`` revokes the user's tokens for the app, ``POST
/v1/user/unlink`` also disconnects the app (``kakao-auth logout [--unlink]``, vault/leave.py);
``GET /v2/user/scopes`` lists the consents given. One place for them, so that the command line,
the web wing and the vault to come call the same paths.
"""

from __future__ import annotations

from typing import Any

import requests

from ..errors import KakaoApiError
from .calls import call

__all__ = ["LOGOUT_PATH", "SCOPES_PATH", "UNLINK_PATH", "USER_ME_PATH", "consented_scopes"]

USER_ME_PATH = "/v2/user/me"
LOGOUT_PATH = "/v1/user/logout"
UNLINK_PATH = "/v1/user/unlink"
SCOPES_PATH = "/v2/user/scopes"


def consented_scopes(session: requests.Session, url: str) -> list[dict[str, Any]]:
    """``GET /v2/user/scopes`` at ``url`` as ``session``'s user: Kakao's ``scopes`` list.

    Bounded and typed (``calls.call``); an answer without a list is a :class:`KakaoApiError`,
    and items that are not objects are dropped.
    """
    response = call(session, "GET", url)
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        body = None
    listed = body.get("scopes") if isinstance(body, dict) else None
    if response.status_code != 200 or not isinstance(listed, list):
        raise KakaoApiError.from_answer(response.status_code, body)
    return [item for item in listed if isinstance(item, dict)]
