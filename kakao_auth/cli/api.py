"""``kakao-auth api`` and ``kakao-auth memo``: kapi called with the stored token, the answer printed.

A path (``/v2/user/me``) or a full kapi URL; form fields from ``-d KEY=VALUE`` or a file; the
call bounded (30 s, 8 MiB) and the answer printed as JSON whose text cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Optional

import requests

from ..config import KAPI_URL
from ..errors import ConfigurationError, KakaoApiError, KakaoAuthError, printable
from .inputs import read_field_file, read_stdin, text_argument
from .options import API_TIMEOUT, api_session, seconds_arg, store_of, text_arg
from .output import answer_text, fail


def api_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``kakao-auth api``."""
    p.usage = (
        "kakao-auth api [-h] [-v] [-d KEY=VALUE] [-f KEY=@FILE] [--timeout S] [--token-file F | --store S] "
        "[METHOD] PATH"
    )
    p.add_argument(
        "words",
        nargs="+",
        type=text_arg,
        metavar="METHOD PATH",
        help="e.g. /v2/user/me, POST /v1/user/logout, or a full https://kapi.kakao.com/... URL",
    )
    p.add_argument(
        "-d", "--data", action="append", type=text_arg, default=[], metavar="KEY=VALUE", help="a form field"
    )
    p.add_argument(
        "-f", "--field", action="append", default=[], metavar="KEY=@FILE", help="a form field from a file"
    )
    p.add_argument(
        "--timeout",
        type=seconds_arg,
        default=API_TIMEOUT,
        help=f"seconds for the whole call, the answer read to its end (default {API_TIMEOUT:g})",
    )


def cmd_api(args: argparse.Namespace) -> int:
    """Call the API host with the token and print the JSON answer."""
    method, path = _method_and_path(args.words)
    fields = dict(_pair(item, from_file=False) for item in args.data)
    fields.update(_pair(item, from_file=True) for item in args.field)
    method = method or ("POST" if fields else "GET")
    session = api_session(store_of(args), args.timeout)
    url = session.kakao_auth.settings.kapi_url + path
    response = session.request(method, url, data=fields or None, timeout=30)
    body = answer_body(response)
    print(answer_text(body, getattr(sys.stdout, "encoding", None)))
    if response.ok:
        return 0
    return fail(str(KakaoApiError.from_answer(response.status_code, body)))


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _method_and_path(words: list[str]) -> tuple[Optional[str], str]:
    usage = "usage: kakao-auth api [METHOD] PATH, e.g. kakao-auth api POST /v1/user/logout"
    if len(words) == 1:
        return None, _api_path(words[0], usage)
    if len(words) != 2:
        raise ConfigurationError(usage)
    method, path = words
    if method.upper() not in _METHODS:
        if path.upper() in _METHODS:
            raise ConfigurationError(f"the method comes first: kakao-auth api {path.upper()} {method}")
        raise ConfigurationError(f"unknown method {printable(method)!r} (use one of {', '.join(_METHODS)})")
    return method.upper(), _api_path(path, usage)


def _api_path(path: str, usage: str) -> str:
    # A full https://kapi.kakao.com/... URL works as well as its path.
    if path.startswith(KAPI_URL + "/"):
        path = path[len(KAPI_URL) :]
    if not path.startswith("/") or path.startswith("//"):
        raise ConfigurationError(f"{printable(path)!r} is not an API path: {usage}")
    return path


def _pair(item: str, *, from_file: bool) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise KakaoAuthError(f"expected KEY=VALUE, got {item!r}")
    if not from_file:
        return key, value
    if not value.startswith("@"):
        raise KakaoAuthError(f"-f takes KEY=@FILE, got {item!r}")
    return text_argument(key), read_field_file(value[1:])


def answer_body(response: requests.Response) -> Any:
    """An API answer's parsed JSON, else its text (an HTML error page, an empty body)."""
    try:
        return response.json()
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        return response.text


def memo_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``kakao-auth memo``."""
    p.add_argument(
        "text", type=text_arg, metavar="TEXT", help="at most 200 characters; - reads it from stdin"
    )
    p.add_argument(
        "--link",
        type=text_arg,
        metavar="URL",
        help="a web page the message opens (a domain registered for the app)",
    )
    p.add_argument(
        "--button", type=text_arg, metavar="TITLE", help='the button\'s title instead of "자세히 보기"'
    )


def cmd_memo(args: argparse.Namespace) -> int:
    """Send yourself a KakaoTalk message (the text template)."""
    text = read_stdin().strip() if args.text == "-" else args.text
    api_session(store_of(args)).send_memo(text, link=args.link, button=args.button)
    print("Sent to your KakaoTalk (나와의 채팅).")
    return 0
