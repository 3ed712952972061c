"""A cron job: send yourself a KakaoTalk message with the token saved by `kakao-auth login`.

    */30 * * * *  cd /home/me/bot && python send_memo.py "backup finished"

Any number of such jobs may share kakao_token.json: kakao_auth refreshes it once per expiry,
under a lock, and never loses a rotated refresh token.
"""

from __future__ import annotations

import json
import sys

from kakao_auth import KakaoSession, LoginRequired

SEND = "https://kapi.kakao.com/v2/api/talk/memo/default/send"


def send(text: str, token_file: str = "kakao_token.json") -> dict[str, object]:
    """Send ``text`` to yourself and return Kakao's answer."""
    session = KakaoSession.from_file(token_file)
    template = {"object_type": "text", "text": text, "link": {"web_url": "https://developers.kakao.com"}}
    response = session.post(SEND, data={"template_object": json.dumps(template)}, timeout=30)
    response.raise_for_status()
    answer: dict[str, object] = response.json()
    return answer


if __name__ == "__main__":
    try:
        print(send(" ".join(sys.argv[1:]) or "hello from cron"))
    except LoginRequired as e:
        sys.exit(f"{e}")
