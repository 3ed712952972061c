r"""The exceptions kakao_auth raises.

Everything the library raises on purpose is a :class:`KakaoAuthError`::

    KakaoAuthError                the root: catch this to catch everything
    ├── ConfigurationError        fix the setup: app key, URLs, redirect URI, where a token may go
    ├── KakaoUnavailable          try later: Kakao unreachable, too slow, 5xx, a garbled answer
    ├── TokenStoreError           the token store failed (lock wait exhausted, backend down)
    │   ├── TokenFileError        the token file is missing, unreadable or holds no usable token
    │   ├── TokenStoreConflict    a save was fenced off: the stored token changed since it was read
    │   └── TokenUpdaterFailed    KakaoSession's token_updater raised after a refresh or login
    ├── KakaoOAuthError           kauth.kakao.com answered a token request with an error (KOEnnn)
    │   ├── LoginRequired         invalid_grant: the login is gone, run `kakao-auth login`
    │   └── LoginDenied           the user cancelled at Kakao's login page (access_denied)
    ├── KakaoApiError             kapi.kakao.com refused a call (send_memo): its code and advice
    │   └── ConsentRequired       -402: a consent item is missing; ask for .required_scopes
    ├── IdTokenError              an id_token failed a check (signature, iss, aud, exp, nonce)
    └── LoginStateMismatch        a login callback that is not this login's (state), or replayed

A cron job that wants to tell "try again later" from "a person must act" catches
:class:`KakaoUnavailable` first. Whatever is raised, the token store is left as it was.

Messages never contain a token, a client secret or an authorization code: they name the file or
the Kakao error code (KOEnnn) and say what to do. Nor does the chain: an exception caused by a
transport failure is chained to a :class:`TransportFailure` that holds only the failure's type
name, never the original exception, whose request carries the refresh form (error reporters
such as Sentry walk ``__cause__`` and ``__context__``). Every exception pickles, so it survives
``multiprocessing`` and ``concurrent.futures``.

Someone else's text in a message (a path, a key, Kakao's description) keeps its characters but
cannot drive a terminal or forge a log line: :func:`one_line` writes the controls, their 8-bit
C1 twins, bidi overrides and line separators as escapes (``\x1b``, ``\u202e``).
"""

from __future__ import annotations

import re
from typing import Any, Optional

__all__ = [
    "ConfigurationError",
    "ConsentRequired",
    "IdTokenError",
    "KakaoApiError",
    "KakaoAuthError",
    "KakaoOAuthError",
    "KakaoUnavailable",
    "LoginDenied",
    "LoginRequired",
    "LoginStateMismatch",
    "TokenFileError",
    "TokenStoreConflict",
    "TokenStoreError",
    "TokenUpdaterFailed",
    "TransportFailure",
    "printable",
]

# Kakao's codes and tokens are long base64url strings; descriptions such as KOE320's
# "authorization code not found for code=..." can echo them back, so anything that long is hidden.
_SECRET_LIKE = re.compile(r"[A-Za-z0-9_\-.~+/=]{20,}")
# Within such a run, each part between slashes is judged alone: a path's or a URL's parts are kept
# (/v1/api/talk/friends, kapi.kakao.com, pytest-of-root), a token's are hidden.
_PART = re.compile(r"[^/]{20,}")
# A name people wrote: lower-case words of at most 12 characters between separators (a host, a
# folder, a file). A random token has capitals or a longer run; an admin key's 32 hex digits are
# one long word.
_NAME = re.compile(r"[a-z0-9]{1,12}(?:[-_.~+=][a-z0-9]{0,12})*[-_.~+=]?")

# What a client should do for each KOE code (../shared/KAKAO.md, "Errors from kauth"), and for
# the errors Kakao's authorize step redirects with (they carry no KOE code).
_ADVICE = {
    "KOE320": "The authorization code was reused, expired or unknown: run `kakao-auth login` again.",
    "KOE322": "The refresh token expired, was revoked or was rotated away: run `kakao-auth login`.",
    "KOE319": "No refresh token was sent: the token file has none; run `kakao-auth login`.",
    "KOE303": (
        "The redirect_uri differs from the one used at authorize: pass the same redirect URI to both steps."
    ),
    "KOE101": (
        "The app key (client id) is wrong: check KAKAO_REST_API_KEY (or `kakao-auth login --client-id`)."
    ),
    "KOE010": (
        "The client secret is missing or wrong: set KAKAO_CLIENT_SECRET (or `kakao-auth login "
        "--client-secret`) to the secret under Kakao Developers > My Application > Security."
    ),
    "KOE006": (
        "The redirect URI is not registered: add it under Kakao Developers > My Application > "
        "Kakao Login > Redirect URI."
    ),
    "access_denied": "The login was cancelled in the browser: run `kakao-auth login` again and agree.",
    "KOE237": (
        "Kakao's token rate limit was hit (too many token requests for this user): wait a few "
        "minutes; do not retry in a loop."
    ),
}


def printable(text: str, limit: int = 200, *, hide_tokens: bool = True) -> str:
    """``text`` made safe for a message: token-shaped runs hidden, control characters dropped.

    A hostile server or file could otherwise put a token, a newline or a terminal escape
    sequence into a message that reaches a log or a terminal. ``hide_tokens=False`` is for text
    that holds no secret but looks like one (a host name).
    """
    clean = "".join(c if c.isprintable() else " " for c in text[: limit * 4])
    if hide_tokens:
        clean = _SECRET_LIKE.sub(_hidden, clean)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def _hidden(run: re.Match[str]) -> str:
    """A token-shaped run with its token-like parts as ``***``: paths, hosts and ports stay."""
    if "+" in run.group():  # standard base64, whose "/" is no separator: all of it
        return "***"
    return _PART.sub(lambda part: part.group() if _NAME.fullmatch(part.group()) else "***", run.group())


class KakaoAuthError(Exception):
    """The root of every error kakao_auth raises.

    Its message names paths, URLs and keys from the environment or the command line: their
    control and bidi characters (newlines too) are escaped, so a message stays one line and
    cannot drive a terminal or forge a log line.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(one_line(a) if isinstance(a, str) else a for a in args))


class ConfigurationError(KakaoAuthError):
    """The setup is wrong: a missing app key, a URL that is not https, a host a token may not reach.

    Retrying cannot help; the message says what to change.
    """


class KakaoUnavailable(KakaoAuthError):
    """Kakao could not be reached or answered nothing usable: try again later.

    Raised for connection failures, timeouts (the whole exchange has a deadline), 5xx answers and
    garbled bodies, after the configured retries. The token store is unchanged.
    """


class TransportFailure(Exception):
    """The cause chained to a :class:`KakaoAuthError` that a transport failure led to.

    It holds the failure's type name only: the original exception (and the request, form and
    secrets it references) is dropped.
    """


class TokenStoreError(KakaoAuthError):
    """The token store could not be read, written or locked."""


class TokenFileError(TokenStoreError):
    """The token file is missing, unreadable, not JSON or holds no usable token.

    The file is never modified when this is raised.
    """

    def __init__(self, path: str, problem: str, hint: str = "run `kakao-auth login`") -> None:
        self.path = path
        self.problem = problem
        self.hint = hint
        super().__init__(f"token file {path}: {problem}; {hint}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problem, self.hint))


class TokenStoreConflict(TokenStoreError):
    """A save was refused because the stored token is no longer the one read under the lock.

    Raised by stores whose lock can lapse (Redis): a holder paused past its lock TTL must not
    overwrite the newer token saved meanwhile. The refresh path then adopts the stored token.
    """


class TokenUpdaterFailed(TokenStoreError):
    """``token_updater`` raised: the new token is in the store (or the session), not where it saves.

    The refresh or login itself succeeded; the exception's text is not kept (it could hold the
    token), only its type. ``where`` says where the new token is.
    """

    def __init__(self, name: str, where: str) -> None:
        super().__init__(f"token_updater failed ({name}): the new token {where}; fix the updater")


class KakaoOAuthError(KakaoAuthError):
    """kauth.kakao.com answered a token request with an error.

    Attributes: ``error`` (e.g. ``invalid_grant``), ``error_code`` (``KOEnnn`` or ``None``),
    ``description`` (Kakao's text, with anything token-shaped redacted) and ``status_code``.
    Classify by ``error`` and ``error_code``: Kakao says the description text may change.
    """

    def __init__(
        self,
        error: str,
        error_code: Optional[str] = None,
        description: Optional[str] = None,
        status_code: Optional[int] = None,
    ) -> None:
        self.error = error
        self.error_code = error_code
        self.description = printable(description) if description is not None else None
        self.status_code = status_code
        super().__init__(self._message())

    def _message(self) -> str:
        code = f"{self.error_code} " if self.error_code else ""
        status = f" (HTTP {self.status_code})" if self.status_code else ""
        advice = _ADVICE.get(self.error_code or self.error, self._default_advice())
        return f"Kakao refused the request: {code}{self.error}{status}. {advice}"

    def _default_advice(self) -> str:
        return f"Kakao said: {self.description}" if self.description else "See Kakao's error codes."

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.error, self.error_code, self.description, self.status_code)
        return (type(self), args)


class LoginRequired(KakaoOAuthError):
    """The refresh token is expired, revoked or rotated away (``invalid_grant``).

    The token file is kept as it was: only a new login (``kakao-auth login``) helps.
    """

    def _default_advice(self) -> str:
        return "The login is no longer valid: run `kakao-auth login` to log in again."


# What to do for kapi's error codes (../shared/KAKAO.md, "Errors from kapi").
_API_ADVICE = {
    -401: "the login is no longer valid: run `kakao-auth login`",
    -1: "a temporary error at Kakao: try again later",
    -10: "Kakao's quota for this app was reached: try again later",
    -9798: "Kakao is under maintenance: try again later",
}


class KakaoApiError(KakaoAuthError):
    """kapi.kakao.com refused a call: ``status_code``, Kakao's ``code`` and ``msg``.

    For -402 (a consent item is missing) ``required_scopes`` lists what to ask for, and the
    message gives the ``kakao-auth login --scope ...`` to run.
    """

    def __init__(
        self,
        status_code: int,
        code: Optional[int] = None,
        msg: Optional[str] = None,
        required_scopes: tuple[str, ...] = (),
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.msg = printable(msg, 120) if msg else None
        self.required_scopes = required_scopes
        super().__init__(self._message())

    def _message(self) -> str:
        said = f", code {self.code}" if self.code is not None else ""
        said += f": {self.msg.rstrip('. ')}" if self.msg else ""
        line = f"the API answered HTTP {self.status_code}{said}"
        if self.code == -402 and self.required_scopes:
            scopes = ", ".join(self.required_scopes)
            flags = " ".join(self.required_scopes)
            return f"{line}; missing consent: {scopes}. Run: kakao-auth login --scope {flags}"
        if self.code == -402:  # no usable list: say so rather than guess an item
            return (
                f"{line}; a consent item is missing and the answer does not say which: "
                "run kakao-auth login --scope with the items this call needs"
            )
        advice = _API_ADVICE.get(self.code) if self.code is not None else None
        return f"{line}; {advice}" if advice else line

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status_code, self.code, self.msg, self.required_scopes))

    @classmethod
    def from_answer(cls, status: int, body: Any) -> KakaoApiError:
        """The error for kapi's answer ``body`` (its JSON, or anything else) with ``status``."""
        if not isinstance(body, dict):
            return cls(status)
        code = body.get("code")
        msg = body.get("msg")
        scopes = _scope_ids(body.get("required_scopes"))
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        # -402 is its own type: a web app asks the user for just those scopes (WebLogin.begin).
        kind = ConsentRequired if code == -402 else cls
        return kind(
            status,
            code,
            msg if isinstance(msg, str) else None,
            scopes,
        )


# Kakao's consent item ids (talk_message, profile_nickname, openid) and how many an answer may list.
_SCOPE_ID = re.compile(r"[a-z0-9_]{1,64}")
MAX_REQUIRED_SCOPES = 50


def _scope_ids(listed: Any) -> tuple[str, ...]:
    """A -402 answer's ``required_scopes``, or () (unknown) when it is not a short list of ids."""
    if not isinstance(listed, list) or not 0 < len(listed) <= MAX_REQUIRED_SCOPES:
        return ()
    if not all(isinstance(s, str) and _SCOPE_ID.fullmatch(s) for s in listed):
        return ()  # from the API host: not to be shown, nor asked for, in part
    return tuple(dict.fromkeys(listed))


class ConsentRequired(KakaoApiError):
    """kapi answered -402: the user has not consented to a scope the call needs.

    ``required_scopes`` lists the consent items to ask for: a web app passes them to
    ``WebLogin.begin(scope=err.required_scopes)``, a script runs the ``kakao-auth login --scope``
    its message gives. The token in the store is kept: it still serves the calls it has scopes for.
    """


class LoginDenied(KakaoOAuthError):
    """The user cancelled at Kakao's login or consent page (``error=access_denied``).

    Nothing was saved; offer the login again.
    """

    def _message(self) -> str:
        return "the user cancelled the Kakao login (access_denied): nothing was saved; offer the login again"


class IdTokenError(KakaoAuthError):
    """An OpenID Connect id_token failed a check: ``check`` names which, the message says what to do.

    Raised by ``verify_id_token`` (and ``WebLogin.complete``): the login is refused and nothing is
    saved. Neither the message nor the exception's chain holds the token.
    """

    def __init__(self, check: str, problem: str) -> None:
        self.check = check
        self.problem = problem
        super().__init__(f"the id_token fails its {check} check: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.check, self.problem))


class LoginStateMismatch(KakaoAuthError):
    """A login callback that this login did not start: its ``state`` differs, or it came twice.

    A stale tab, a forged link (CSRF) or a replayed callback; nothing was exchanged or saved.
    Start the login again.
    """


# Everything but printable ASCII, newline and tab: the characters worth a look, fast.
_CANDIDATES = re.compile(r"[^\n\t -~]")
# The same, newline and tab included: for what must stay on one line (a message, a path in a log).
_CANDIDATES_IN_A_LINE = re.compile(r"[^ -~]")
# Controls, format characters (bidi, zero-width, tags), lone surrogates, line/paragraph separators.
_DRIVING = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def escape_driving(text: str) -> str:
    """``text`` with the characters that could drive a terminal written as Python escapes."""
    return _CANDIDATES.sub(_repr_escaped, text)


def one_line(text: str) -> str:
    """:func:`escape_driving`, newlines and tabs too: a message or a path that stays one line."""
    return _CANDIDATES_IN_A_LINE.sub(_repr_escaped, text)


def drives(c: str) -> bool:
    """Whether the character ``c`` could drive a terminal (a control, bidi, a line separator)."""
    import unicodedata  # here: imported only when a character outside printable ASCII shows up

    return unicodedata.category(c) in _DRIVING


def _repr_escaped(match: re.Match[str]) -> str:
    c = match.group()
    return repr(c)[1:-1] if drives(c) else c
