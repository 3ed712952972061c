"""Sending a KakaoTalk memo to oneself: the text template, checked before the call.

``POST /v2/api/talk/memo/default/send`` with the form field ``template_object``, the JSON of a
default template (Kakao's "Default template" docs, ../shared/KAKAO.md): ``object_type`` "text";
``text``, required, at most 200 characters; ``link``, required, an object with ``web_url``
and/or ``mobile_web_url`` (Kakao opens only domains registered under the app's Platform > Web;
``{}`` sends the message without a working link); ``button_title``, optional. Needs the
``talk_message`` consent item.

Text over 200 characters is refused (:class:`MemoTooLong`), never cut or split: one call sends
one message, and what arrives is what was written. The call itself is bounded and its every
failure typed (``calls.py``).
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any, Optional
from urllib.parse import urlsplit

import requests

from ..errors import ConfigurationError, KakaoApiError, printable
from .calls import call

__all__ = ["MAX_TEXT", "MEMO_PATH", "MemoTooLong", "send", "text_template"]

MEMO_PATH = "/v2/api/talk/memo/default/send"
MAX_TEXT = 200
MAX_BUTTON = 50


class MemoTooLong(ConfigurationError):
    """The memo's text is over Kakao's 200 characters: shorten it (or send several)."""


def text_template(text: str, *, link: Optional[str] = None, button: Optional[str] = None) -> str:
    """The ``template_object`` form value for a text memo; raises before any call if Kakao would refuse."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError("a memo needs some text")
    if len(text) > MAX_TEXT:
        raise MemoTooLong(
            f"the memo's text has {len(text)} characters; Kakao takes at most {MAX_TEXT}: shorten it, "
            "or send it as several memos"
        )
    template: dict[str, Any] = {"object_type": "text", "text": text, "link": _link(link)}
    if button is not None:
        if not button.strip() or len(button) > MAX_BUTTON or not button.isprintable():
            raise ConfigurationError(f"the button title must be 1 to {MAX_BUTTON} printable characters")
        template["button_title"] = button
    return json.dumps(template, ensure_ascii=False)


def send(session: requests.Session, url: str, template: str) -> dict[str, Any]:
    """Post the ``template_object`` ``template`` to ``url`` with ``session``'s auth; Kakao's answer.

    Bounded in time and size, every failure typed (``calls.call``); a refusal is a
    :class:`KakaoApiError` with Kakao's code and what to do.
    """
    response = call(session, "POST", url, data={"template_object": template})
    body = _json_body(response)
    if not response.ok or not isinstance(body, dict):
        raise KakaoApiError.from_answer(response.status_code, body)
    return body


def _json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        return None


def _link(link: Optional[str]) -> dict[str, str]:
    if link is None:
        return {}  # accepted by Kakao: a message without a working link
    if not isinstance(link, str):
        raise ConfigurationError(f"the memo's link must be a str, got {type(link).__name__}")
    _check_visible(link)
    try:
        parts = urlsplit(link)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok or any(c.isspace() for c in link):
        raise ConfigurationError(f"the memo's link must be an http(s) URL, got {printable(link)!r}")
    return {"web_url": link, "mobile_web_url": link}


def _check_visible(link: str) -> None:
    """Refuse a link holding a character that is not shown as itself.

    Controls and DEL, bidi overrides and marks (U+202A-202E, U+2066-2069, U+200E/F) and
    zero-width characters (U+200B-200D, U+2060, U+FEFF) make a link read as one place and open
    another. ``str.isprintable`` is false for all of them (Unicode's Other and Separator
    classes), and a URL has no use for any.
    """
    for c in link:
        if not c.isprintable() or c.isspace():
            what = unicodedata.name(c, "a control character")
            raise ConfigurationError(
                f"the memo's link holds U+{ord(c):04X} ({what}), a character that is not shown as "
                "itself (a link could read as one address and open another): remove it"
            )
