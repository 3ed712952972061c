"""Settings: explicit argument, then environment, then the token file, then Kakao's default.

The token file's part (its ``client_id``) is read at refresh time by ``refresh.py``; this module
resolves the rest. ``KAKAO_KAUTH_URL`` and ``KAKAO_KAPI_URL`` exist so that tests and staging
can point both hosts elsewhere (for example at ``kakao_auth.testing.FakeKakao``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Optional
from urllib.parse import SplitResult, urlsplit

from .errors import ConfigurationError, printable

__all__ = [
    "GITHUB_TOKEN_VARIABLES",
    "GitHubSettings",
    "Settings",
    "authorize_base",
    "browser_environment",
    "client_id_setting",
    "debug_requested",
    "env_client_id",
    "github",
    "github_token_setting",
    "in_github_actions",
    "origin",
    "require_https",
    "resolve",
    "seconds_setting",
    "secret_value",
    "store_location",
    "token_file_path",
    "vault_keys",
    "vault_location",
]

KAUTH_URL = "https://kauth.kakao.com"
KAPI_URL = "https://kapi.kakao.com"
TOKEN_FILE = "kakao_token.json"


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved settings; ``client_id``/``client_secret`` may still come from the file."""

    client_id: Optional[str]
    client_secret: Optional[str] = dataclasses.field(repr=False)
    kauth_url: str
    kapi_url: str


def resolve(
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    kauth_url: Optional[str] = None,
    kapi_url: Optional[str] = None,
) -> Settings:
    """Resolve each setting from its argument, else its environment variable, else the default."""
    return Settings(
        client_id=client_id_setting(client_id, "the client id") if client_id else env_client_id(),
        client_secret=_client_secret(client_secret),
        kauth_url=_https_base(kauth_url or _env("KAKAO_KAUTH_URL") or KAUTH_URL, "KAKAO_KAUTH_URL"),
        kapi_url=_https_base(kapi_url or _env("KAKAO_KAPI_URL") or KAPI_URL, "KAKAO_KAPI_URL"),
    )


def authorize_base() -> Optional[str]:
    """``KAKAO_AUTHORIZE_URL``: where the browser opens the authorize page, if not at kauth.

    For a fake Kakao whose https certificate a real browser refuses: the page carries no secret
    (the code goes to the redirect URI), so plain http is allowed there, on loopback only.
    """
    url = _env("KAKAO_AUTHORIZE_URL")
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        loopback = False
    if loopback and not any(c in url for c in "\r\n\t "):
        return url.rstrip("/")
    return _https_base(url, "KAKAO_AUTHORIZE_URL (http:// only on loopback)")


def token_file_path(path: Optional[os.PathLike[str] | str] = None) -> str:
    """The token file: ``path``, else ``KAKAO_TOKEN_FILE``, else ``./kakao_token.json``."""
    return os.fspath(path) if path is not None else _env("KAKAO_TOKEN_FILE") or TOKEN_FILE


def browser_environment() -> tuple[bool, bool]:
    """Whether ``BROWSER`` names a browser, and whether a display (X11 or Wayland) is set."""
    return bool(_env("BROWSER")), bool(_env("DISPLAY") or _env("WAYLAND_DISPLAY"))


def debug_requested() -> bool:
    """Whether ``KAKAO_AUTH_DEBUG`` asks for tracebacks and debug logs (the CLI's)."""
    return (_env("KAKAO_AUTH_DEBUG") or "0").lower() not in ("0", "false", "no", "off")


def env_client_id() -> Optional[str]:
    """The app's REST API key from ``KAKAO_REST_API_KEY``, if set (surrounding blanks dropped)."""
    value = _env("KAKAO_REST_API_KEY")
    # A secret pasted with its line's end is the key all the same.
    return client_id_setting(value.strip(), "KAKAO_REST_API_KEY") if value and value.strip() else None


def _client_secret(given: Optional[str]) -> Optional[str]:
    """The client secret given, else ``KAKAO_CLIENT_SECRET`` (blanks around it dropped), checked."""
    name, value = (
        ("the client secret", given) if given else ("KAKAO_CLIENT_SECRET", _env("KAKAO_CLIENT_SECRET"))
    )
    value = (value or "").strip() or None
    # Never shown: the message names where it came from, not what it is.
    if value is not None and not _SECRET.fullmatch(value):
        raise ConfigurationError(
            f"{name} is not a Kakao client secret (it has spaces or characters a secret cannot "
            "have): copy it again from the Kakao console (Security > Client Secret)"
        )
    return value


def client_id_setting(value: object, name: str) -> str:
    """``value`` if it can be a Kakao app key; else a ConfigurationError naming ``name``.

    Kakao's REST API keys are 32 hex digits; the token file takes the same characters as here.
    The key is printed (``status``) and sent: no control character or space gets that far.
    """
    if not isinstance(value, str) or not _CLIENT_ID.fullmatch(value):
        raise ConfigurationError(
            f"{name} is not a Kakao app key: use the app's REST API key from the Kakao console "
            "(letters and digits)"
        )
    return value


def store_location(location: Optional[os.PathLike[str] | str] = None) -> str:
    """The store: ``location``, else ``KAKAO_TOKEN_STORE``, else the token file's path."""
    if location is not None:
        return os.fspath(location)
    return _env("KAKAO_TOKEN_STORE") or token_file_path()


VAULT_URL = "sqlite:///kakao_tokens.db"


def vault_location(location: Optional[str] = None) -> str:
    """The token vault: ``location``, else ``KAKAO_TOKEN_VAULT``, else ``sqlite:///kakao_tokens.db``."""
    return location or _env("KAKAO_TOKEN_VAULT") or VAULT_URL


def vault_keys() -> Optional[str]:
    """``KAKAO_VAULT_KEY``: the vault's Fernet keys, comma separated (never shown), or None."""
    value = (_env("KAKAO_VAULT_KEY") or "").strip()
    return value or None


GITHUB_API_URL = "https://api.github.com"
# Where a GitHub token is read from (GH_TOKEN first), and where gh reads one for GitHub Enterprise.
GITHUB_TOKEN_VARIABLES = ("GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN")


@dataclasses.dataclass(frozen=True)
class GitHubSettings:
    """What a GitHub Actions run tells a step through its environment."""

    in_actions: bool  # GITHUB_ACTIONS=true: inside a workflow run
    repository: Optional[str]  # GITHUB_REPOSITORY, "owner/repo"
    api_url: str  # GITHUB_API_URL (another root on GitHub Enterprise Server)
    token: Optional[str] = dataclasses.field(repr=False)  # GH_TOKEN, else GITHUB_TOKEN


def github() -> GitHubSettings:
    """The GitHub settings from the environment (read when a GitHub store is built)."""
    return GitHubSettings(
        in_actions=_env("GITHUB_ACTIONS") == "true",
        repository=_env("GITHUB_REPOSITORY"),
        api_url=(_env("GITHUB_API_URL") or GITHUB_API_URL).rstrip("/"),
        token=_github_token(),
    )


def _github_token() -> Optional[str]:
    for name in GITHUB_TOKEN_VARIABLES[:2]:
        value = (_env(name) or "").strip()  # a secret pasted with its line's end is the token
        if value:
            return github_token_setting(value, name)
    return None


def github_token_setting(value: str, name: str) -> str:
    """``value`` if it can be a GitHub token (``ghp_...``, ``github_pat_...``); else a ConfigurationError.

    It goes into an ``Authorization`` header: a newline or a character outside ASCII would be
    refused there with a message that names neither the variable nor the fix.
    """
    if not _GITHUB_TOKEN.fullmatch(value):
        raise ConfigurationError(
            f"{name} is not a GitHub token (it has spaces, line breaks or other characters a "
            "token cannot have): copy the token again"
        )
    return value


def in_github_actions() -> bool:
    """Whether this process runs as a step of a GitHub Actions workflow."""
    return _env("GITHUB_ACTIONS") == "true"


def secret_value(name: str) -> Optional[str]:
    """The environment variable ``name``: how Actions hands a secret to a step (``env:``)."""
    return _env(name)


# A Bearer token's characters (RFC 6750's b64token): GitHub's of every kind are letters, digits, _.
_GITHUB_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{1,1024}=*")
# Printable ASCII without spaces: what a form field carries as is (Kakao's secrets are 32 letters).
_SECRET = re.compile(r"[\x21-\x7e]{1,512}")
# The characters a token file's client_id may have (token.py): 1 to 128 of them.
_CLIENT_ID = re.compile(r"[A-Za-z0-9_\-.]{1,128}")


def _env(name: str) -> Optional[str]:
    return os.environ.get(name) or None


def _https_base(url: str, name: str) -> str:
    return require_https(url, name).rstrip("/")


def seconds_setting(value: object, name: str, *, zero: bool = False) -> float:
    """``value`` as a finite number, > 0 (or >= 0 with ``zero``); else a ConfigurationError."""
    try:
        number = float(value)  # type: ignore[arg-type]  # anything: a number or its text
    except (TypeError, ValueError, OverflowError):
        number = float("nan")
    if not (0 <= number < float("inf") if zero else 0 < number < float("inf")):
        shown = printable(str(value), 40)
        raise ConfigurationError(f"{name} must be a finite number {'>= 0' if zero else '> 0'}, got {shown}")
    return number


def origin(url: str) -> str:
    """``url``'s scheme, host and port, fit for a message (not its user info, path or query).

    A URL with an ``@`` after its host (``https://user:pa/ss@host``: a password with ``/``, ``?``
    or ``#`` not percent-encoded) is not named at all: what a parser takes for its host or port
    there is a piece of the user info.
    """
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "a malformed URL"
    if "@" in parts.path + parts.query + parts.fragment:
        return "a URL with an @ after its host"
    return printable(f"{parts.scheme}://{parts.hostname or ''}{port}", hide_tokens=False)


def require_https(url: str, what: str) -> str:
    """Return ``url`` if it is an https:// URL with a host; tokens and codes never go over http.

    A user name or password (``user:pw@``) is refused too: kakao_auth never sends one (its
    requests carry only the headers it sets), so it could only leak, into a message or a log.
    """
    if "@" in url:
        # Only what follows the last @ is shown: before it is a password or a token, which may
        # hold a "/", "?" or "#" that a parser would take for the end of the host.
        scheme, _, rest = url.partition("://")
        shown = origin(f"{scheme}://{rest.rpartition('@')[2]}")
        raise ConfigurationError(
            f"{what} must not hold a user name, password or token (user:password@), got one "
            f"for {shown!r}: remove it"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "https" or not parts.hostname or any(c in url for c in "\r\n\t "):
        raise ConfigurationError(f"{what} must be an https:// URL, got {_shown_url(url, parts)!r}")
    return url


def _shown_url(url: str, parts: Optional[SplitResult]) -> str:
    """What a message may show of a refused URL: scheme, host and port; not userinfo or path.

    A URL's userinfo may hold a password and its path a token. A value without ``//`` (a bare
    ``kapi.kakao.com``) has no host to take apart: it is shown itself.
    """
    if parts is None:
        return "a malformed URL"
    if not parts.netloc:  # require_https refused any "@" before this is called
        return printable(url, 80)
    return origin(url)
