"""A fake GitHub REST API (Actions secrets) over HTTPS on loopback, with real libsodium crypto.

::

    with FakeKakao() as kakao, FakeGitHub(ca=kakao.ca, ca_bundle=kakao.ca_bundle) as gh:
        env = {**kakao.environ(), **gh.environ(), "GH_TOKEN": gh.writer_token}
        ...                                            # run the workflow's script with env
        assert gh.secrets["KAKAO_REFRESH_TOKEN"]       # the plaintext GitHub would hold

It serves ``GET /repos/{owner}/{repo}/actions/secrets/public-key`` (a real Curve25519 key) and
``PUT /repos/{owner}/{repo}/actions/secrets/{name}``, whose sealed box it opens with its private
key, keeping the plaintext in ``secrets`` for assertions (201 created, 204 updated; a PUT with
another key's id gets 422, as after :meth:`rotate_key`). A token from ``writer_token`` may read
the key and write; ``read_only_token`` (a token with "Secrets: Read-only") may read the key but
gets 403 on a PUT; ``reader_token`` (like a workflow's own GITHUB_TOKEN) gets 403; any other
token 401. Needs PyNaCl and trustme.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import tempfile
import threading
from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import urlsplit

from .net import Handler, TLSServer

__all__ = ["FakeGitHub"]

_ROUTE = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/actions/secrets/(?P<name>[^/]+)")


class FakeGitHub:
    """GitHub's Actions-secrets API for one repository, faked on a loopback HTTPS port.

    ``ca``/``ca_bundle``: a trustme CA (and its PEM file) to share with a FakeKakao, so that one
    ``REQUESTS_CA_BUNDLE`` trusts both; without them the fake makes its own.
    """

    def __init__(
        self, repository: str = "octo/kakao-cron", *, ca: Any = None, ca_bundle: Optional[str] = None
    ) -> None:
        from nacl.public import PrivateKey

        self.repository = repository
        self.writer_token = "github_pat_" + secrets.token_urlsafe(30)
        self.reader_token = "ghs_" + secrets.token_urlsafe(30)
        self.read_only_token = "github_pat_" + secrets.token_urlsafe(30)
        self.secrets: dict[str, str] = {}  # name -> plaintext, as GitHub would keep it
        self.key_reads = 0
        self.puts = 0
        self.changes = 0  # PUTs that changed a secret's plaintext (not a write of the same value)
        self.refused = 0
        self.fail_puts = 0  # answer the next PUTs with 502
        self.key_answer: Optional[bytes] = None  # the public key's answer instead (a hostile GitHub)
        self.key_id = str(secrets.randbelow(10**18))
        self._private = PrivateKey.generate()
        self._ca, self.ca_bundle = ca, ca_bundle
        self._tmp: Optional[tempfile.TemporaryDirectory[str]] = None
        self._lock = threading.Lock()
        self._server: Optional[TLSServer] = None
        self.api_url = ""

    def start(self) -> FakeGitHub:
        """Start the HTTPS server on a free loopback port."""
        if self._ca is None:
            import trustme

            self._ca = trustme.CA()
            self._tmp = tempfile.TemporaryDirectory(prefix="fake-github-")
            self.ca_bundle = f"{self._tmp.name}/fake-github-ca.pem"
            self._ca.cert_pem.write_to_path(self.ca_bundle)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = TLSServer(_GitHubHandler, self, context)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self.api_url = self._server.url
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FakeGitHub({self.repository!r}, api={self.api_url!r})"

    def environ(self) -> dict[str, str]:
        """What an Actions runner sets for a step (no token: pass ``GH_TOKEN`` yourself)."""
        env = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_API_URL": self.api_url,
        }
        if self.ca_bundle:
            env["REQUESTS_CA_BUNDLE"] = env["SSL_CERT_FILE"] = self.ca_bundle
        return env

    def rotate_key(self) -> None:
        """Replace the repository's key pair, as GitHub may at any time: old key ids get 422."""
        from nacl.public import PrivateKey

        with self._lock:
            self._private = PrivateKey.generate()
            self.key_id = str(secrets.randbelow(10**18))

    @property
    def public_key(self) -> str:
        """The repository's Actions public key, base64."""
        return base64.b64encode(bytes(self._private.public_key)).decode()

    # -- the API ---------------------------------------------------------------------------------

    def _answer(self, method: str, path: str, auth: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        match = _ROUTE.fullmatch(urlsplit(path).path)
        if match is None or match["repo"] != self.repository:
            return _json(404, {"message": "Not Found"})
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self._lock:
            if token not in (self.writer_token, self.reader_token, self.read_only_token):
                self.refused += 1
                return _json(401, {"message": "Bad credentials"})
            reading = match["name"] == "public-key" and method == "GET"
            if token == self.reader_token or (token == self.read_only_token and not reading):
                self.refused += 1
                return _json(403, {"message": "Resource not accessible by personal access token"})
            if reading:
                self.key_reads += 1
                if self.key_answer is not None:
                    return 200, {"Content-Type": "application/json"}, self.key_answer
                return _json(200, {"key_id": self.key_id, "key": self.public_key})
            if method == "PUT":
                return self._put(match["name"], body)
        return _json(405, {"message": "Method Not Allowed"})

    def _put(self, name: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        from nacl.public import SealedBox

        if self.fail_puts:
            self.fail_puts -= 1
            return _json(502, {"message": "Server Error"})
        data = _object(body)
        if data.get("key_id") != self.key_id or not isinstance(data.get("encrypted_value"), str):
            return _json(422, {"message": "Invalid request: key_id and encrypted_value are required"})
        try:
            plain = SealedBox(self._private).decrypt(base64.b64decode(data["encrypted_value"]))
        except Exception:
            return _json(422, {"message": "Bad encrypted_value"})
        self.puts += 1
        created = name not in self.secrets
        self.changes += self.secrets.get(name) != plain.decode()
        self.secrets[name] = plain.decode()
        return (201 if created else 204), {}, b""


def _object(body: bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _json(status: int, body: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class _GitHubHandler(Handler):
    def _serve(self) -> None:
        body = self._body()
        owner: FakeGitHub = self.server.owner
        self._reply(owner._answer(self.command, self.path, self.headers.get("Authorization", ""), body))

    do_GET = do_PUT = do_DELETE = _serve
