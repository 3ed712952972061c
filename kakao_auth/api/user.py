"""The user's own kapi paths: who is logged in, and the two ways to leave.

``GET /v2/user/me`` names the user (the command line's login greeting, WebLogin without an
id_token); ``POST /v1/user/logout`` revokes the user's tokens for the app, ``POST
/v1/user/unlink`` also disconnects the app (``kakao-auth logout [--unlink]``, vault/leave.py);
``GET /v2/user/scopes`` lists the consents given. One place for them, so that the command line,
the web wing and the vault to come call the same paths.
"""

from __future__ import annotations

__all__ = ["LOGOUT_PATH", "SCOPES_PATH", "UNLINK_PATH", "USER_ME_PATH"]

USER_ME_PATH = "/v2/user/me"
LOGOUT_PATH = "/v1/user/logout"
UNLINK_PATH = "/v1/user/unlink"
SCOPES_PATH = "/v2/user/scopes"
