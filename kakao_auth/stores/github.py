"""GitHubSecretStore: a login kept in a GitHub Actions secret, with the rotated refresh token written back.

A scheduled workflow hands the secret to its step as an environment variable
(``env: KAKAO_REFRESH_TOKEN: ${{ secrets.KAKAO_REFRESH_TOKEN }}``): :meth:`load` reads it. Its
value is a bare refresh token (what users keep today; the access token is then unknown, so the
first use refreshes) or the JSON object this store writes. Secrets cannot be read back through
GitHub's API, so a run sees only what it was started with.

When Kakao rotates the refresh token (its last month), the old one dies at once: :meth:`save`
encrypts the new value with the repository's Actions public key (a libsodium sealed box) and
PUTs it (GitHub REST API, "Actions secrets"), or the next run fails with KOE322. It writes only
when the refresh token changed. Before a refresh that may rotate (under a month left, or an issue
time the secret does not tell), :meth:`check_writable` proves the write-back can work: the public
key must be a Curve25519 key, and the secret's current value is written back, sealed with it (a
token that can read secrets but not write them fails there). If it cannot, Kakao is not called
and the old refresh token stays valid. A PUT refused with 422 (the key rotated meanwhile) is
retried once with the key read again.

One run is one process: :meth:`lock` is in-process. Two runs must not refresh at once; a
workflow-level ``concurrency:`` group queues them (see examples/github-actions.yml).
Needs PyNaCl: ``pip install 'kakao-auth[github]'``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, Optional
from urllib.parse import quote, urlsplit

from ..config import (
    GITHUB_TOKEN_VARIABLES,
    github,
    github_token_setting,
    origin,
    require_https,
    secret_value,
)
from ..errors import ConfigurationError, TokenStoreError, printable
from ..net import exchange
from ..token import Token
from .base import TokenStore, parse_token

__all__ = ["GitHubSecretStore", "from_url"]

log = logging.getLogger("kakao_auth")

# GitHub: letters, digits and underscores; not starting with a digit or GITHUB_.
_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
# GitHub's rules: an owner is letters, digits and single inner hyphens, at most 39; a repository
# is letters, digits, ".", "_" and "-", at most 100, never "." or ".." (a path rewrite in the URL).
_OWNER = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}")
_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
# What GitHub answers for a key_id (digits today): no space, slash or control character.
_KEY_ID = re.compile(r"[A-Za-z0-9_.=+-]{1,128}")
_KEY_BYTES = 32  # a Curve25519 public key
_API_VERSION = "2022-11-28"
TIMEOUT = 10.0
ATTEMPTS = 3
# Kakao rotates the refresh token once it has under a month left (../shared/KAKAO.md).
_TOKEN_ADVICE = (
    "create a fine-grained personal access token with the repository permission "
    '"Secrets: Read and write" on {repo}, save it as a repository secret (e.g. GH_PAT) and pass it '
    "to the step as `GH_TOKEN: ${{{{ secrets.GH_PAT }}}}` (the workflow's own GITHUB_TOKEN cannot "
    "write secrets)"
)
_FINE_GRAINED = 'give the fine-grained token the repository permission "Secrets: Read and write" on {repo}'
_CLASSIC = "give the classic token (or gh's) the `repo` scope (`gh auth refresh --scopes repo`)"


class _KeyRejected(Exception):
    """GitHub answered a PUT with 422: the sealed value did not match its key (rotated?)."""


class GitHubSecretStore(TokenStore):
    """A Kakao login in the GitHub Actions secret ``name`` of ``repository``.

    ``repository`` (``owner/repo``) defaults to ``$GITHUB_REPOSITORY``, ``api_url`` to
    ``$GITHUB_API_URL`` (else https://api.github.com), ``token`` to ``$GH_TOKEN``, else
    ``$GITHUB_TOKEN``, else (outside Actions) ``gh auth token``.
    """

    def __init__(
        self,
        name: str,
        *,
        repository: Optional[str] = None,
        api_url: Optional[str] = None,
        token: Optional[str] = None,
    ) -> None:
        settings = github()
        self.name = _checked_name(name)
        self.repository = _checked_repository(repository or settings.repository)
        self.api_url = require_https(api_url or settings.api_url, "the GitHub API URL").rstrip("/")
        self._token = github_token_setting(token, "token=") if token else settings.token
        self._in_actions = settings.in_actions
        self._current: Optional[Token] = None  # what this run holds: loaded, then saved
        self._value: Optional[str] = None  # the secret's plaintext as this run knows it
        self._dated = True  # False: the secret does not say when its refresh token was issued
        self._proven = False  # this run wrote the secret: the token can write it
        self._key: Optional[tuple[str, bytes]] = None  # (key_id, key), once read and checked
        self._lock = threading.RLock()

    @property
    def location(self) -> str:
        return f"github://{self.repository}/{self.name}"

    # -- load -------------------------------------------------------------------------------

    def load(self) -> Token:
        if self._current is not None:  # saved by this run: the environment still has the old one
            return self._current
        value = secret_value(self.name)
        if not value or not value.strip():
            raise TokenStoreError(
                f"the environment has no {self.name}: add `{self.name}: ${{{{ secrets.{self.name} }}}}` "
                f"under the step's env: (and set the secret with `kakao-auth copy kakao_token.json "
                f"{self.location}`)"
            )
        self._current = self._parse(value.strip())
        self._value = value
        return self._current

    def _parse(self, value: str) -> Token:
        if value.startswith("{"):
            token = parse_token(value.encode(), time.time(), self.error)
            # Only the JSON this store writes dates the refresh token (an absolute expiry); the
            # tutorial's relative one counts from an unknown moment, not from this run.
            self._dated = isinstance(json.loads(value).get("refresh_token_expires_at"), (int, float))
            return token
        try:
            # A bare refresh token: the access token is unknown, so it counts as expired. "0" is
            # a placeholder, never sent: masking.py masks real secrets only.
            token = Token("0", expires_at=0.0, refresh_token=value)
        except ValueError:
            raise self.error("holds neither a refresh token nor a token JSON object") from None
        self._dated = False
        return token

    # -- save -------------------------------------------------------------------------------

    def check_writable(self) -> None:
        """Prove, before Kakao is asked, that a rotated refresh token could be written back.

        The public key is read and checked; then the secret's current value is written back,
        sealed with it: GitHub has no call that tells whether a token may write secrets, so the
        proof is a write that changes nothing. Without a current value (a first ``copy`` or
        ``login``), the key is checked only.
        """
        current = self._current
        if current is not None and self._dated and not _may_rotate(current):
            return  # over a month left: Kakao keeps the refresh token, nothing will be written
        self._public_key()
        if self._value is not None and not self._proven:
            self._put(self._value, proving=True)
            self._proven = True

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        if previous is not None and previous.refresh_token == token.refresh_token:
            self._current = token  # Kakao kept the refresh token: the secret stays as it is
            return
        value = json.dumps(_stored_fields(token), separators=(",", ":"))
        self._put(value)
        self._current, self._value, self._dated, self._proven = token, value, True, True
        log.info("wrote the new refresh token back to the secret %s", self.location)

    def delete(self) -> None:
        self._request("DELETE", f"/actions/secrets/{self.name}", "delete the secret")
        self._current = None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        # One run is one process; runs are kept apart by the workflow's concurrency group.
        if not self._lock.acquire(timeout=60):
            raise TokenStoreError(f"timed out waiting for the in-process lock of {self.location}")
        try:
            yield
        finally:
            self._lock.release()

    # -- GitHub's REST API ----------------------------------------------------------------------

    def _public_key(self) -> tuple[str, bytes]:
        if self._key is None:
            answer = self._request("GET", "/actions/secrets/public-key", "read the Actions public key")
            self._key = self._checked_key(answer)
        return self._key

    def _checked_key(self, answer: Any) -> tuple[str, bytes]:
        """GitHub's answer as (key_id, 32 key bytes); a TokenStoreError for anything else."""
        fields = answer if isinstance(answer, dict) else {}  # a list, a number: no key either
        key_id, key = fields.get("key_id"), fields.get("key")
        if not isinstance(key_id, str) or not isinstance(key, str):
            raise TokenStoreError(f"GitHub answered no usable public key for {self.repository}")
        try:
            raw = base64.b64decode(key.encode("ascii"), validate=True)
        except ValueError:  # binascii.Error, UnicodeEncodeError
            raw = b""
        if not _KEY_ID.fullmatch(key_id) or len(raw) != _KEY_BYTES or not any(raw):
            # A short, zero or garbled key would fail only at the write-back, after Kakao rotated.
            raise TokenStoreError(
                f"GitHub answered a public key for {self.repository} that is not a Curve25519 key "
                f"(32 bytes, base64, with a key id): check GITHUB_API_URL ({origin(self.api_url)})"
            )
        return key_id, raw

    def _put(self, value: str, *, proving: bool = False) -> None:
        try:
            try:
                self._put_sealed(value)
            except _KeyRejected:
                self._key = None  # rotated since it was read: read it again, once
                try:
                    self._put_sealed(value)
                except _KeyRejected:
                    raise TokenStoreError(
                        f"GitHub refused the sealed secret {self.name} twice (HTTP 422)"
                    ) from None
        except TokenStoreError as e:
            if proving:
                raise
            raise TokenStoreError(
                f"{e}. The new refresh token is lost with this run: run `kakao-auth login`, then "
                f"`kakao-auth copy kakao_token.json {self.location}`"
            ) from None

    def _put_sealed(self, value: str) -> None:
        key_id, key = self._public_key()
        body = {"encrypted_value": seal(key, value), "key_id": key_id}
        self._request("PUT", f"/actions/secrets/{self.name}", "write the secret", body)

    def _request(self, method: str, path: str, doing: str, body: Optional[dict[str, str]] = None) -> Any:
        url = f"{self.api_url}/repos/{quote(self.repository, safe='/')}{path}"
        failure = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(0.5 * 2 ** (attempt - 1))
            outcome = exchange(method, url, TIMEOUT, json=body, headers=self._headers())
            if isinstance(outcome, str):
                failure = outcome
                continue
            status, content = outcome
            if status < 300:
                return _json_or_empty(content)
            if status == 422 and method == "PUT":
                raise _KeyRejected()
            if status < 500 and status != 429:
                raise self._refused(status, doing, method)
            failure = f"HTTP {status}"
        raise TokenStoreError(
            f"cannot {doing} of {self.repository} at {origin(self.api_url)} ({failure}); try again"
        )

    def _refused(self, status: int, doing: str, method: str) -> ConfigurationError:
        if method == "PUT" and status in (403, 404) and self._key is not None:
            # It read the key (secrets: read) but may not write: say which permission is missing.
            return ConfigurationError(
                f"GitHub refused to {doing} {self.name} of {self.repository} (HTTP {status}): the "
                f"GitHub token can read the repository's secrets but not write them; "
                + _write_advice(self._token or "", self.repository)
            )
        if status in (401, 403, 404):
            advice = _TOKEN_ADVICE.format(repo=self.repository)
            return ConfigurationError(
                f"GitHub refused to {doing} of {self.repository} (HTTP {status}): {advice}"
            )
        return ConfigurationError(f"GitHub refused to {doing} of {self.repository} (HTTP {status})")

    def _headers(self) -> dict[str, str]:
        token = self._token or _gh_cli_token(self._in_actions, self.api_url)
        if not token:
            raise ConfigurationError(
                f"no GitHub token to write the secret {self.name}: set GH_TOKEN ("
                + _TOKEN_ADVICE.format(repo=self.repository)
                + "), or log in with the GitHub CLI (`gh auth login`)"
            )
        self._token = token
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": _API_VERSION,
        }


def seal(public_key: bytes, value: str) -> str:
    """``value`` encrypted for GitHub with a libsodium sealed box, base64: ``encrypted_value``.

    ``public_key`` is the key's 32 raw bytes. Every failure is a typed error that holds
    neither the value nor PyNaCl's words.
    """
    try:
        from nacl.public import PublicKey, SealedBox
    except ImportError:
        raise ConfigurationError("GitHubSecretStore needs PyNaCl: pip install 'kakao-auth[github]'") from None
    failure = ""
    try:
        sealed = SealedBox(PublicKey(public_key)).encrypt(value.encode())
    except Exception as e:  # nacl's CryptoError, ValueError, TypeError: a key libsodium refuses
        failure = type(e).__name__
    if failure:  # raised outside the except block: no __context__ leads to PyNaCl's exception
        raise TokenStoreError(f"GitHub's Actions public key is not usable ({failure})")
    return base64.b64encode(sealed).decode("ascii")


def from_url(url: str, *, client_id: Optional[str] = None) -> GitHubSecretStore:
    """The store a URL names: ``github://OWNER/REPO/NAME`` or ``github:NAME`` ($GITHUB_REPOSITORY).

    The scheme is case-insensitive. A URL with an ``@`` is refused unseen: names on GitHub have
    none, so it holds a user name or password (the GitHub token comes from ``GH_TOKEN``).
    """
    if "@" in url:
        raise ConfigurationError(
            "a GitHub store URL holds no user name, password or token (user:password@): use "
            "github://OWNER/REPO/NAME and pass the GitHub token in GH_TOKEN"
        )
    scheme, _, rest = url.partition(":")
    if scheme.lower() != "github":
        raise ConfigurationError(f"a GitHub store URL starts with github:, got {printable(url)!r}")
    if rest.startswith("//"):
        segments = rest[2:].rstrip("/").split("/")
        if len(segments) != 3 or not all(segments):
            raise ConfigurationError(
                f"a GitHub store URL is github://OWNER/REPO/NAME, got {printable(url)!r}"
            )
        return GitHubSecretStore(segments[2], repository=f"{segments[0]}/{segments[1]}")
    return GitHubSecretStore(rest)


def _checked_name(name: str) -> str:
    if not _SECRET_NAME.fullmatch(name or "") or name.upper().startswith("GITHUB_"):
        raise ConfigurationError(
            f"{printable(name or '')!r} is not a GitHub secret name (letters, digits and _, "
            "not starting with a digit or GITHUB_)"
        )
    if name.upper() in GITHUB_TOKEN_VARIABLES:
        # Its value is the GitHub token: it would be posted to Kakao as a refresh token.
        raise ConfigurationError(
            f"{name} holds the GitHub token, not the Kakao login: name the secret that holds the "
            "Kakao refresh token (e.g. github:KAKAO_REFRESH_TOKEN)"
        )
    return name


def _checked_repository(repository: Optional[str]) -> str:
    if not repository:
        raise ConfigurationError(
            "no repository for the GitHub secret: use github://OWNER/REPO/NAME, or run inside "
            "GitHub Actions (it sets GITHUB_REPOSITORY)"
        )
    owner, _, repo = repository.partition("/")
    if not (
        _OWNER.fullmatch(owner) and len(owner) <= 39 and _REPO.fullmatch(repo) and repo not in (".", "..")
    ):
        raise ConfigurationError(
            f"{printable(repository)!r} is not an OWNER/REPO name (owner: letters, digits and single "
            "hyphens; repository: letters, digits, '.', '_' and '-', not '.' or '..')"
        )
    return repository


def _write_advice(token: str, repository: str) -> str:
    if token.startswith("github_pat_"):
        return _FINE_GRAINED.format(repo=repository)
    if token.startswith(("ghp_", "gho_")):
        return _CLASSIC
    return f"{_FINE_GRAINED.format(repo=repository)}, or {_CLASSIC}"


def _may_rotate(token: Token) -> bool:
    return token.refresh_token_expires_at is None or token.renews_at_next_refresh(time.time())


def _stored_fields(token: Token) -> dict[str, Any]:
    # The client secret is a secret of its own (KAKAO_CLIENT_SECRET): not copied into this one.
    data = token.to_dict(time.time())
    data.pop("client_secret", None)
    return data


def _json_or_empty(content: bytes) -> Any:
    if not content:
        return {}
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return {}


def _gh_hostname(api_url: str) -> str:
    """The host ``gh`` knows for the API at ``api_url``: its token is the one to send there.

    api.github.com is github.com's; GitHub Enterprise Server's API root is
    ``https://HOST/api/v3``; GHE.com's is ``https://api.SUBDOMAIN.ghe.com``.
    """
    parts = urlsplit(api_url)
    host = (parts.hostname or "").lower()
    if parts.path.rstrip("/") != "/api/v3" and (host == "api.github.com" or host.endswith(".ghe.com")):
        host = host[len("api.") :] if host.startswith("api.") else host
    return f"{host}:{parts.port}" if parts.port else host


def _gh_cli_token(in_actions: bool, api_url: str) -> Optional[str]:
    """``gh auth token`` for the API's host on a user's machine (never inside Actions), or None."""
    import shutil
    import subprocess

    if in_actions or shutil.which("gh") is None:
        return None
    argv = ["gh", "auth", "token", "--hostname", _gh_hostname(api_url)]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        token = done.stdout.decode("ascii").strip()
        return github_token_setting(token, "gh auth token") if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, ConfigurationError):
        return None  # not logged in, or not a token: the caller says how to give one
