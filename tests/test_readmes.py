"""README.md and README.ko.md say the same: same sections, same code blocks, same commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EN = (ROOT / "README.md").read_text(encoding="utf-8")
KO = (ROOT / "README.ko.md").read_text(encoding="utf-8")


def _sections(text: str) -> list[str]:
    return re.findall(r"^#{1,3} .*$", text, re.M)


def _code_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S)]


def _table_commands(text: str) -> list[str]:
    # The first column of every table row that names a command or a name in backticks.
    return re.findall(r"^\| (`[^`]+`)", text, re.M)


def _links(text: str) -> list[str]:
    return sorted(set(re.findall(r"\]\((?!https?://)([^)]+)\)", text)))


def test_same_number_of_sections() -> None:
    assert len(_sections(EN)) == len(_sections(KO)), (_sections(EN), _sections(KO))


def test_same_code_blocks_in_the_same_order() -> None:
    assert _code_blocks(EN) == _code_blocks(KO)


def test_same_commands_and_errors_in_the_tables() -> None:
    assert _table_commands(EN) == _table_commands(KO)


def test_same_local_links() -> None:
    assert [link for link in _links(EN) if link != "README.ko.md"] == [
        link for link in _links(KO) if link != "README.md"
    ]


def test_every_public_error_is_documented_in_both() -> None:
    import kakao_auth

    errors = [n for n in kakao_auth.__all__ if n.endswith(("Error", "Required", "Unavailable"))]
    for name in errors:
        if name in ("KakaoAuthError", "TokenStoreConflict"):
            continue
        assert f"`{name}`" in EN and f"`{name}`" in KO, name


def test_every_cli_command_is_documented_in_both() -> None:
    from kakao_auth.cli import COMMANDS

    for name in COMMANDS:
        assert f"`kakao-auth {name}" in EN and f"`kakao-auth {name}" in KO, name


def test_the_readmes_test_command_is_what_ci_runs_and_the_demo_has_its_own_venv() -> None:
    # The two newcomer commands: the demo's virtualenv is not the suite's, and .ci/run runs the
    # suite's command word for word.
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for text in (EN, KO):
        demo, suite = _code_blocks(text)[0].splitlines()
        assert suite in ci.splitlines()
        venv = lambda line: line.split("python3 -m venv ")[1].split()[0]  # noqa: E731
        assert venv(demo) != venv(suite)
        assert demo.endswith("kakao-auth demo") and suite.endswith("-m pytest")
