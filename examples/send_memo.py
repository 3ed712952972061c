"""A cron job that sends you a KakaoTalk message, with the login saved by `kakao-auth login`.

    */30 * * * *  cd /home/me/bot && python send_memo.py "backup finished"

Any number of such jobs may share kakao_token.json: kakao_auth refreshes it once per expiry and
never loses a rotated refresh token. A failure prints one line saying what to do, and exits 1.
"""

import sys
from typing import Optional

from kakao_auth import KakaoAuthError, KakaoSession


def send(text: str, token_file: Optional[str] = None) -> dict:
    """Send ``text`` to yourself; return Kakao's answer ({"result_code": 0}).

    Without ``token_file``, the login is where `kakao-auth login` saved it: KAKAO_TOKEN_STORE,
    else KAKAO_TOKEN_FILE, else ./kakao_token.json.
    """
    return KakaoSession.from_file(token_file).send_memo(text)


if __name__ == "__main__":
    try:
        send(" ".join(sys.argv[1:]) or "hello from cron")
    except KakaoAuthError as e:
        sys.exit(f"send_memo: {e}")
