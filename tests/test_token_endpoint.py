"""The token endpoint under attack: no redirect followed, every fault typed and bounded, no secret
reachable from an exception (issue #8, points 1 and 2)."""

from __future__ import annotations

import contextlib
import http.server
import os
import pickle
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Callable

import pytest
import requests
import trustme
from kakao_auth import (
    ConfigurationError,
    KakaoAuth,
    KakaoOAuthError,
    KakaoSession,
    KakaoUnavailable,
)
from kakao_auth.errors import TransportFailure
from kakao_auth.net import exchange
from kakao_auth.oauth import TokenEndpoint, error_from_answer, refresh_form
from kakao_auth.testing import DEFAULT_REDIRECT_URI, FakeKakao

from tests.conftest import Recorder, exception_chain, wait_child

ME = "/v2/user/me"
SECRET = "app-secret-0123456789abcdef"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_redirect_from_the_token_endpoint_is_never_followed(
    fake_kakao: FakeKakao, token_file: Path, recorder: Recorder, scheme: str
) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    target = recorder.url if scheme == "http" else fake_kakao.kapi_url
    fake_kakao.redirect_target = target + "/oauth/token"
    fake_kakao.fail_token("redirect")
    auth = KakaoAuth.from_file(token_file, client_secret=SECRET)
    with pytest.raises(ConfigurationError, match="redirect") as info:
        requests.get(fake_kakao.kapi_url + ME, auth=auth)
    assert recorder.requests == []
    assert fake_kakao.token_calls == 1  # not retried either
    assert fake_kakao.api_calls == 0  # the https target (kapi) never saw the form
    assert token_file.read_bytes() == before
    assert "\n" not in str(info.value)


def test_the_login_code_exchange_never_follows_a_redirect(fake_kakao: FakeKakao, recorder: Recorder) -> None:
    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, client_secret=SECRET)
    url, _ = session.authorization_url()
    redirected = fake_kakao.authorize(url)
    fake_kakao.redirect_target = recorder.url + "/steal"
    fake_kakao.fail_token("redirect")
    with pytest.raises(ConfigurationError, match="redirect"):
        session.fetch_token(authorization_response=redirected)
    assert recorder.requests == []
    assert not Path(str(fake_kakao.token_file)).exists()


def test_fetch_token_refuses_a_plain_http_token_url(fake_kakao: FakeKakao, recorder: Recorder) -> None:
    session = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, client_secret=SECRET)
    url, _ = session.authorization_url()
    redirected = fake_kakao.authorize(url)
    with pytest.raises(ConfigurationError, match="https"):
        session.fetch_token(recorder.url + "/oauth/token", authorization_response=redirected)
    assert recorder.requests == []


@pytest.mark.parametrize("fault", ["cut", "bad-gzip", "huge"])
def test_garbled_transfers_are_typed_and_retried(fake_kakao: FakeKakao, token_file: Path, fault: str) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    fake_kakao.fail_token(fault, times=3)
    auth = KakaoAuth.from_file(token_file, retries=2, backoff=0.01)
    with pytest.raises(KakaoUnavailable, match="try again later") as info:
        auth.valid_token()
    assert fake_kakao.token_calls == 3
    assert isinstance(info.value.__cause__, TransportFailure)
    assert token_file.read_bytes() == before


def test_a_garbled_transfer_then_success(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    fake_kakao.fail_token("cut")
    auth = KakaoAuth.from_file(token_file, backoff=0.01)
    assert requests.get(fake_kakao.kapi_url + ME, auth=auth).status_code == 200
    assert fake_kakao.token_calls == 2


def test_json_nested_100000_deep_is_typed(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    fake_kakao.fail_token("deep")
    with pytest.raises(KakaoUnavailable, match="not a token"):
        KakaoAuth.from_file(token_file, retries=0).valid_token()


def test_a_dripping_token_endpoint_is_bounded_by_the_timeout(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    fake_kakao.fault_delay = 5.0  # 0.5 s a byte: the ~70-byte answer would take 35 s
    fake_kakao.fail_token("drip")
    auth = KakaoAuth.from_file(token_file, timeout=1, retries=0)
    started = time.monotonic()
    with pytest.raises(KakaoUnavailable, match="no answer within 1s"):
        auth.valid_token()
    # 35 s unbounded against a 1 s deadline: 15 s separates them on any machine.
    assert time.monotonic() - started < 15


def test_a_tls_handshake_that_drips_is_bounded_by_the_timeout() -> None:
    # A server that answers the ClientHello one byte every 0.2 s: no socket read ever times
    # out, and the 16 KiB record it announces would take an hour. (CPython's ssl bounds a
    # handshake as a whole by the socket timeout; the exchange's deadline watches it too.)
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            for byte in (b"\x16\x03\x03\x40\x00" + b"\x00" * 16384)[:100]:
                if stop.wait(0.2):
                    return
                with contextlib.suppress(OSError):
                    conn.sendall(bytes([byte]))

    threading.Thread(target=drip, daemon=True).start()
    endpoint = TokenEndpoint(
        f"https://127.0.0.1:{listener.getsockname()[1]}/oauth/token", timeout=1, retries=0
    )
    started = time.monotonic()
    try:
        with pytest.raises(KakaoUnavailable, match="no answer within 1s"):
            endpoint.post(refresh_form("client", "refresh-token", None))
        assert time.monotonic() - started < 10  # unbounded, the drip lasts 20 s
    finally:
        stop.set()
        listener.close()


def test_the_store_lock_is_free_after_a_bounded_failure(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file(access_ttl=0)
    fake_kakao.fault_delay = 5.0
    fake_kakao.fail_token("drip")
    with pytest.raises(KakaoUnavailable):
        KakaoAuth.from_file(token_file, timeout=0.5, retries=0).valid_token()
    assert KakaoAuth.from_file(token_file).valid_token().access_token


def test_no_exception_in_the_chain_holds_the_form(fake_kakao: FakeKakao, token_file: Path) -> None:
    token = fake_kakao.write_token_file(access_ttl=0, client_secret=SECRET)
    fake_kakao.fail_token("reset", times=3)
    with pytest.raises(KakaoUnavailable) as info:
        KakaoAuth.from_file(token_file, backoff=0.01).valid_token()
    chain = exception_chain(info.value)
    assert len(chain) == 2  # the typed error and its TransportFailure, nothing else
    for e in chain:
        assert not hasattr(e, "request")
        assert not isinstance(e, requests.RequestException)
        for text in (str(e), repr(e), repr(vars(e)), repr(pickle.dumps(e))):
            assert token.refresh_token is not None and token.refresh_token not in text
            assert SECRET not in text


def test_transport_failures_outside_requests_wording_are_typed() -> None:
    # Nothing listens on port 9 of loopback: a connection failure, typed, never a bare requests error.
    endpoint = TokenEndpoint("https://127.0.0.1:9/oauth/token", timeout=2, retries=1, sleep=lambda s: None)
    with pytest.raises(KakaoUnavailable) as info:
        endpoint.post(refresh_form("id", "r" * 40, SECRET))
    assert [type(e) for e in exception_chain(info.value)] == [KakaoUnavailable, TransportFailure]


@pytest.mark.parametrize("bad", ["ftp://kauth.kakao.com/oauth/token", "http://kauth.kakao.com/x", "https://"])
def test_the_token_endpoint_takes_https_only(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        TokenEndpoint(bad)


def test_kakao_error_fields_cannot_inject_into_messages() -> None:
    error = error_from_answer(
        400,
        {
            "error": "invalid_grant\n\x1b[31mFAKE",
            "error_code": "KOE999\nx",
            "error_description": "line one\nline two \x1b[2J code=abcdefghijklmnopqrstuvwxyz0123",
        },
    )
    assert isinstance(error, KakaoOAuthError)
    message = str(error)
    assert "\n" not in message and "\x1b" not in message
    assert "abcdefghijklmnopqrstuvwxyz0123" not in message
    assert error.error == "unknown_error" and error.error_code is None


def test_a_refused_url_does_not_show_its_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        TokenEndpoint("http://admin:hunter2@kauth.example/oauth/token")
    assert "hunter2" not in str(info.value) and "kauth.example" in str(info.value)


@pytest.mark.parametrize(
    ("option", "value"), [("timeout", "abc"), ("timeout", 0), ("retries", -1), ("backoff", "nan")]
)
def test_bad_endpoint_options_are_typed(option: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=option):
        TokenEndpoint("https://kauth.example/oauth/token", **{option: value})  # type: ignore[arg-type]


def test_no_thread_for_the_deadline_means_no_exchange(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Out of threads: the exchange's deadline cannot be watched, so the form is never sent
    # (an unbounded exchange could hold the store's lock for ever); the error is typed.
    import _thread

    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()

    def no_thread(*args: object) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(_thread, "start_new_thread", no_thread)
    with pytest.raises(KakaoUnavailable, match="no thread"):
        KakaoAuth.from_file(token_file, backoff=0.01).valid_token()
    assert fake_kakao.token_calls == 0
    assert token_file.read_bytes() == before


def test_a_ca_bundle_is_parsed_once_for_many_exchanges(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # REQUESTS_CA_BUNDLE names the fake's CA, as Debian's images name their 150-CA bundle:
    # parsing it again for every exchange cost the refreshing process 28 ms each time.
    loads: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, cafile: object = None, *args: object, **kwargs: object) -> None:
        loads.append(cafile)
        load(context, cafile, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file, retries=0)
    for _ in range(3):
        auth.refresh()
    assert fake_kakao.token_calls == 3
    assert loads.count(fake_kakao.ca_bundle) == 1


def test_a_replaced_ca_bundle_is_read_again(fake_kakao: FakeKakao, token_file: Path) -> None:
    fake_kakao.write_token_file()
    auth = KakaoAuth.from_file(token_file, retries=0)
    auth.refresh()
    before = token_file.read_bytes()
    # The bundle now trusts another CA only: the fake's certificate must be refused.
    other = Path(fake_kakao.ca_bundle + ".new")
    trustme.CA().cert_pem.write_to_path(str(other))
    os.replace(other, fake_kakao.ca_bundle)
    with pytest.raises(ConfigurationError, match="REQUESTS_CA_BUNDLE"):
        auth.refresh()
    assert fake_kakao.token_calls == 1
    assert token_file.read_bytes() == before


def test_a_certificate_not_trusted_here_is_a_setting_never_retried(
    fake_kakao: FakeKakao, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "cannot reach Kakao's token endpoint (SSLError); try again later" sent people to wait for
    # an outage that was their CA bundle: no retry makes this machine trust a certificate.
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    waits: list[float] = []
    endpoint = TokenEndpoint(fake_kakao.kauth_url + "/oauth/token", retries=2, sleep=waits.append)
    with pytest.raises(ConfigurationError) as info:
        endpoint.post(refresh_form(fake_kakao.client_id, "r" * 40, SECRET))
    message = str(info.value)
    assert "not trusted" in message and "REQUESTS_CA_BUNDLE" in message and "CURL_CA_BUNDLE" in message
    assert "try again" not in message and "\n" not in message
    assert waits == []  # not retried
    chain = exception_chain(info.value)
    assert not any(isinstance(e, (requests.RequestException, OSError)) for e in chain)
    assert all(SECRET not in str(e) for e in chain)


def _subject_hash(pem: str) -> str:
    """OpenSSL's hash of a certificate's subject: its name in a CA folder (``c_rehash``)."""
    openssl = shutil.which("openssl")
    if openssl is None:  # the refusal is still shown; only the wait it spares is not
        return "00000000"
    argv = [openssl, "x509", "-subject_hash", "-noout", "-in", pem]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout.strip()


@pytest.mark.parametrize("where", ["bundle", "folder"])
def test_a_ca_bundle_that_is_a_fifo_is_refused_not_waited_on(
    fake_kakao: FakeKakao, token_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # Opening a FIFO to read it blocks until a writer comes: no deadline reaches that wait. In a
    # CA folder, OpenSSL opens <the issuer's subject hash>.0 in the middle of the handshake.
    if where == "bundle":
        fifo = bundle = tmp_path / "bundle.pem"
    else:
        bundle = tmp_path / "certs"
        bundle.mkdir()
        fifo = bundle / f"{_subject_hash(fake_kakao.ca_bundle)}.0"
    os.mkfifo(fifo)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            KakaoAuth.from_file(token_file, retries=0).valid_token()
        except BaseException as e:
            errors.append(e)

    worker = threading.Thread(target=refresh, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # let the blocked open through, so that the thread can end
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert not worker.is_alive(), "the exchange waited on the FIFO"
    assert len(errors) == 1 and isinstance(errors[0], ConfigurationError)
    assert "is not a regular file" in str(errors[0]) and "REQUESTS_CA_BUNDLE" in str(errors[0])
    assert str(bundle) in str(errors[0])
    assert fake_kakao.token_calls == 0
    assert token_file.read_bytes() == before


def test_a_ca_bundle_that_does_not_exist_is_a_setting_to_fix_not_a_retry(
    fake_kakao: FakeKakao, token_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "gone.pem"))
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    with pytest.raises(ConfigurationError, match="does not exist") as raised:
        KakaoAuth.from_file(token_file, retries=2, backoff=5).valid_token()  # no retry: no 10 s wait
    assert "REQUESTS_CA_BUNDLE" in str(raised.value) and "gone.pem" in str(raised.value)
    assert fake_kakao.token_calls == 0 and token_file.read_bytes() == before


def test_an_exchange_never_sends_netrc_credentials(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests adds ~/.netrc's credentials (a "default" entry matches every host) to a request
    # without auth: they would reach Kakao's token endpoint, and replace the GitHub store's token.
    netrc = tmp_path / ".netrc"
    netrc.write_text("default login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)
    assert exchange("POST", recorder.url + "/oauth/token", 5, data={"grant_type": "x"})[0] == 200
    assert recorder.authorizations == [None]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork only")
def test_a_child_forked_while_the_context_cache_is_busy_still_gets_a_context(tmp_path: Path) -> None:
    # A server that forks workers (gunicorn --preload) while one of its threads is in the cache.
    from kakao_auth.net import tls

    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    with tls._guard:
        pid = os.fork()
        if pid == 0:  # the child: one thread, and a copy of a lock that no thread of it holds
            os._exit(0 if tls.verifying_context(str(bundle), None) is not None else 1)
    code = wait_child(pid, 10)
    if code is None:
        pytest.fail("the forked child waited for ever for a lock held by a thread it does not have")
    assert code == 0


def test_a_name_lookup_that_hangs_is_bounded_by_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # A resolver that does not answer: glibc waits 5 s a try and server before giving up. No
    # socket exists yet for the deadline to shut, and the store's lock is held meanwhile.
    answered = threading.Event()
    real = socket.getaddrinfo

    def silent_resolver(host: object, *args: Any, **kwargs: Any) -> Any:
        if host == "kauth.unanswered.test":
            answered.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", silent_resolver)
    endpoint = TokenEndpoint("https://kauth.unanswered.test/oauth/token", timeout=1, retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(KakaoUnavailable, match="no answer within 1s"):
            endpoint.post(refresh_form("client", "refresh-token", None))
        # 30 s unbounded against a 1 s deadline: 15 s separates them on any machine.
        assert time.monotonic() - started < 15
    finally:
        answered.set()


def test_retries_against_a_silent_resolver_leave_one_lookup_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each try gives up on the lookup at its deadline; the lookup itself cannot be stopped. The
    # next try waits for it instead of starting another thread that would hang as long.
    answered = threading.Event()
    lookups: list[object] = []
    real = socket.getaddrinfo

    def silent_resolver(host: object, *args: Any, **kwargs: Any) -> Any:
        if host == "kauth.silent.test":
            lookups.append(host)
            answered.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", silent_resolver)
    endpoint = TokenEndpoint("https://kauth.silent.test/oauth/token", timeout=0.5, retries=2, backoff=0.01)
    try:
        for _ in range(2):
            with pytest.raises(KakaoUnavailable, match=r"no answer within 0\.5s"):
                endpoint.post(refresh_form("client", "refresh-token", None))
        assert len(lookups) == 1  # six tries, one lookup
    finally:
        answered.set()


def test_the_addresses_of_a_name_are_tried_in_turn_and_tls_checks_the_name(
    fake_kakao: FakeKakao, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The name's first address refuses the connection; the second serves a certificate issued
    # for the name only (no IP address in it): it verifies only if TLS is given the name.
    name = "kauth.kakao-auth.test"
    server = _token_server(fake_kakao, name)
    port = server.server_address[1]
    _resolve(monkeypatch, name, "127.0.0.2", "127.0.0.1")  # 127.0.0.2: loopback, nothing listens
    try:
        answer = TokenEndpoint(f"https://{name}:{port}/oauth/token", timeout=5, retries=0).post({})
    finally:
        server.shutdown()
        server.server_close()
    assert answer["access_token"] == "a"


def _resolve(monkeypatch: pytest.MonkeyPatch, name: str, *ips: str) -> None:
    """Make ``name`` resolve to ``ips``, in that order (any port: the caller's)."""
    real = socket.getaddrinfo

    def resolver(host: object, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ips]
        return real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)


def _token_server(fake_kakao: FakeKakao, name: str) -> http.server.ThreadingHTTPServer:
    """A token endpoint on 127.0.0.1 whose certificate names ``name`` only (no IP address)."""

    class Token(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"access_token": "a", "token_type": "bearer", "expires_in": 60}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    fake_kakao.ca.issue_cert(name).configure_cert(context)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Token)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_an_address_that_drops_packets_leaves_time_for_the_next(
    fake_kakao: FakeKakao, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broken IPv6 route listed first: its connect never completes. The next address must still
    # be tried within the exchange's deadline, not after it (every refresh would then fail).
    name = "kauth.kakao-auth.test"
    answering = _token_server(fake_kakao, name)
    port = answering.server_address[1]
    dropping = socket.socket()
    dropping.bind(("127.0.0.2", port))
    dropping.listen(0)
    queued = _fill_accept_queue(("127.0.0.2", port))  # a full queue: Linux drops further SYNs
    _resolve(monkeypatch, name, "127.0.0.2", "127.0.0.1")
    endpoint = TokenEndpoint(f"https://{name}:{port}/oauth/token", timeout=8, retries=0)
    try:
        answer = endpoint.post({})
    finally:
        answering.shutdown()
        answering.server_close()
        for sock in [dropping, *queued]:
            sock.close()
    assert answer["access_token"] == "a"


def _fill_accept_queue(address: tuple[str, int]) -> list[socket.socket]:
    queued: list[socket.socket] = []
    for _ in range(8):
        sock = socket.socket()
        sock.settimeout(0.5)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            return queued
        queued.append(sock)
    for sock in queued:
        sock.close()
    pytest.skip("this system does not drop connections to a full accept queue")


@contextlib.contextmanager
def _proxy(handshake: Callable[[socket.socket, BinaryIO], str]) -> Iterator[tuple[str, list[str]]]:
    """A proxy on 127.0.0.1, while in use: its address and the targets it tunnelled to.

    ``handshake(client, reader)`` answers the client's request and returns the target
    (``host:port``); then bytes are relayed both ways.
    """
    tunnels: list[str] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def relay(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def tunnel(client: socket.socket) -> None:
        with client, client.makefile("rb", buffering=0) as reader:
            target = handshake(client, reader)
            tunnels.append(target)
            if target.startswith(REFUSED):
                return  # the handshake said so to the client
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host, int(port))) as upstream:
                back = threading.Thread(target=relay, args=(upstream, client), daemon=True)
                back.start()
                relay(client, upstream)
                back.join(10)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                threading.Thread(target=tunnel, args=(listener.accept()[0],), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    with listener:
        yield f"127.0.0.1:{listener.getsockname()[1]}", tunnels


def _connect_handshake(client: socket.socket, reader: BinaryIO) -> str:
    """An HTTP proxy's CONNECT."""
    head = b""
    while b"\r\n\r\n" not in head:
        head += reader.read(1)
    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    return head.split()[1].decode()


def _socks5_handshake(client: socket.socket, reader: BinaryIO) -> str:
    """A SOCKS5 proxy's greeting and CONNECT (RFC 1928), without authentication."""
    reader.read(reader.read(2)[1])  # the version, then the methods offered
    client.sendall(b"\x05\x00")
    kind = reader.read(4)[3]  # version, command, reserved, address type
    if kind == 1:
        host = socket.inet_ntop(socket.AF_INET, reader.read(4))
    elif kind == 4:
        host = socket.inet_ntop(socket.AF_INET6, reader.read(16))
    else:
        host = reader.read(reader.read(1)[0]).decode()
    port = int.from_bytes(reader.read(2), "big")
    client.sendall(b"\x05\x00\x00\x01" + bytes(6))
    return f"{host}:{port}"


PROXIES = {"http": _connect_handshake, "socks5": _socks5_handshake, "socks5h": _socks5_handshake}
REFUSED = "refused "


def _socks5_checking_handshake(client: socket.socket, reader: BinaryIO) -> str:
    """A SOCKS5 CONNECT that answers "connection refused" (RFC 1928's 0x05) when the target is."""
    reader.read(reader.read(2)[1])
    client.sendall(b"\x05\x00")
    kind = reader.read(4)[3]
    assert kind == 1, "socks5:// sends the address the client looked up"
    host = socket.inet_ntop(socket.AF_INET, reader.read(4))
    port = int.from_bytes(reader.read(2), "big")
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError:
        client.sendall(b"\x05\x05\x00\x01" + bytes(6))
        return f"{REFUSED}{host}:{port}"
    client.sendall(b"\x05\x00\x00\x01" + bytes(6))
    return f"{host}:{port}"


def test_through_socks5_each_address_of_the_token_endpoint_is_tried_in_turn(
    fake_kakao: FakeKakao, monkeypatch: pytest.MonkeyPatch
) -> None:
    # socks5:// has the client look the name up; only the first address was tried, so a name
    # whose first address is unreachable failed every refresh, where a direct connection works.
    name = "kauth.kakao-auth.test"
    answering = _token_server(fake_kakao, name)
    port = answering.server_address[1]
    _resolve(monkeypatch, name, "127.0.0.2", "127.0.0.1")  # nothing listens on 127.0.0.2
    try:
        with _proxy(_socks5_checking_handshake) as (address, tunnels):
            _use_proxy(monkeypatch, f"socks5://{address}")
            answer = TokenEndpoint(f"https://{name}:{port}/oauth/token", timeout=8, retries=0).post({})
    finally:
        answering.shutdown()
        answering.server_close()
    assert answer["access_token"] == "a"
    assert tunnels == [f"{REFUSED}127.0.0.2:{port}", f"127.0.0.1:{port}"]


@pytest.mark.parametrize("scheme", PROXIES)
def test_a_refresh_goes_through_a_proxy_from_the_environment(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    # A company network: HTTPS_PROXY names a proxy that tunnels (CONNECT) to the token endpoint,
    # or a SOCKS proxy (requests[socks]).
    with _proxy(PROXIES[scheme]) as (address, tunnels):
        _use_proxy(monkeypatch, f"{scheme}://{address}")
        fake_kakao.write_token_file(access_ttl=0)
        KakaoAuth.from_file(token_file, retries=0).valid_token()
    assert fake_kakao.token_calls == 1
    assert tunnels == [fake_kakao.kauth_url.removeprefix("https://")]


@pytest.mark.parametrize("scheme", PROXIES)
def test_a_dripping_answer_through_a_proxy_is_bounded_by_the_timeout(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    # Through a SOCKS proxy, urllib3 gets the socket only from PySocks: the deadline must watch
    # it all the same, or the store's lock is held as long as the answer drips (35 s here).
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    fake_kakao.fault_delay = 5.0  # 0.5 s a byte: the ~70-byte answer would take 35 s
    fake_kakao.fail_token("drip")
    started = time.monotonic()
    with _proxy(PROXIES[scheme]) as (address, tunnels):
        _use_proxy(monkeypatch, f"{scheme}://{address}")
        with pytest.raises(KakaoUnavailable, match="no answer within 1s"):
            KakaoAuth.from_file(token_file, timeout=1, retries=0).valid_token()
    assert time.monotonic() - started < 15  # 35 s unbounded against a 1 s deadline
    assert len(tunnels) == 1 and token_file.read_bytes() == before


@pytest.mark.parametrize(("scheme", "resolved_by"), [("socks5", "client"), ("socks5h", "proxy")])
def test_a_socks_proxy_is_given_the_name_or_the_address_as_its_scheme_says(
    fake_kakao: FakeKakao, monkeypatch: pytest.MonkeyPatch, scheme: str, resolved_by: str
) -> None:
    # socks5:// has the client look the name up (within the exchange's deadline), socks5h:// the
    # proxy; TLS checks the name either way.
    name = "kauth.kakao-auth.test"
    answering = _token_server(fake_kakao, name)
    port = answering.server_address[1]
    _resolve(monkeypatch, name, "127.0.0.1")
    try:
        with _proxy(_socks5_handshake) as (address, tunnels):
            _use_proxy(monkeypatch, f"{scheme}://{address}")
            answer = TokenEndpoint(f"https://{name}:{port}/oauth/token", timeout=8, retries=0).post({})
    finally:
        answering.shutdown()
        answering.server_close()
    assert answer["access_token"] == "a"
    assert tunnels == [f"{'127.0.0.1' if resolved_by == 'client' else name}:{port}"]


def test_a_socks_proxy_without_a_port_is_tried_on_its_default_one(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kakao_auth.net import socks

    with _proxy(_socks5_handshake) as (address, tunnels):
        monkeypatch.setattr(socks, "SOCKS_PORT", int(address.rsplit(":", 1)[1]))
        _use_proxy(monkeypatch, "socks5h://127.0.0.1")
        fake_kakao.write_token_file(access_ttl=0)
        KakaoAuth.from_file(token_file, retries=0).valid_token()
    assert fake_kakao.token_calls == 1 and len(tunnels) == 1


def test_a_socks_proxy_without_pysocks_says_what_to_install(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests.adapters

    def missing(*args: object, **kwargs: object) -> None:  # requests' stand-in without PySocks
        raise requests.exceptions.InvalidSchema("Missing dependencies for SOCKS support.")

    monkeypatch.setattr(requests.adapters, "SOCKSProxyManager", missing)
    _use_proxy(monkeypatch, "socks5h://someone:proxy-secret@127.0.0.1:1080")
    fake_kakao.write_token_file(access_ttl=0)
    with pytest.raises(
        ConfigurationError, match=r"PySocks is not installed: pip install 'requests\[socks\]'"
    ) as info:
        KakaoAuth.from_file(token_file, retries=2, backoff=5).valid_token()  # no retry: no 10 s wait
    assert "proxy-secret" not in repr(exception_chain(info.value))
    assert fake_kakao.token_calls == 0


@pytest.mark.parametrize(
    "proxy",
    [
        "socks9://someone:proxy-secret@127.0.0.1:1080",  # no such SOCKS version
        "http://someone:proxy-secret@127.0.0.1:99999",  # no such port
        "http://someone:proxy-secret@[::1",  # no such URL
    ],
)
def test_a_proxy_url_that_cannot_be_used_is_a_setting_to_fix_not_a_retry(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    _use_proxy(monkeypatch, proxy)
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    with pytest.raises(ConfigurationError, match="fix or unset HTTPS_PROXY") as info:
        KakaoAuth.from_file(token_file, retries=2, backoff=5).valid_token()  # no retry: no 10 s wait
    assert "proxy-secret" not in repr(exception_chain(info.value))
    assert fake_kakao.token_calls == 0 and token_file.read_bytes() == before


def _use_proxy(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("HTTPS_PROXY", url)
    for name in ("NO_PROXY", "no_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_no_thread_for_the_name_lookup_is_a_failed_exchange_not_a_timeout(
    fake_kakao: FakeKakao, token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The exchange's own watcher starts, the lookup's thread cannot: no unbounded lookup is made
    # in its place, and the failure does not claim the deadline passed.
    from kakao_auth.net import dns as resolve

    class NoThreads:
        @staticmethod
        def start_new_thread(*args: object) -> None:
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(resolve, "_thread", NoThreads)
    looked_up: list[object] = []
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *a, **k: looked_up.append(host) or real(host, *a, **k)
    )
    fake_kakao.write_token_file(access_ttl=0)
    before = token_file.read_bytes()
    kauth = fake_kakao.kauth_url.replace("127.0.0.1", "localhost")
    with pytest.raises(KakaoUnavailable) as info:
        KakaoAuth.from_file(token_file, kauth_url=kauth, retries=0).valid_token()
    assert "within" not in str(info.value)
    assert "localhost" not in looked_up
    assert fake_kakao.token_calls == 0
    assert token_file.read_bytes() == before
