"""What kakao_auth knows of kapi: the host guard, the memo, the user's own paths, bounded calls.

route.py decides which requests a token may ride (kapi's host only, over HTTPS) and what a 401
means; memo.py builds and sends "나와의 채팅" messages; user.py names ``/v2/user/me`` and the
logout/unlink paths; calls.py bounds every call the library makes on its own (30 s, 64 KiB).
"""

from __future__ import annotations

from .calls import API_LIMIT, API_TIMEOUT, call
from .memo import MAX_TEXT, MEMO_PATH, MemoTooLong, send, text_template
from .route import ApiRoute, is_invalid_token
from .user import LOGOUT_PATH, SCOPES_PATH, UNLINK_PATH, USER_ME_PATH, consented_scopes

__all__ = [
    "API_LIMIT",
    "API_TIMEOUT",
    "LOGOUT_PATH",
    "MAX_TEXT",
    "MEMO_PATH",
    "SCOPES_PATH",
    "UNLINK_PATH",
    "USER_ME_PATH",
    "ApiRoute",
    "MemoTooLong",
    "call",
    "consented_scopes",
    "is_invalid_token",
    "send",
    "text_template",
]
