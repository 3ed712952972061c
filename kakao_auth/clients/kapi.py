"""What a session calls on kapi for its caller: a memo to oneself, the consents given.

Each call is the library's own, so it is bounded in time and size and every failure is typed
(``api.calls``), unlike the caller's own ``session.get``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import requests

from ..api import MEMO_PATH, SCOPES_PATH, consented_scopes, send, text_template

if TYPE_CHECKING:
    from .requests_auth import KakaoAuth

__all__ = ["KapiCalls"]


class KapiCalls(requests.Session):
    """``send_memo`` and ``scopes`` for a requests session whose ``kakao_auth`` holds the token."""

    kakao_auth: KakaoAuth

    def send_memo(
        self, text: str, *, link: Optional[str] = None, button: Optional[str] = None
    ) -> dict[str, Any]:
        """Send yourself a KakaoTalk message ("나와의 채팅"); return Kakao's answer.

        ``text``: at most 200 characters (longer text is refused before the call, never cut);
        ``link``: an http(s) URL to open (Kakao opens only domains registered for the app);
        ``button``: the button's title instead of "자세히 보기". Raises :class:`KakaoApiError`
        when Kakao refuses (-402: the ``talk_message`` consent is missing, and the message says
        which ``kakao-auth login --scope`` to run), :class:`KakaoUnavailable` when Kakao cannot be
        reached or is too slow (the call is bounded: 30 s, 64 KiB), :class:`ConfigurationError`
        when its certificate is not trusted here.
        """
        template = text_template(text, link=link, button=button)
        return send(self, self.kakao_auth.settings.kapi_url + MEMO_PATH, template)

    def scopes(self) -> list[dict[str, Any]]:
        """The consent items of this login (``GET /v2/user/scopes``): Kakao's ``scopes`` list.

        Each item is Kakao's dict (``id``, ``agreed``, ...). Bounded and typed like ``send_memo``.
        """
        return consented_scopes(self, self.kakao_auth.settings.kapi_url + SCOPES_PATH)
