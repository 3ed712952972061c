"""`kakao-auth`, end to end: every command as a subprocess against the fake Kakao."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest
from kakao_auth.testing import FakeKakao, free_port

BROWSER = Path(__file__).with_name("browser.py")


class CLI:
    """Runs `python -m kakao_auth` with the environment pointed at the fake."""

    def __init__(self, fake: FakeKakao, tmp_path: Path) -> None:
        self.fake = fake
        self.port = free_port()
        self.redirect_uri = f"http://localhost:{self.port}/callback"
        fake.redirect_uris.add(self.redirect_uri)
        self.env = {**os.environ, **fake.environ(), "BROWSER": f"{sys.executable} {BROWSER} %s"}
        self.env["KAKAO_TOKEN_FILE"] = str(tmp_path / "kakao_token.json")
        self.path = tmp_path / "kakao_token.json"
        self.outputs: list[str] = []

    def run(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "kakao_auth", *args]
        done = subprocess.run(
            argv, env={**self.env, **env}, input=stdin, capture_output=True, text=True, timeout=60
        )
        self.outputs += [done.stdout, done.stderr]
        return done

    def login(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self.run("login", "--redirect-uri", self.redirect_uri, *args, **env)

    def paste_login(self, answer: str = "url", *args: str) -> subprocess.CompletedProcess[str]:
        """Log in with --no-browser: read the printed URL, play the browser, paste the result."""
        argv = [
            sys.executable,
            "-m",
            "kakao_auth",
            "login",
            "--no-browser",
            "--redirect-uri",
            self.redirect_uri,
        ]
        proc = subprocess.Popen(
            [*argv, *args],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdin is not None
        url = ""
        while "/oauth/authorize?" not in url:
            url = proc.stdout.readline().strip()
        redirected = self.fake.authorize(url)
        pasted = redirected if answer == "url" else redirected.split("code=")[1].split("&")[0]
        out, err = proc.communicate(pasted + "\n", timeout=60)
        self.outputs += [out, err]
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    def secrets(self) -> set[str]:
        data = json.loads(self.path.read_text())
        return {data[k] for k in ("access_token", "refresh_token") if k in data}


@pytest.fixture
def cli(fake_kakao: FakeKakao, tmp_path: Path) -> CLI:
    return CLI(fake_kakao, tmp_path)


def test_login_through_the_browser(cli: CLI) -> None:
    done = cli.login("--scope", "talk_message")
    assert done.returncode == 0, done.stderr
    assert "Logged in as 라이언 (id 4242424242)" in done.stdout
    assert "Access token expires:" in done.stdout
    assert "Refresh token expires:" in done.stdout
    saved = json.loads(cli.path.read_text())
    assert saved["client_id"] == cli.fake.client_id
    if os.name != "nt":
        assert stat.S_IMODE(cli.path.stat().st_mode) == 0o600
    assert not set(cli.secrets()) & {w for o in cli.outputs for w in o.split()}


def test_login_prints_a_hostile_nickname_without_its_control_characters(cli: CLI) -> None:
    cli.fake.nickname = "라이언\x1b]0;owned\x07\x1b[2J"
    done = cli.login()
    assert done.returncode == 0, done.stderr
    assert "Logged in as 라이언" in done.stdout and "\x1b" not in done.stdout and "\x07" not in done.stdout


def test_login_on_an_output_that_cannot_hold_hangul_still_succeeds(cli: CLI) -> None:
    # A Latin-1 or ASCII locale, or a redirected cp949 console: the greeting is escaped, and the
    # login (already saved) is not reported as a failure.
    done = cli.login(PYTHONIOENCODING="ascii")
    assert done.returncode == 0, done.stderr
    assert "Logged in as \\ub77c\\uc774\\uc5b8" in done.stdout
    assert json.loads(cli.path.read_text())["access_token"]


@pytest.mark.parametrize("broken", ["unreachable", "too-deep", "a-list"])
def test_a_login_whose_profile_cannot_be_read_is_still_a_saved_login(cli: CLI, broken: str) -> None:
    if broken == "unreachable":
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            nowhere = f"https://127.0.0.1:{closed.getsockname()[1]}/"
        cli.fake.redirects["/v2/user/me"] = nowhere  # followed to a port nobody listens on
    else:
        cli.fake.api_bodies["/v2/user/me"] = b"[" * 100_000 if broken == "too-deep" else b"[1, 2]"
    done = cli.login()
    assert done.returncode == 0, done.stderr
    assert "Logged in. Saved" in done.stdout
    assert cli.fake.access_token_alive(json.loads(cli.path.read_text())["access_token"])


def test_login_ignores_a_forged_state_and_keeps_waiting(cli: CLI) -> None:
    done = cli.login("--timeout", "3", FAKE_BROWSER="forge")
    assert done.returncode == 1
    assert "no redirect from Kakao within 3s" in done.stderr  # the forgery did not end the login
    assert "Traceback" not in done.stderr
    assert not cli.path.exists()
    assert cli.fake.token_calls == 0


def test_login_survives_idle_connections_stray_and_forged_requests(cli: CLI) -> None:
    done = cli.login("--timeout", "60", FAKE_BROWSER="hostile")
    assert done.returncode == 0, done.stderr
    assert cli.fake.code_calls == 1  # the bare /callback was never sent to Kakao as a code


def test_a_browser_that_blocks_does_not_block_the_login(cli: CLI) -> None:
    started = time.monotonic()
    done = cli.login("--timeout", "50", FAKE_BROWSER="blocking")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 50  # the browser command itself runs for 60 s


def test_login_fails_fast_on_a_busy_port(cli: CLI) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", cli.port))
        busy.listen()
        done = cli.login(FAKE_BROWSER="silent")
    assert done.returncode == 1
    assert f"port {cli.port} is busy" in done.stderr


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")


@needs_ipv6
def test_login_receives_the_redirect_over_ipv6_localhost(cli: CLI) -> None:
    # Browsers try ::1 first for localhost: the redirect must reach this login there too.
    done = cli.login("--timeout", "60", FAKE_BROWSER="ipv6")
    assert done.returncode == 0, done.stderr
    assert cli.fake.code_calls == 1


@needs_ipv6
def test_login_refuses_a_port_another_program_holds_on_ipv6_localhost(cli: CLI) -> None:
    # Another program on [::1]:port would receive the browser's redirect (RFC 8252, 8.3).
    with socket.socket(socket.AF_INET6) as squatter:
        squatter.bind(("::1", cli.port))
        squatter.listen()
        done = cli.login("--timeout", "5", FAKE_BROWSER="ipv6")
    assert done.returncode == 1
    assert f"port {cli.port} is busy on ::1" in done.stderr
    assert "Opening the browser" not in done.stdout and cli.fake.code_calls == 0


def test_login_times_out_with_advice(cli: CLI) -> None:
    done = cli.login("--timeout", "1", FAKE_BROWSER="silent")
    assert done.returncode == 1
    assert "no redirect from Kakao within 1s" in done.stderr
    assert "KOE006" in done.stderr


def test_login_with_a_pasted_url(cli: CLI) -> None:
    done = cli.paste_login("url")
    assert done.returncode == 0, done.stderr
    assert "Logged in as 라이언" in done.stdout


def test_login_with_a_pasted_bare_code(cli: CLI) -> None:
    done = cli.paste_login("code")
    assert done.returncode == 0, done.stderr
    assert cli.path.exists()


def test_login_without_a_browser_falls_back_to_pasting(cli: CLI) -> None:
    env = {k: v for k, v in cli.env.items() if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY")}
    argv = [sys.executable, "-m", "kakao_auth", "login", "--redirect-uri", cli.redirect_uri]
    done = subprocess.run(argv, env=env, input="\n", capture_output=True, text=True, timeout=60)
    assert "Open this URL in a browser" in done.stdout
    assert done.returncode == 1
    assert "nothing was pasted" in done.stderr


@pytest.mark.parametrize(
    ("pasted", "said"),
    [(b"\xff\xfehttp://localhost/callback?code=x\n", "not UTF-8 text"), (b"x" * 40_000, "more than 16 KiB")],
    ids=["not-utf-8", "endless-line"],
)
def test_a_paste_that_is_no_url_is_a_one_line_error(cli: CLI, pasted: bytes, said: str) -> None:
    argv = [sys.executable, "-m", "kakao_auth", "login", "--no-browser", "--redirect-uri", cli.redirect_uri]
    done = subprocess.run(argv, env=cli.env, input=pasted, capture_output=True, timeout=60)
    assert done.returncode == 1
    assert said.encode() in done.stderr and done.stderr.count(b"\n") == 1 and b"bug" not in done.stderr
    assert not cli.path.exists() and cli.fake.token_calls == 0


def test_a_paste_that_never_comes_is_bounded_by_the_timeout(cli: CLI) -> None:
    # A cron job or a CI step that runs `login` with a stdin that stays open and silent.
    argv = [sys.executable, "-m", "kakao_auth", "login", "--no-browser", "--redirect-uri", cli.redirect_uri]
    proc = subprocess.Popen(
        [*argv, "--timeout", "1"], env=cli.env, stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.wait(timeout=60)  # stdin stays open and silent: only the timeout ends the wait
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.stdin.close()
    assert proc.returncode == 1
    assert b"nothing was pasted within 1s" in err and err.count(b"\n") == 1


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5", "soon"])
def test_login_timeout_must_be_a_finite_positive_number(cli: CLI, value: str) -> None:
    done = cli.run("login", "--no-browser", "--redirect-uri", cli.redirect_uri, "--timeout", value)
    assert done.returncode == 2 and "--timeout" in done.stderr
    assert "Open this URL" not in done.stdout
    done = cli.run("fake", "--seconds", value)
    assert done.returncode == 2 and "--seconds" in done.stderr and "Fake Kakao" not in done.stdout


def test_login_cancelled_in_the_browser(cli: CLI) -> None:
    cli.fake.deny_next_login = True
    done = cli.login()
    assert done.returncode == 1
    assert "access_denied" in done.stderr
    assert "cancelled in the browser" in done.stderr


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("KOE010", "client secret"),
        ("KOE101", "app key"),
        ("KOE303", "redirect_uri"),
        ("KOE320", "kakao-auth login"),
    ],
)
def test_login_exchange_errors_are_explained(cli: CLI, fault: str, words: str) -> None:
    cli.fake.fail_token(fault)
    done = cli.paste_login()
    assert done.returncode == 1
    assert fault in done.stderr
    assert words in done.stderr
    assert done.stderr.count("\n") == 1
    assert not cli.path.exists()


def test_status_on_a_tutorial_file(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path, tutorial=True)
    cli.path.chmod(0o644)
    done = cli.run("status")
    assert done.returncode == 0, done.stderr
    assert str(cli.path) in done.stdout
    assert "Scopes:        profile_nickname talk_message" in done.stdout
    assert "(in 5h 59m)" in done.stdout
    assert "(in 59d 23h)" in done.stdout
    assert "Renews at next refresh: no" in done.stdout
    assert "WARNING: readable by others" in done.stdout
    info = json.loads(cli.run("status", "--json").stdout)
    assert info["permissions"] == "0644"
    assert info["refresh_token"]["renews_at_next_refresh"] is False
    assert cli.fake.token_calls == 0
    assert not cli.secrets() & {w for o in cli.outputs for w in o.split()}


def test_status_without_a_file(cli: CLI) -> None:
    done = cli.run("status")
    assert done.returncode == 1
    assert "does not exist" in done.stderr
    assert "kakao-auth login" in done.stderr


def test_token_prints_only_a_valid_token(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path, access_ttl=0)
    done = cli.run("token")
    assert done.returncode == 0, done.stderr
    assert done.stdout == json.loads(cli.path.read_text())["access_token"] + "\n"
    assert cli.fake.access_token_alive(done.stdout.strip())
    assert cli.fake.refresh_calls == 1
    assert done.stderr == ""


def test_refresh_reports_the_new_expiry(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    done = cli.run("refresh")
    assert done.returncode == 0, done.stderr
    assert "Refreshed." in done.stdout
    assert "(in 5h 59m)" in done.stdout
    assert cli.fake.refresh_calls == 1


def test_api_get_with_a_minus_401_refresh(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    cli.fake.expire_access_tokens()
    done = cli.run("api", "/v2/user/me")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == cli.fake.user_id
    assert cli.fake.refresh_calls == 1


def test_api_post_from_a_file(cli: CLI, tmp_path: Path) -> None:
    cli.fake.write_token_file(cli.path)
    template = tmp_path / "memo.json"
    template.write_text(json.dumps({"object_type": "text", "text": "hi", "link": {}}))
    done = cli.run("api", "POST", "/v2/api/talk/memo/default/send", "-f", f"template_object=@{template}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"result_code": 0}
    assert cli.fake.memos == [{"object_type": "text", "text": "hi", "link": {}}]


def test_api_minus_402_names_the_missing_consent(cli: CLI) -> None:
    cli.fake.scope = "profile_nickname"
    cli.fake.write_token_file(cli.path)
    done = cli.run("api", "/v2/api/talk/memo/default/send", "-d", "template_object={}")
    assert done.returncode == 1
    assert "code -402" in done.stderr
    assert "kakao-auth login --scope talk_message" in done.stderr


@pytest.mark.skipif(os.name == "nt", reason="Windows passes arguments as UTF-16 text, never bytes")
@pytest.mark.parametrize(
    "argv",
    [
        [b"memo", "안녕".encode("euc-kr")],  # a script saved as EUC-KR, run in a UTF-8 locale
        [b"memo", b"hello", b"--button", "자세히".encode("euc-kr")],
        [b"api", b"POST", b"/v2/api/talk/memo/default/send", b"-d", b"template_object=\xff"],
        [b"api", b"POST", b"/v2/api/talk/memo/default/send", b"-f", b"\xff=@/dev/null"],
        [b"login", b"--no-browser", b"--client-secret", b"zz\xffq9"],
    ],
    ids=["memo-text", "memo-button", "api-data", "api-field-name", "client-secret"],
)
def test_an_argument_the_locale_cannot_decode_is_named_not_a_crash(cli: CLI, argv: list[bytes]) -> None:
    cli.fake.write_token_file(cli.path)
    env = {**cli.env, "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-m", "kakao_auth", *argv], env=env, capture_output=True, timeout=60
    )
    assert done.returncode in (1, 2)
    if b"--client-secret" in argv:  # a secret: named, never shown
        assert b"the client secret is not a Kakao client secret" in done.stderr
        assert b"zz" not in done.stdout + done.stderr and b"q9" not in done.stdout + done.stderr
    else:
        assert b"is not utf-8 text" in done.stderr
    assert b"bug" not in done.stderr
    assert cli.fake.api_calls == 0 and cli.fake.code_calls == 0


def test_api_field_file_with_a_byte_order_mark(cli: CLI, tmp_path: Path) -> None:
    cli.fake.write_token_file(cli.path)
    template = tmp_path / "memo.json"
    template.write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"object_type": "text", "text": "안녕", "link": {}}).encode()
    )
    done = cli.run("api", "POST", "/v2/api/talk/memo/default/send", "-f", f"template_object=@{template}")
    assert done.returncode == 0, done.stderr
    assert cli.fake.memos == [{"object_type": "text", "text": "안녕", "link": {}}]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "holds more than 1024 KiB"),  # /dev/zero: endless
        (b"\xff\xfe\x00{", "is not UTF-8 text"),
        (b"x" * (1024 * 1024 + 1), "holds more than 1024 KiB"),
    ],
    ids=["dev-zero", "not-utf-8", "over-a-megabyte"],
)
def test_api_field_file_that_is_no_template_is_a_one_line_error(
    cli: CLI, tmp_path: Path, content: Optional[bytes], said: str
) -> None:
    cli.fake.write_token_file(cli.path)
    path = tmp_path / "field\x1b[2J"
    if content is None:
        path = Path("/dev/zero")
        if not path.exists():
            pytest.skip("no /dev/zero here")
    else:
        path.write_bytes(content)
    done = cli.run("api", "POST", "/v2/api/talk/memo/default/send", "-f", f"template_object=@{path}")
    assert done.returncode == 1
    assert said in done.stderr and done.stderr.count("\n") == 1 and "\x1b" not in done.stderr
    assert "bug" not in done.stderr
    assert cli.fake.api_calls == 0


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "[[[["),  # too deep to parse: shown as text
        (b"oops \x1b]0;owned\x07\x1b[2J", "oops"),  # not JSON: no terminal control
    ],
    ids=["too-deep-to-parse", "escape-sequences"],
)
def test_api_shows_a_broken_answer_without_failing_or_driving_the_terminal(
    cli: CLI, body: bytes, shown: str
) -> None:
    cli.fake.write_token_file(cli.path)
    cli.fake.api_bodies["/v2/user/me"] = body
    done = cli.run("api", "/v2/user/me")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(shown) and "\x1b" not in done.stdout and "\x07" not in done.stdout


def test_api_refuses_an_answer_over_8_mib_unread(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    cli.fake.api_bodies["/v2/user/me"] = b"x" * (9 << 20)
    done = cli.run("api", "/v2/user/me")
    assert done.returncode == 1
    assert "sent an answer over 8 MiB; try again" in done.stderr
    assert len(done.stdout) < 1000  # before, all 9 MiB were read, then printed


@contextlib.contextmanager
def _dripping_api(fake: FakeKakao) -> Iterator[str]:
    """An API host that answers 200 with a 100-byte body, one byte every 0.3 s (30 s in all)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    fake.ca.issue_cert("127.0.0.1").configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        with contextlib.suppress(OSError), context.wrap_socket(listener.accept()[0], server_side=True) as tls:
            tls.recv(65536)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
            for _ in range(100):
                if stop.wait(0.3):
                    return
                tls.sendall(b" ")

    threading.Thread(target=drip, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def test_api_refuses_a_ca_bundle_that_is_a_fifo(cli: CLI, tmp_path: Path) -> None:
    # Opening a FIFO waits for a writer, beyond any deadline: it hung the command for ever.
    cli.fake.write_token_file(cli.path)
    fifo = tmp_path / "bundle.pem"
    os.mkfifo(fifo)
    done = cli.run("api", "/v2/user/me", REQUESTS_CA_BUNDLE=str(fifo))
    assert done.returncode == 1
    assert "is not a regular file" in done.stderr and "REQUESTS_CA_BUNDLE" in done.stderr


def test_api_bounds_the_whole_call_not_each_read(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    with _dripping_api(cli.fake) as api:
        started = time.monotonic()
        done = cli.run("api", "--timeout", "1", "/v2/user/me", KAKAO_KAPI_URL=api)
        took = time.monotonic() - started
    assert done.returncode == 1
    assert "sent no answer within 1s; try again" in done.stderr
    assert took < 20  # unbounded, the drip lasts 30 s (each read well within requests' 30 s)


@pytest.mark.parametrize(
    "value",
    [
        "CSI \u009b31m red \u009d0;owned\u009c",  # C1 controls: CSI, OSC, ST
        "evil\u202etxt.exe",  # a bidi override turns what follows around
        "\u0000\u007f\u2028",  # NUL, DEL, a line separator
        "\U000e0041",  # a tag character (a format character beyond the BMP)
    ],
    ids=["c1-controls", "bidi-override", "nul-del-line-separator", "tag-character"],
)
def test_api_json_answer_cannot_drive_the_terminal(cli: CLI, value: str) -> None:
    # A friend's nickname or a message is someone else's text: printed, it must stay text.
    cli.fake.write_token_file(cli.path)
    cli.fake.api_bodies["/v2/user/me"] = json.dumps({"nickname": value}).encode()
    done = cli.run("api", "/v2/user/me")
    assert done.returncode == 0, done.stderr
    assert all(c.isprintable() or c in " \n" for c in done.stdout), ascii(done.stdout)
    assert json.loads(done.stdout) == {"nickname": value}  # escaped, not lost


def test_api_answer_with_a_lone_surrogate_is_shown_not_a_crash(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    cli.fake.api_bodies["/v2/user/me"] = b'{"nickname": "a\\ud800b"}'
    done = cli.run("api", "/v2/user/me")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"nickname": "a\ud800b"}
    assert "Traceback" not in done.stderr


def test_api_keeps_the_spaces_of_every_script(cli: CLI) -> None:
    # U+3000 (ideographic space) and U+00A0 are text, not controls: shown as they are.
    cli.fake.write_token_file(cli.path)
    cli.fake.api_bodies["/v2/user/me"] = "안녕\u3000하세요\u00a0!".encode()
    done = cli.run("api", "/v2/user/me")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "안녕\u3000하세요\u00a0!\n"


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (json.dumps({"nickname": "라이언 \U0001f981"}, ensure_ascii=False).encode(), None),
        ("라이언 \U0001f981".encode(), "\\ub77c\\uc774\\uc5b8 \\U0001f981\n"),
    ],
    ids=["json", "text"],
)
def test_api_answer_on_an_output_that_cannot_hold_it(cli: CLI, body: bytes, shown: Optional[str]) -> None:
    cli.fake.write_token_file(cli.path)
    cli.fake.api_bodies["/v2/user/me"] = body
    done = cli.run("api", "/v2/user/me", PYTHONIOENCODING="latin-1")
    assert done.returncode == 0, done.stderr
    if shown is None:  # JSON stays JSON: all-ASCII, the same value
        assert json.loads(done.stdout) == json.loads(body)
    else:
        assert done.stdout == shown


def test_api_not_found_exits_non_zero(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    done = cli.run("api", "/v9/nothing")
    assert done.returncode == 1
    assert "HTTP 404" in done.stderr


@pytest.mark.parametrize("unlink", [False, True])
def test_logout_revokes_and_removes_the_file(cli: CLI, unlink: bool) -> None:
    token = cli.fake.write_token_file(cli.path)
    done = cli.run("logout", *(["--unlink"] if unlink else []))
    assert done.returncode == 0, done.stderr
    assert ("Unlinked" if unlink else "Logged out") in done.stdout
    assert not cli.path.exists()
    assert not cli.fake.refresh_token_alive(token.refresh_token)


def test_logout_when_the_login_is_already_dead(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    cli.fake.revoke_all()
    done = cli.run("logout")
    assert done.returncode == 0, done.stderr
    assert "already ended" in done.stdout
    assert not cli.path.exists()


def test_demo_holds(cli: CLI) -> None:
    done = cli.run("demo")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("   ok: ") == 7
    assert "Every step held" in done.stdout
    assert "keep-alive renewed 3 refresh tokens" in done.stdout  # the vault's step


def test_no_token_in_any_output_but_tokens(cli: CLI, tmp_path: Path) -> None:
    assert cli.login().returncode == 0
    seen = cli.secrets()
    for args in (["status"], ["status", "--json"], ["refresh"], ["api", "/v2/user/me"]):
        assert cli.run(*args).returncode == 0
        seen |= cli.secrets()
    cli.fake.fail_token("KOE322")
    assert cli.run("refresh").returncode == 1
    assert cli.run("logout").returncode == 0
    text = "\n".join(cli.outputs)
    for secret in seen:
        assert secret not in text


def test_usage_errors_exit_2(cli: CLI) -> None:
    assert cli.run().returncode == 2
    assert cli.run("nonsense").returncode == 2


def _one_line_failure(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kakao-auth: "), done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["/v2/user/me", "POST"], "the method comes first: kakao-auth api POST /v2/user/me"),
        (["FETCH", "/v2/user/me"], "unknown method"),
        (["v2/user/me"], "is not an API path"),
        (["a", "b", "c"], "usage: kakao-auth api"),
    ],
)
def test_api_argument_mistakes_are_one_line(cli: CLI, words: list[str], expected: str) -> None:
    cli.fake.write_token_file(cli.path)
    assert expected in _one_line_failure(cli.run("api", *words))


def test_api_takes_a_full_kapi_url(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    done = cli.run("api", "https://kapi.kakao.com/v2/user/me")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == cli.fake.user_id


@pytest.mark.parametrize(
    "content",
    [
        b'{"access_token": "x", "expires_in": NaN}',
        b'{"access_token": "x", "refresh_token_expires_at": 1e999}',
        b'{"access_token": 12}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"access_token": "a\\nb"}',
    ],
)
@pytest.mark.parametrize("command", ["status", "token"])
def test_hostile_token_files_are_one_line(cli: CLI, content: bytes, command: str) -> None:
    cli.path.write_bytes(content)
    assert "token file" in _one_line_failure(cli.run(command))


@pytest.mark.skipif(os.name == "nt", reason="FIFO")
def test_a_fifo_token_file_is_one_line_not_a_hang(cli: CLI) -> None:
    os.mkfifo(cli.path)
    assert "not a regular file" in _one_line_failure(cli.run("status"))


def test_status_of_a_far_future_expiry(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    data = json.loads(cli.path.read_text())
    data["refresh_token_expires_at"] = 32503680000.0  # the year 3000
    cli.path.write_text(json.dumps(data))
    done = cli.run("status")
    assert done.returncode == 0, done.stderr
    assert "Refresh token:" in done.stdout


@pytest.mark.skipif(os.name == "nt", reason="POSIX pipes")
def test_a_closed_pipe_is_no_traceback(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    env = {**cli.env, "PYTHONUNBUFFERED": "1"}
    for _ in range(5):
        done = subprocess.run(  # noqa: S602  # the pipe to head is the point of the test
            f"{sys.executable} -m kakao_auth status | head -c 1",
            shell=True,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


UNEXPECTED = """
import sys
import kakao_auth.cli as cli
def broken(args):
    raise RuntimeError("secret-ish detail that must not be shown")
cli.COMMANDS["status"] = (broken, *cli.COMMANDS["status"][1:])
sys.exit(cli.main(["status"]))
"""


def test_an_unexpected_error_is_one_line_unless_debugging(cli: CLI) -> None:
    argv = [sys.executable, "-c", UNEXPECTED]
    done = subprocess.run(argv, env=cli.env, capture_output=True, text=True, timeout=60)
    line = _one_line_failure(done)
    assert "RuntimeError" in line and "report" in line and "secret-ish" not in line
    debug = subprocess.run(
        argv, env={**cli.env, "KAKAO_AUTH_DEBUG": "1"}, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" in debug.stderr


def test_retries_are_logged_not_printed(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    cli.fake.fail_token("500", times=2)
    done = cli.run("refresh")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no bare "retrying" lines
    cli.fake.fail_token("500", times=1)
    verbose = cli.run("-v", "refresh")
    assert "kakao-auth: token endpoint failed (HTTP 500); retrying" in verbose.stderr


def test_a_dead_login_found_ahead_of_expiry_is_printed_even_without_v(cli: CLI) -> None:
    # Kakao answers later than the call waits for it (AHEAD_WAIT): the call goes out with the
    # still-valid token, then the refresh thread finds the login dead. The command's own
    # result cannot say so, and the next run may be hours away.
    from kakao_auth.core import AHEAD_WAIT

    cli.fake.write_token_file(cli.path)
    saved = json.loads(cli.path.read_text())
    saved["expires_at"] = time.time() + 30  # the file 30 s before its token expires
    cli.path.write_text(json.dumps(saved))
    cli.fake.fail_token("KOE322")
    cli.fake.token_delay = AHEAD_WAIT + 0.5
    done = cli.run("api", "/v2/user/me")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == cli.fake.user_id
    assert "refresh ahead of expiry failed" in done.stderr and "run `kakao-auth login`" in done.stderr
    assert cli.fake.token_calls == 1


def test_version(cli: CLI) -> None:
    from kakao_auth import __version__

    done = cli.run("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"kakao-auth {__version__}"


@pytest.mark.parametrize("words", [["talk_message", "friends"], ["talk_message,friends"]])
def test_login_takes_several_scopes(cli: CLI, words: list[str]) -> None:
    done = cli.login("--scope", *words)
    assert done.returncode == 0, done.stderr
    assert {"talk_message", "friends"} <= set(json.loads(cli.path.read_text())["scope"].split())


def test_usage_errors_show_the_subcommands_usage(cli: CLI) -> None:
    done = cli.run("status", "--bogus")
    assert done.returncode == 2
    assert "usage: kakao-auth status" in done.stderr and "unrecognized arguments: --bogus" in done.stderr


@pytest.mark.parametrize(
    "args", [["copy", "--store", "x.json", "a.json", "b.json"], ["demo", "--token-file", "x"]]
)
def test_copy_and_demo_refuse_store_flags(cli: CLI, args: list[str]) -> None:
    done = cli.run(*args)
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr


def test_status_names_where_the_client_id_comes_from(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path, tutorial=True)
    done = cli.run("status")
    assert f"Client id:     {cli.fake.client_id} (from KAKAO_REST_API_KEY)" in done.stdout
    assert "Token file:" in done.stdout


@pytest.mark.parametrize("key", ["abc\x1b]0;owned\x07def", "k\u202eey", "two words", "x" * 129])
def test_a_client_id_that_is_no_app_key_is_refused_not_printed(cli: CLI, key: str) -> None:
    # The environment is not trusted: status prints the key, so no escape sequence gets there.
    cli.fake.write_token_file(cli.path, tutorial=True)
    for command in (["status"], ["status", "--json"], ["refresh"]):
        done = cli.run(*command, KAKAO_REST_API_KEY=key)
        assert done.returncode == 1, command
        assert "KAKAO_REST_API_KEY is not a Kakao app key" in done.stderr, command
        assert key not in done.stdout + done.stderr and "\x1b" not in done.stdout + done.stderr
    done = cli.run("login", "--no-browser", "--redirect-uri", cli.redirect_uri, "--client-id", key)
    assert done.returncode == 1 and "the client id is not a Kakao app key" in done.stderr
    assert "Open this URL" not in done.stdout
    assert cli.fake.token_calls == 0


def test_a_client_id_pasted_with_its_line_end_is_the_key(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path, tutorial=True)
    done = cli.run("refresh", KAKAO_REST_API_KEY=f" {cli.fake.client_id}\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(cli.path.read_text())["client_id"] == cli.fake.client_id


def test_a_hostile_path_is_shown_escaped_by_every_command(cli: CLI, tmp_path: Path) -> None:
    # A path from the environment or the command line is printed by many commands and messages:
    # none of them may hand its control or bidi characters to the terminal.
    name = str(tmp_path / "tok\x1b]0;owned\x07\u202e\x9b2J.json")
    cli.fake.write_token_file(name)
    outputs = []
    for command in (["status"], ["refresh"], ["copy", name, name + ".copy"], ["logout"], ["status"]):
        done = cli.run(*command, KAKAO_TOKEN_FILE=name)
        outputs.append(done.stdout + done.stderr)
    outputs.append(cli.run("status", "--bogus\x1b[2J").stderr)  # argparse's own message
    for output in outputs:
        assert all(c.isprintable() or c == "\n" for c in output), ascii(output)
    assert "tok\\x1b]0;owned\\x07\\u202e\\x9b2J.json" in outputs[0]  # there to read, escaped
    assert "does not exist" in outputs[-2]  # logged out: the message names the file, escaped


def test_status_json_with_a_hostile_path_is_still_json(cli: CLI, tmp_path: Path) -> None:
    name = str(tmp_path / "tok\x9b\u202e\x1b.json")
    cli.fake.write_token_file(name)
    done = cli.run("status", "--json", KAKAO_TOKEN_FILE=name)
    assert done.returncode == 0, done.stderr
    assert all(c.isprintable() or c in " \n" for c in done.stdout), ascii(done.stdout)
    assert json.loads(done.stdout)["store"] == name


def test_api_help_shows_method_and_path(cli: CLI) -> None:
    assert "[METHOD] PATH" in cli.run("api", "--help").stdout


def test_login_checks_where_it_will_save_before_the_browser(cli: CLI, tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    done = cli.run("login", "--redirect-uri", cli.redirect_uri, "--token-file", str(folder))
    assert done.returncode == 1 and "is a directory" in done.stderr
    assert "Opening the browser" not in done.stdout and cli.fake.code_calls == 0


def test_kakao_auth_fake_serves_the_other_commands(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "kakao_auth", "fake", "--seconds", "60"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KAKAO_")}
    clean["HOME"] = str(tmp_path)  # its CA bundle goes to ~/.cache
    proc = subprocess.Popen(argv, env=clean, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stdout is not None
    env = dict(clean)
    try:
        for line in proc.stdout:
            if line.strip().startswith("export "):
                name, _, value = line.strip()[len("export ") :].partition("=")
                env[name] = value.strip("'")
            if line.startswith("then try"):
                break
        run = lambda *a: subprocess.run(  # noqa: E731
            [sys.executable, "-m", "kakao_auth", *a], env=env, capture_output=True, text=True, timeout=60
        )
        assert "Refresh token:" in run("status").stdout
        assert json.loads(run("api", "/v2/user/me").stdout)["id"] == 4242424242
        assert run("memo", "offline").returncode == 0
        assert run("refresh").returncode == 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert not os.path.exists(env["KAKAO_TOKEN_FILE"])  # it lived in the fake's own folder


def test_a_missing_client_id_is_said_in_cli_words(cli: CLI) -> None:
    env = {k: v for k, v in cli.env.items() if k != "KAKAO_REST_API_KEY"}
    argv = [sys.executable, "-m", "kakao_auth", "login", "--no-browser", "--redirect-uri", cli.redirect_uri]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--client-id" in done.stderr and "Traceback" not in done.stderr
