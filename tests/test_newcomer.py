"""What a newcomer meets in the first ten minutes (issue 27): the CLI says what it will do."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from kakao_auth import cli as cli_module
from kakao_auth.errors import printable

from tests.test_cli import CLI

PACKAGE = Path(cli_module.__file__).parent


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
# Library modules whose messages only `kakao-auth login` can print (the rest: any command that
# opens a store): the browser's callback, the login URL and the code exchange.
LOGIN_ONLY = {"callback.py", "login.py", "session.py"}
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


def _cli_reach(tree: ast.AST) -> dict[str, set[str]]:
    """For each function of cli.py: the commands whose run or arguments function reaches it."""
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
    reach = _cli_reach(tree) if path.name == "cli.py" else {}
    problems = []
    for node, text in _strings(tree):
        phrased = set()
        for phrase in PHRASE.finditer(text):
            for flag in FLAG.findall(phrase.group(2)):
                phrased.add(flag)
                if flag not in flags.get(phrase.group(1), set()):
                    problems.append(f"{path.name}: {text!r}: kakao-auth {phrase.group(1)} has no {flag}")
        for flag in set(FLAG.findall(text)) - phrased:
            if path.name == "cli.py":
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
    problems = [p for path in sorted(PACKAGE.glob("*.py")) for p in _flag_problems(path, flags)]
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
    done = cli.run("api", "/v1/api/talk/friends")
    assert "no such API: GET /v1/api/talk/friends" in done.stderr
    done = cli.run("api", "https://evil.example.com/v2/user/me")
    assert "'https://evil.example.com/v2/user/me' is not an API path" in done.stderr
    done = cli.run("api", "/v2/user/me", KAKAO_KAPI_URL="kapi.kakao.com")
    assert "KAKAO_KAPI_URL must be an https:// URL, got 'kapi.kakao.com'" in done.stderr
    done = cli.run("api", "/v2/user/me", KAKAO_KAPI_URL="http://127.0.0.1:40209")
    assert "got 'http://127.0.0.1:40209'" in done.stderr
    done = cli.run("api", "/v2/user/me", KAKAO_KAPI_URL="http://me:hunter2hunter2@127.0.0.1:40209/x")
    assert "hunter2" not in done.stderr and "got 'http://127.0.0.1:40209'" in done.stderr


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
