"""GitHubSecretStore: a login kept in a GitHub Actions secret, with the rotated refresh token written back.

A scheduled workflow hands the secret to its step as an environment variable
(``env: KAKAO_REFRESH_TOKEN: ${{ secrets.KAKAO_REFRESH_TOKEN }}``): :meth:`load` reads it. Its
value is a bare refresh token (what users keep today; the access token is then unknown, so the
first use refreshes) or the JSON object this store writes. Secrets cannot be read back through
GitHub's API, so a run sees only what it was started with.

When Kakao rotates the refresh token (its last month), the old one dies at once: :meth:`save`
encrypts the new value with the repository's Actions public key (a libsodium sealed box) and
PUTs it (GitHub REST API, "Actions secrets"), or the next run fails with KOE322. It writes only
when the refresh token changed. Before a refresh that may rotate, :meth:`check_writable` proves
the write-back can work (the token can read the public key); if it cannot, Kakao is not called
and the old refresh token stays valid.

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

from .config import github, github_token_setting, require_https, secret_value
from .errors import ConfigurationError, TokenStoreError, printable
from .oauth import exchange
from .store import TokenStore, parse_token
from .token import Token

__all__ = ["GitHubSecretStore", "from_url"]

log = logging.getLogger("kakao_auth")

# GitHub: letters, digits and underscores; not starting with a digit or GITHUB_.
_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
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
        self._key: Optional[tuple[str, str]] = None  # (key_id, key), once read
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
        return self._current

    def _parse(self, value: str) -> Token:
        if value.startswith("{"):
            return parse_token(value.encode(), time.time(), self.error)
        try:
            # A bare refresh token: the access token is unknown, so it counts as expired.
            return Token("0", expires_at=0.0, refresh_token=value)
        except ValueError:
            raise self.error("holds neither a refresh token nor a token JSON object") from None

    # -- save -------------------------------------------------------------------------------

    def check_writable(self) -> None:
        current = self._current
        if current is not None and not _may_rotate(current):
            return  # over a month left: Kakao keeps the refresh token, nothing will be written
        self._public_key()

    def save(self, token: Token, *, previous: Optional[Token] = None) -> None:
        if previous is not None and previous.refresh_token == token.refresh_token:
            self._current = token  # Kakao kept the refresh token: the secret stays as it is
            return
        value = json.dumps(_stored_fields(token), separators=(",", ":"))
        self._put(value)
        self._current = token
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

    def _public_key(self) -> tuple[str, str]:
        if self._key is None:
            answer = self._request("GET", "/actions/secrets/public-key", "read the Actions public key")
            fields = answer if isinstance(answer, dict) else {}  # a list, a number: no key either
            key_id, key = fields.get("key_id"), fields.get("key")
            if not isinstance(key_id, str) or not isinstance(key, str):
                raise TokenStoreError(f"GitHub answered no usable public key for {self.repository}")
            self._key = (key_id, key)
        return self._key

    def _put(self, value: str) -> None:
        key_id, key = self._public_key()
        body = {"encrypted_value": seal(key, value), "key_id": key_id}
        try:
            self._request("PUT", f"/actions/secrets/{self.name}", "write the secret", body)
        except TokenStoreError as e:
            raise TokenStoreError(
                f"{e}. The new refresh token is lost with this run: run `kakao-auth login`, then "
                f"`kakao-auth copy kakao_token.json {self.location}`"
            ) from None

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
            if status < 500 and status != 429:
                raise self._refused(status, doing)
            failure = f"HTTP {status}"
        raise TokenStoreError(f"cannot {doing} of {self.repository} at {self.api_url} ({failure}); try again")

    def _refused(self, status: int, doing: str) -> ConfigurationError:
        if status in (401, 403, 404):
            advice = _TOKEN_ADVICE.format(repo=self.repository)
            return ConfigurationError(
                f"GitHub refused to {doing} of {self.repository} (HTTP {status}): {advice}"
            )
        return ConfigurationError(f"GitHub refused to {doing} of {self.repository} (HTTP {status})")

    def _headers(self) -> dict[str, str]:
        token = self._token or _gh_cli_token(self._in_actions)
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


def seal(public_key: str, value: str) -> str:
    """``value`` encrypted for GitHub with a libsodium sealed box, base64: ``encrypted_value``."""
    try:
        from nacl.encoding import Base64Encoder
        from nacl.public import PublicKey, SealedBox
    except ImportError:
        raise ConfigurationError("GitHubSecretStore needs PyNaCl: pip install 'kakao-auth[github]'") from None
    try:
        box = SealedBox(PublicKey(public_key.encode(), encoder=Base64Encoder))
    except (ValueError, TypeError) as e:  # nacl's own errors for a bad key subclass these
        raise TokenStoreError(f"GitHub's Actions public key is not usable ({type(e).__name__})") from None
    return base64.b64encode(box.encrypt(value.encode())).decode("ascii")


def from_url(url: str, *, client_id: Optional[str] = None) -> GitHubSecretStore:
    """The store a URL names: ``github://OWNER/REPO/NAME`` or ``github:NAME`` ($GITHUB_REPOSITORY)."""
    if url.startswith("github://"):
        parts = urlsplit(url)
        segments = [parts.netloc, *parts.path.strip("/").split("/")]
        if len(segments) != 3 or not all(segments):
            raise ConfigurationError(
                f"a GitHub store URL is github://OWNER/REPO/NAME, got {printable(url)!r}"
            )
        return GitHubSecretStore(segments[2], repository=f"{segments[0]}/{segments[1]}")
    name = url[len("github:") :]
    return GitHubSecretStore(name)


def _checked_name(name: str) -> str:
    if not _SECRET_NAME.fullmatch(name or "") or name.upper().startswith("GITHUB_"):
        raise ConfigurationError(
            f"{printable(name or '')!r} is not a GitHub secret name (letters, digits and _, "
            "not starting with a digit or GITHUB_)"
        )
    return name


def _checked_repository(repository: Optional[str]) -> str:
    if not repository:
        raise ConfigurationError(
            "no repository for the GitHub secret: use github://OWNER/REPO/NAME, or run inside "
            "GitHub Actions (it sets GITHUB_REPOSITORY)"
        )
    if not _REPOSITORY.fullmatch(repository):
        raise ConfigurationError(f"{printable(repository)!r} is not an OWNER/REPO name")
    return repository


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


def _gh_cli_token(in_actions: bool) -> Optional[str]:
    """``gh auth token`` on a user's machine (never inside Actions), or None."""
    import shutil
    import subprocess

    if in_actions or shutil.which("gh") is None:
        return None
    try:
        done = subprocess.run(["gh", "auth", "token"], capture_output=True, timeout=10)
        token = done.stdout.decode("ascii").strip()
        return github_token_setting(token, "gh auth token") if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, ConfigurationError):
        return None  # not logged in, or not a token: the caller says how to give one
