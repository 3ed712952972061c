"""What a newcomer meets in the first ten minutes (issue 27): the CLI says what it will do."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from kakao_auth import cli as cli_module
from kakao_auth.errors import printable

from tests.test_cli import CLI

PACKAGE = Path(cli_module.__file__).parent.parent
# The library's modules: every one but the fakes (testing/) and the web wing, whose messages
# no command prints.
MODULES = sorted(
    p for p in PACKAGE.rglob("*.py") if not {"testing", "web"} & set(p.relative_to(PACKAGE).parts)
)
# The command line's own modules (cli.py before it became a wing): a message there is checked
# against the commands whose run or arguments function reaches it.
CLI_COMMAND_MODULES = {"main.py", "options.py", "output.py", "login.py", "stored.py", "api.py"}


@pytest.fixture
def cli(fake_kakao, tmp_path: Path) -> CLI:  # type: ignore[no-untyped-def]
    return CLI(fake_kakao, tmp_path)


# -- status shows the client id a refresh will use (point 3) ---------------------------------


def test_status_shows_the_client_id_a_refresh_sends_and_says_when_the_file_differs(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)  # the file's client_id is the fake's app
    other = "0123456789abcdef0123456789abcdef"
    done = cli.run("status", KAKAO_REST_API_KEY=other)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("Client id:"))
    assert line.startswith(f"Client id:     {other} (from KAKAO_REST_API_KEY")
    assert f"the token file says {cli.fake.client_id}" in line
    info = json.loads(cli.run("status", "--json", KAKAO_REST_API_KEY=other).stdout)
    assert info["client_id"] == other and info["client_id_from"] == "KAKAO_REST_API_KEY"
    assert info["client_id_stored"] == cli.fake.client_id
    # ...and that is the one a refresh sends: Kakao does not know it.
    refreshed = cli.run("refresh", KAKAO_REST_API_KEY=other)
    assert refreshed.returncode == 1 and "KOE101" in refreshed.stderr


def test_status_with_the_same_client_id_in_both_says_nothing_more(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    done = cli.run("status")
    assert f"Client id:     {cli.fake.client_id} (from KAKAO_REST_API_KEY)\n" in done.stdout


# -- every flag a message names exists on the command that prints it (point 4) ---------------

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z]")
# "kakao-auth login --scope x" or `kakao-auth login --client-id`: the flags of that command.
PHRASE = re.compile(r"kakao-auth ([a-z]+)((?: +[^\s`;()]+)*)")
# "gh auth refresh --scopes repo": another program's command, whose flags are its own.
OTHER_PROGRAM = re.compile(r"\bgh [a-z]+ [a-z]+((?: +[^\s`;()]+)*)")
# Library modules whose messages only `kakao-auth login` can print (the rest: any command that
# opens a store): the browser's callback, the login URL and the code exchange.
LOGIN_ONLY = {"callback.py", "authorize.py", "session.py", "oauth2_compat.py"}
STORE_COMMANDS = {"login", "status", "token", "refresh", "api", "memo", "logout", "copy"}


def _command_flags() -> dict[str, set[str]]:
    parser = cli_module.build_parser()
    before = {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
    sub = next(a for a in parser._actions if a.choices and "status" in a.choices)
    return {
        name: before | {o for o in p._option_string_actions if o.startswith("--")}
        for name, p in sub.choices.items()
    }


def _strings(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """Every string and f-string in ``tree`` (placeholders as X), docstrings left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values)
            found.append((node, str(text)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node, node.value))
    return found


def _enclosing_functions(tree: ast.AST) -> dict[int, str]:
    owner: dict[int, str] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef):
            for node in ast.walk(fn):
                owner[id(node)] = fn.name  # walk goes outside in: the innermost function wins
    return owner


def _is_cli(path: Path) -> bool:
    return path.name == "cli.py" or (path.parent.name == "cli" and path.name in CLI_COMMAND_MODULES)


def _cli_tree(path: Path, tree: ast.Module) -> ast.Module:
    """The command line's modules as one tree (cli.py was one file): calls cross its modules."""
    if path.name == "cli.py":
        return tree
    parts = [
        ast.parse((path.parent / name).read_text(encoding="utf-8")) for name in sorted(CLI_COMMAND_MODULES)
    ]
    return ast.Module(body=[node for part in parts for node in part.body], type_ignores=[])


def _cli_reach(tree: ast.AST) -> dict[str, set[str]]:
    """For each function of the command line: the commands whose run or arguments function reaches it."""
    calls = {
        fn.name: {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef)
    }
    reach: dict[str, set[str]] = {name: set() for name in calls}
    for command, (run, arguments, _) in cli_module.COMMANDS.items():
        todo, seen = [run.__name__, arguments.__name__], set()
        while todo:
            name = todo.pop()
            if name in seen or name not in calls:
                continue
            seen.add(name)
            reach[name].add(command)
            todo.extend(calls[name])
    return reach


def _flag_problems(path: Path, flags: dict[str, set[str]]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    owner = _enclosing_functions(tree)
    reach = _cli_reach(_cli_tree(path, tree)) if _is_cli(path) else {}
    problems = []
    for node, text in _strings(tree):
        if FLAG.fullmatch(text):  # an argv element for another program (gh auth token --hostname)
            continue
        phrased = {flag for other in OTHER_PROGRAM.finditer(text) for flag in FLAG.findall(other.group(1))}
        for phrase in PHRASE.finditer(text):
            for flag in FLAG.findall(phrase.group(2)):
                phrased.add(flag)
                if flag not in flags.get(phrase.group(1), set()):
                    problems.append(f"{path.name}: {text!r}: kakao-auth {phrase.group(1)} has no {flag}")
        for flag in set(FLAG.findall(text)) - phrased:
            if _is_cli(path):
                printers = reach.get(owner.get(id(node), ""), set()) or set(flags)
                needed = any if not reach.get(owner.get(id(node), "")) else all
            elif path.name in ("demo.py",):
                printers, needed = {"demo", "fake"}, all
            else:
                printers = {"login"} if path.name in LOGIN_ONLY else STORE_COMMANDS
                needed = all
            if not needed(flag in flags[c] for c in printers):
                lacking = sorted(c for c in printers if flag not in flags[c])
                problems.append(f"{path.name}: {text!r}: {flag} is not an option of {lacking}")
    return problems


def test_every_flag_a_message_names_exists_on_the_commands_that_print_it() -> None:
    flags = _command_flags()
    problems = [p for path in MODULES for p in _flag_problems(path, flags)]
    assert not problems, "\n".join(problems)


def test_the_flag_check_catches_a_flag_the_printing_command_lacks(tmp_path: Path) -> None:
    # The message of issue 27, as refresh.py had it: refresh, status, token... have no --client-id.
    module = tmp_path / "refresh.py"
    module.write_text('def f():\n    raise E(f"no client id for {x}: pass --client-id")')
    assert _flag_problems(module, _command_flags())
    status = tmp_path / "cli.py"
    status.write_text(
        "def cmd_status(a):\n    show()\n\ndef show():\n    print('(none: pass --client-id)')\n"
        "def _status_arguments(p):\n    pass\n"
    )
    assert _flag_problems(status, _command_flags())
    phrased = tmp_path / "errors.py"
    phrased.write_text('X = "run `kakao-auth refresh --client-id K`"\n')
    assert _flag_problems(phrased, _command_flags())


# -- the secret filter hides tokens, not paths, hosts and ports (point 8) ---------------------


@pytest.mark.parametrize(
    "text",
    [
        "no such API: GET /v1/api/talk/friends",
        "https://kapi.kakao.com/v1/api/talk/friends",
        "/tmp/pytest-of-root/pytest-12/test_status_shows_the_client0/kakao_token.json",
        "https://127.0.0.1:40209/v2/user/me",
    ],
)
def test_paths_hosts_and_ports_are_not_secrets(text: str) -> None:
    assert printable(text) == text


@pytest.mark.parametrize(
    "secret",
    [
        "e9Ojvw4K5ND1mSDyUwYgEEzmLylJ7DMJAAAAAQo9c-sAAAGNrq3r8Ek6RlwbJ1lc",  # a Kakao token's shape
        "0123456789abcdef0123456789abcdef",  # an admin key: 32 hex digits
        "ghp_" + "aB3x" * 9,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcDEFghi_jklMNOpqr",
        "Zm9vYmFy/Zm9v+YmFyZm9vYmFyZm9vYmFy/Zm9vYmFy",  # standard base64
    ],
)
def test_tokens_are_still_hidden_even_inside_a_path(secret: str) -> None:
    for text in (secret, f"code={secret}", f"/v2/user/me?access_token={secret}", f"/files/{secret}/x"):
        assert secret not in printable(text)
        pieces = {p for p in re.split(r"[/=.+?]", secret) if len(p) > 12}
        assert not pieces & set(re.split(r"[/=.?]", printable(text)))


def test_the_cli_shows_the_path_and_url_it_refuses(cli: CLI) -> None:
    cli.fake.write_token_file(cli.path)
    done = cli.run("api", "/v1/api/talk/no-such-thing")
    assert "no such API: GET /v1/api/talk/no-such-thing" in done.stderr
    done = cli.run("api", "https://evil.example.com/v2/user/me")
    assert "'https://evil.example.com/v2/user/me' is not an API path" in done.stderr
    done = cli.run("api", "/v2/user/me", KAKAO_KAPI_URL="kapi.kakao.com")
    assert "KAKAO_KAPI_URL must be an https:// URL, got 'kapi.kakao.com'" in done.stderr
    done = cli.run("api", "/v2/user/me", KAKAO_KAPI_URL="http://127.0.0.1:40209")
    assert "got 'http://127.0.0.1:40209'" in done.stderr
    done = cli.run("api", "/v2/user/me", KAKAO_KAPI_URL="http://me:hunter2hunter2@127.0.0.1:40209/x")
    assert "hunter2" not in done.stderr and "'http://127.0.0.1:40209'" in done.stderr


# -- global options before the command (point 9) ----------------------------------------------


def test_global_options_work_before_the_command_too(cli: CLI, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    cli.fake.write_token_file(elsewhere)
    for argv in (
        ["--token-file", str(elsewhere), "status"],
        ["status", "--token-file", str(elsewhere)],
        ["--store", str(elsewhere), "status"],
        ["-v", "--token-file", str(elsewhere), "status"],
        ["--token-file", str(elsewhere), "status", "-v"],
    ):
        done = cli.run(*argv)
        assert done.returncode == 0, (argv, done.stderr)
        assert f"Token file:    {elsewhere}" in done.stdout, argv
    verbose = cli.run("-v", "--token-file", str(elsewhere), "refresh")
    assert verbose.returncode == 0 and "kakao-auth: " in verbose.stderr  # the library's log


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--token-file", "a", "status", "--store", "b"], "not allowed with argument --token-file"),
        (["--token-file", "a", "status", "--token-file", "b"], "given twice"),
        (["--token-file", "a", "copy", "x", "y"], "--token-file does not apply to kakao-auth copy"),
        (["--store", "a", "demo"], "--store does not apply to kakao-auth demo"),
    ],
)
def test_global_options_that_conflict_or_do_not_apply_are_usage_errors(
    cli: CLI, argv: list[str], words: str
) -> None:
    done = cli.run(*argv)
    assert done.returncode == 2 and words in done.stderr


# -- copy refuses to lose a login (point 13) --------------------------------------------------


def test_copy_refuses_to_replace_another_login_without_force(cli: CLI, tmp_path: Path) -> None:
    source, destination = tmp_path / "a.json", tmp_path / "b.json"
    cli.fake.write_token_file(source)
    cli.fake.write_token_file(destination)
    before = destination.read_bytes()
    done = cli.run("copy", str(source), str(destination))
    assert done.returncode == 1 and "holds another login" in done.stderr and "--force" in done.stderr
    assert destination.read_bytes() == before
    done = cli.run("copy", str(source), str(destination), "--force")
    assert done.returncode == 0, done.stderr
    assert (
        json.loads(destination.read_text())["refresh_token"]
        == json.loads(source.read_text())["refresh_token"]
    )
    # The same login again (a refreshed copy) and an empty destination need no --force.
    assert cli.run("copy", str(source), str(destination)).returncode == 0
    assert cli.run("copy", str(source), str(tmp_path / "new.json")).returncode == 0


def test_copy_refuses_the_same_file_by_any_name(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.json"
    cli.fake.write_token_file(path)
    (tmp_path / "link.json").symlink_to(path)
    before = path.read_bytes()
    for other in (str(path), str(tmp_path / "link.json"), "./a.json", "sub/../a.json"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        done = subprocess_in(cli, tmp_path, "copy", "a.json", other)
        assert done.returncode == 1, (other, done.stdout)
        assert "both the source and the destination" in done.stderr, other
        assert "Copied" not in done.stdout
    assert path.read_bytes() == before


def subprocess_in(cli: CLI, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "kakao_auth", *args]
    return subprocess.run(argv, env=cli.env, capture_output=True, text=True, timeout=60, cwd=folder)


# -- kakao-auth fake: a CA bundle that keeps the shell working (point 6) ----------------------


def test_kakao_auth_fake_exports_a_bundle_of_every_ca_and_prints_the_unset_line(tmp_path: Path) -> None:
    import certifi
    import requests

    argv = [sys.executable, "-m", "kakao_auth", "fake", "--seconds", "60"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KAKAO_")}
    clean["HOME"] = str(tmp_path)
    proc = subprocess.Popen(argv, env=clean, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stdout is not None
    exports: dict[str, str] = {}
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.strip().startswith("export "):
                name, _, value = line.strip()[len("export ") :].partition("=")
                exports[name] = value.strip("'")
            if "kakao-auth login" in line and "and:" in line:
                break
        bundle = Path(exports["REQUESTS_CA_BUNDLE"])
        assert exports["SSL_CERT_FILE"] == str(bundle)
        assert bundle == tmp_path / ".cache" / "kakao-auth" / "fake-ca-bundle.pem"
        text = bundle.read_text()
        assert Path(certifi.where()).read_text().strip() in text  # the CAs requests trusted
        # ...and the fake's: its kapi answers over the bundle.
        assert (
            requests.get(
                exports["KAKAO_KAPI_URL"] + "/v2/user/me", verify=str(bundle), timeout=30
            ).status_code
            == 401
        )
        assert "so other HTTPS calls in that shell still work" in "".join(lines)
    finally:
        proc.terminate()
        rest, _ = proc.communicate(timeout=30)
    unset = next(line for line in rest.splitlines() if line.strip().startswith("unset "))
    assert set(unset.split()[1:]) == set(exports)
    assert bundle.exists()  # a shell that still exports it keeps working after the fake stopped


# -- the test kit outside pytest (point 11) and what the fake refuses (point 12) --------------


def test_fake_kakao_outside_pytest_writes_a_token_file_without_a_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kakao_auth import KakaoSession
    from kakao_auth.testing import FakeKakao

    for name in ("KAKAO_TOKEN_FILE", "KAKAO_TOKEN_STORE"):
        monkeypatch.delenv(name, raising=False)
    with FakeKakao() as fake:
        token = fake.write_token_file()
        assert fake.token_file is not None and os.path.exists(fake.token_file)
        assert json.loads(Path(fake.token_file).read_text())["refresh_token"] == token.refresh_token
        env = fake.environ()
        assert env["KAKAO_TOKEN_FILE"] == fake.token_file
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert KakaoSession.from_file().send_memo("hi") == {"result_code": 0}
        assert fake.memos[-1]["text"] == "hi"
    assert not os.path.exists(fake.token_file)  # it lived in the fake's folder


def test_the_fake_refuses_a_consent_item_kakao_does_not_know(fake_kakao) -> None:  # type: ignore[no-untyped-def]
    import requests
    from kakao_auth import KakaoSession
    from kakao_auth.testing import DEFAULT_REDIRECT_URI

    url, _ = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, scope=["talk_messages"]).authorization_url()
    answer = requests.get(url, allow_redirects=False, verify=fake_kakao.ca_bundle, timeout=30)
    assert answer.status_code == 400 and "KOE205" in answer.text
    with pytest.raises(ValueError, match="talk_messages"):
        fake_kakao.write_token_file(scope="talk_messages")
    fake_kakao.known_scopes.add("talk_messages")  # a test that needs one more item adds it
    url, _ = KakaoSession(redirect_uri=DEFAULT_REDIRECT_URI, scope=["talk_messages"]).authorization_url()
    assert "code=" in fake_kakao.authorize(url)


def test_the_fake_refuses_a_wrong_or_missing_client_secret_at_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kakao_auth import KakaoSession
    from kakao_auth.errors import KakaoOAuthError
    from kakao_auth.testing import DEFAULT_REDIRECT_URI, FakeKakao

    monkeypatch.delenv("KAKAO_CLIENT_SECRET", raising=False)
    with FakeKakao(client_secret="the-right-secret-0123456789") as fake:
        for name, value in fake.environ().items():
            monkeypatch.setenv(name, value)
        for given in (None, "a-wrong-secret-0123456789"):
            path = str(tmp_path / "t.json")
            session = KakaoSession(
                fake.client_id, client_secret=given, redirect_uri=DEFAULT_REDIRECT_URI, token_file=path
            )
            url, _ = session.authorization_url()
            with pytest.raises(KakaoOAuthError, match="KOE010"):
                session.fetch_token(authorization_response=fake.authorize(url))
        assert not (tmp_path / "t.json").exists()


def test_the_fixture_without_the_testing_extra_names_the_pip_install(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "trustme.py").write_text(
        'raise ModuleNotFoundError("No module named \'trustme\'", name="trustme")\n'
    )
    (tmp_path / "test_user.py").write_text("def test_it(fake_kakao):\n    pass\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_user.py")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    assert "pip install 'kakao-auth[testing]'" in done.stdout


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080/", True),
        ("https://kauth.example.com", True),
        ("http://kauth.example.com", False),
        ("http://127.0.0.1.evil.com", False),
        ("127.0.0.1:8080", False),
    ],
)
def test_the_authorize_page_may_be_plain_http_on_loopback_only(
    monkeypatch: pytest.MonkeyPatch, value: str, accepted: bool
) -> None:
    from kakao_auth.config import authorize_base
    from kakao_auth.errors import ConfigurationError

    monkeypatch.setenv("KAKAO_AUTHORIZE_URL", value)
    if accepted:
        assert authorize_base() == value.rstrip("/")
    else:
        with pytest.raises(ConfigurationError, match="KAKAO_AUTHORIZE_URL"):
            authorize_base()


# -- the example follows the environment (point 5), a bad field is said in a sentence (15) ----


def test_the_cron_example_finds_the_login_where_the_environment_says(fake_kakao, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    elsewhere = tmp_path / "logins" / "mine.json"
    elsewhere.parent.mkdir()
    fake_kakao.write_token_file(elsewhere)
    env = {**os.environ, **fake_kakao.environ(), "KAKAO_TOKEN_FILE": str(elsewhere)}
    script = str(Path(__file__).resolve().parent.parent / "examples" / "send_memo.py")
    done = subprocess.run(
        [sys.executable, script, "from", "elsewhere"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert fake_kakao.memos[-1]["text"] == "from elsewhere"


def test_a_token_file_with_a_field_of_the_wrong_type_is_said_in_a_sentence(cli: CLI) -> None:
    cli.path.write_text('{"access_token": 5, "refresh_token": "r"}')
    done = cli.run("status")
    assert done.returncode == 1
    assert "holds an unusable token: access_token is not a string" in done.stderr
    assert " has access_token" not in done.stderr
