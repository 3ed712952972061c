"""The unlink webhook: Kakao tells the app that a user left, and the vault forgets their token.

Kakao calls the URL registered under Kakao Login > Unlink with GET or POST, the fields
``app_id``, ``user_id`` and ``referrer_type``, and ``Authorization: KakaoAK <admin key>`` when a
user deletes their Kakao account or unlinks the app from Kakao's side. It wants 200 within 3
seconds, even for a user the app does not know, counts a redirect as a failure, and turns the
callback off after a month of failures (../shared/KAKAO.md, "Logout, unlink, the unlink webhook").

So: the admin key is compared in constant time before anything else is read (a missing or wrong
key is 401 and nothing is deleted); another app's id is 400; a body over ``max_body`` is 413,
refused by its announced length before it is read, or as soon as it passes the limit; a valid
call deletes the user's token and answers 200, known user or not; no answer is ever a redirect.
The app's own ``on_unlink(user_id, referrer_type)`` runs after the delete in a thread of its
own, waited for at most ``hook_timeout`` seconds, so a slow hook cannot make Kakao's call fail.

:func:`unlink_wsgi_app` (Flask, Django, any WSGI server) and :func:`unlink_asgi_app` (FastAPI,
Starlette, any ASGI server) wrap one :class:`UnlinkWebhook`; neither needs a framework.
"""

from __future__ import annotations

import hmac
import logging
import math
import re
import threading
from collections.abc import Awaitable, Iterable, MutableMapping
from typing import Any, Callable, Optional, Union
from urllib.parse import parse_qs

from ..errors import ConfigurationError
from .vault import Vault

__all__ = ["MAX_BODY", "UnlinkWebhook", "unlink_asgi_app", "unlink_wsgi_app"]

log = logging.getLogger("kakao_auth")

MAX_BODY = 4096  # Kakao's form is three short fields: a few KiB is already far more
MAX_BODY_RANGE = (256, 65536)  # what max_body may be set to: Kakao's form fits, no flood does
HOOK_TIMEOUT = 1.0  # seconds the answer waits for the app's hook (Kakao allows 3 for all)
KAKAO_DEADLINE = 3.0  # Kakao counts a call unanswered after 3 s as failed
REFERRER_TYPES = frozenset(
    {"ACCOUNT_DELETE", "FORCED_ACCOUNT_DELETE", "UNLINK_FROM_APPS", "UNLINK_FROM_ADMIN", "INCOMPLETE_SIGN_UP"}
)
_SCHEME = b"kakaoak "
_DIGITS = re.compile(r"[0-9]{1,20}")
_REFERRER = re.compile(r"[A-Z_]{1,64}")
_ADMIN_KEY = re.compile(r"[\x21-\x7e]{1,512}")
_FIELDS = ("app_id", "user_id", "referrer_type")

Hook = Callable[[str, Optional[str]], Any]
Answer = tuple[int, str]
ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class UnlinkWebhook:
    """The webhook's logic, without a server: check the call, delete the user, run the hook.

    ``admin_key``: the app's admin key (Kakao Developers > App Keys), the one Kakao sends.
    ``app_id``: the app's id; calls for another app are refused. ``on_unlink``: called with the
    user id (str) and the ``referrer_type`` (or None) after the delete. A Django view can call
    :meth:`answer` itself; the WSGI and ASGI apps do.
    """

    def __init__(
        self,
        vault: Vault,
        *,
        admin_key: str,
        app_id: Union[int, str],
        on_unlink: Optional[Hook] = None,
        hook_timeout: float = HOOK_TIMEOUT,
        max_body: int = MAX_BODY,
    ) -> None:
        if not isinstance(admin_key, str) or not _ADMIN_KEY.fullmatch(admin_key):
            raise ConfigurationError("admin_key must be the app's admin key (Kakao Developers > App Keys)")
        if (
            not isinstance(app_id, (int, str))
            or isinstance(app_id, bool)
            or not _DIGITS.fullmatch(str(app_id))
        ):
            raise ConfigurationError("app_id must be the app's id (a number, Kakao Developers > App Keys)")
        self.vault = vault
        self.app_id = str(app_id)
        self.on_unlink = on_unlink
        self.hook_timeout = _hook_timeout(hook_timeout)
        self.max_body = _max_body(max_body)
        self._expected = _SCHEME + admin_key.encode()

    def __repr__(self) -> str:
        return f"UnlinkWebhook(app_id={self.app_id!r})"

    def refusal(self, method: str, authorization: bytes, length: Optional[int]) -> Optional[Answer]:
        """The answer to a call refused on its method, key or announced size; None to read on."""
        if method not in ("GET", "POST"):
            return 405, "only GET and POST"
        # The scheme's case is not significant (RFC 9110), the key's is.
        given = authorization[: len(_SCHEME)].lower() + authorization[len(_SCHEME) :]
        if not hmac.compare_digest(given, self._expected):
            return 401, "a valid Authorization: KakaoAK <admin key> is required"
        if length is not None and length > self.max_body:
            return 413, "the body is too large"
        return None

    def answer(self, method: str, authorization: bytes, query: bytes, body: bytes) -> Answer:
        """The whole call: ``(status, text)``. Deletes the user's token only for a valid call."""
        refused = self.refusal(method, authorization, len(body))
        if refused is not None:
            return refused
        fields = _fields(query, body if method == "POST" else b"")
        if fields is None:
            return 400, "app_id, user_id and referrer_type are expected once each, as a form"
        if fields.get("app_id") != self.app_id:
            return 400, "this webhook serves another app"
        user_id = fields.get("user_id", "")
        referrer = fields.get("referrer_type")
        if not _DIGITS.fullmatch(user_id) or (referrer is not None and not _REFERRER.fullmatch(referrer)):
            return 400, "user_id must be a Kakao user id"
        return self._unlink(user_id, referrer)

    def _unlink(self, user_id: str, referrer: Optional[str]) -> Answer:
        try:
            self.vault.delete(user_id)
        except Exception as e:  # the vault's own errors are typed; whatever it is, Kakao gets a 503
            log.error(
                "unlink webhook: the token of user %s could not be deleted (%s)", user_id, type(e).__name__
            )
            return 503, "the token could not be deleted; try again"
        log.info(
            "unlink webhook: user %s left (%s); their token is deleted",
            user_id,
            referrer or "no reason given",
        )
        if self.on_unlink is not None:
            self._run_hook(user_id, referrer)
        return 200, "OK"

    def _run_hook(self, user_id: str, referrer: Optional[str]) -> None:
        hook = self.on_unlink
        assert hook is not None

        def run() -> None:
            try:
                hook(user_id, referrer)
            except Exception as e:  # the app's code: logged by its type, the answer is still 200
                log.error("unlink webhook: on_unlink failed for user %s (%s)", user_id, type(e).__name__)

        worker = threading.Thread(target=run, name="kakao-unlink-hook", daemon=True)
        worker.start()
        worker.join(self.hook_timeout)
        if worker.is_alive():
            log.warning(
                "unlink webhook: on_unlink for user %s still runs after %gs; answering Kakao now",
                user_id,
                self.hook_timeout,
            )


def _hook_timeout(value: Any) -> float:
    """``hook_timeout`` as seconds under Kakao's 3: None or a nan would let a hook hold the answer."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (0 < value < KAKAO_DEADLINE) or not math.isfinite(value):
        raise ConfigurationError(
            f"hook_timeout must be a number of seconds above 0 and under {KAKAO_DEADLINE:g} (Kakao's limit)"
        )
    return float(value)


def _max_body(value: Any) -> int:
    low, high = MAX_BODY_RANGE
    if not isinstance(value, int) or isinstance(value, bool) or not (low <= value <= high):
        raise ConfigurationError(f"max_body must be a whole number of bytes from {low} to {high}")
    return value


def _fields(query: bytes, body: bytes) -> Optional[dict[str, str]]:
    """The call's fields from its query and form body; None when one comes twice or is not text."""
    try:
        parsed = [parse_qs(part.decode("utf-8"), strict_parsing=False) for part in (query, body)]
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, str] = {}
    for name in _FIELDS:
        values = [v for part in parsed for v in part.get(name, [])]
        if len(values) > 1:
            return None
        if values:
            fields[name] = values[0]
    return fields


def _content_length(value: Optional[Union[str, bytes]]) -> Optional[int]:
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return int(text) if text and text.isdigit() and len(text) < 19 else None


_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")]
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed"}
_REASONS.update({413: "Content Too Large", 503: "Service Unavailable"})


def _extra_headers(status: int) -> list[tuple[str, str]]:
    if status == 401:
        return [("WWW-Authenticate", "KakaoAK")]
    if status == 405:
        return [("Allow", "GET, POST")]
    return []


def unlink_wsgi_app(
    vault: Vault,
    *,
    admin_key: str,
    app_id: Union[int, str],
    on_unlink: Optional[Hook] = None,
    hook_timeout: float = HOOK_TIMEOUT,
    max_body: int = MAX_BODY,
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """The unlink webhook as a WSGI app (mount it at the URL registered with Kakao).

    Flask: ``DispatcherMiddleware(app.wsgi_app, {"/kakao/unlink": unlink_wsgi_app(...)})``.
    """
    webhook = UnlinkWebhook(
        vault,
        admin_key=admin_key,
        app_id=app_id,
        on_unlink=on_unlink,
        hook_timeout=hook_timeout,
        max_body=max_body,
    )

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status, text = _wsgi_answer(webhook, environ)
        body = text.encode()
        headers = [*_HEADERS, *_extra_headers(status), ("Content-Length", str(len(body)))]
        start_response(f"{status} {_REASONS.get(status, '')}", headers)
        return [body]

    return app


def _wsgi_answer(webhook: UnlinkWebhook, environ: dict[str, Any]) -> Answer:
    method = str(environ.get("REQUEST_METHOD", ""))
    authorization = str(environ.get("HTTP_AUTHORIZATION", "")).encode("latin-1", "replace")
    length = _content_length(environ.get("CONTENT_LENGTH"))
    refused = webhook.refusal(method, authorization, length)
    if refused is not None:
        return refused
    body = b""
    stream = environ.get("wsgi.input")
    if method == "POST" and stream is not None:
        # Without a length, reading is safe only from a server that ends the stream (PEP 3333).
        if length is not None:
            body = stream.read(length)
        elif environ.get("wsgi.input_terminated"):
            body = stream.read(webhook.max_body + 1)
    query = str(environ.get("QUERY_STRING", "")).encode("latin-1", "replace")
    return webhook.answer(method, authorization, query, body)


def unlink_asgi_app(
    vault: Vault,
    *,
    admin_key: str,
    app_id: Union[int, str],
    on_unlink: Optional[Hook] = None,
    hook_timeout: float = HOOK_TIMEOUT,
    max_body: int = MAX_BODY,
) -> ASGIApp:
    """The unlink webhook as an ASGI app.

    FastAPI/Starlette: ``app.add_route("/kakao/unlink", unlink_asgi_app(...), methods=["GET", "POST"])``.
    (``app.mount`` would answer ``/kakao/unlink`` with a redirect to ``/kakao/unlink/``, which Kakao
    counts as a failure.) The vault's delete and the hook run in a worker thread: the event loop
    never waits on them.
    """
    webhook = UnlinkWebhook(
        vault,
        admin_key=admin_key,
        app_id=app_id,
        on_unlink=on_unlink,
        hook_timeout=hook_timeout,
        max_body=max_body,
    )
    return _UnlinkASGI(webhook)


class _UnlinkASGI:
    """The ASGI app: an object, not a function, so Starlette's ``Route`` serves it as an ASGI app."""

    def __init__(self, webhook: UnlinkWebhook) -> None:
        self.webhook = webhook

    def __repr__(self) -> str:
        return f"unlink_asgi_app({self.webhook!r})"

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope.get("type") == "lifespan":
            return await _lifespan(receive, send)
        if scope.get("type") != "http":
            return None
        status, text = await _asgi_answer(self.webhook, scope, receive)
        body = text.encode()
        headers = [*_HEADERS, *_extra_headers(status), ("Content-Length", str(len(body)))]
        raw = [(name.lower().encode(), value.encode()) for name, value in headers]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


async def _asgi_answer(
    webhook: UnlinkWebhook, scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Any]]
) -> Answer:
    method = str(scope.get("method", ""))
    headers = {bytes(k).lower(): bytes(v) for k, v in scope.get("headers", [])}
    authorization = headers.get(b"authorization", b"")
    refused = webhook.refusal(method, authorization, _content_length(headers.get(b"content-length")))
    if refused is not None:
        return refused
    body = await _read_body(receive, webhook.max_body) if method == "POST" else b""
    if body is None:
        return 413, "the body is too large"
    query = bytes(scope.get("query_string", b""))
    return await _off_loop(lambda: webhook.answer(method, authorization, query, body))


async def _read_body(receive: Callable[[], Awaitable[Any]], limit: int) -> Optional[bytes]:
    """The request body, or None as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            return b"".join(chunks)  # the client went away: what came is all there is
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _off_loop(work: Callable[[], Answer]) -> Answer:
    """``work()`` in a worker thread: anyio's when installed (asyncio and trio), else asyncio's."""
    try:
        import anyio.to_thread
    except ImportError:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, work)
    return await anyio.to_thread.run_sync(work)


async def _lifespan(receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]) -> None:
    """Serve ASGI's lifespan protocol, so the app runs alone under a server too."""
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
