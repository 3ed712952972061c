"""Where the access token may go, and how kapi's -401 is recognised: shared by both HTTP stacks.

The token only ever travels over HTTPS to the API host and port (../shared/KAKAO.md, "Hosts").
With ``KAKAO_KAPI_URL`` pointing elsewhere (tests, staging, the fake Kakao), URLs spelled
``https://kapi.kakao.com/...`` are routed there, so scripts run unchanged against the fake.
"""

from __future__ import annotations

import json
from typing import Optional
from urllib.parse import urlsplit

from ..config import KAPI_URL, origin
from ..errors import ConfigurationError

__all__ = ["ApiRoute", "is_invalid_token"]


class ApiRoute:
    """The API origin the token belongs to (``kapi_url``), and the check every request passes."""

    def __init__(self, kapi_url: str) -> None:
        self.kapi_url = kapi_url
        api = urlsplit(kapi_url)
        self._origin = (api.hostname, api.port or 443)
        self._reroute = kapi_url != KAPI_URL
        # The hot path: a URL that starts with the origin and a slash cannot name another host
        # (the authority ends at that slash), so it needs no parsing.
        self._prefix = kapi_url + "/"

    def allows(self, url: str) -> bool:
        """True when ``url`` may carry the token: HTTPS to the API host and port."""
        if url.startswith(self._prefix):
            return True
        try:
            parts = urlsplit(url)
            return parts.scheme == "https" and (parts.hostname, parts.port or 443) == self._origin
        except ValueError:  # a port that is not a number
            return False

    def check(self, url: str) -> str:
        """``url``, routed to ``kapi_url`` if it names kapi.kakao.com; refused if no token may go there."""
        if url.startswith(self._prefix):
            return url
        if self._reroute and url.startswith(KAPI_URL + "/"):
            url = self.kapi_url + url[len(KAPI_URL) :]
        if not self.allows(url):
            raise ConfigurationError(
                f"refusing to send the Kakao access token to {origin(url)}: "
                f"it only goes to {self.kapi_url} over HTTPS"
            )
        return url


def is_invalid_token(www_authenticate: Optional[str], body: bytes) -> bool:
    """Whether a 401 is kapi's "this token is expired or unknown" (-401), worth one refresh."""
    if "invalid_token" in (www_authenticate or ""):
        return True
    if len(body) > 64 * 1024:
        return False
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("code") == -401
