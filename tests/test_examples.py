"""The examples run as written: the cron script against the fake Kakao, the workflow's step
against the fake Kakao and a fake GitHub, and docs/stores.md's snippets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from kakao_auth.testing import FakeGitHub, FakeKakao

ROOT = Path(__file__).resolve().parent.parent


def test_send_memo_example(fake_kakao: FakeKakao, tmp_path: Path) -> None:
    fake_kakao.write_token_file(tmp_path / "kakao_token.json", access_ttl=0)
    env = {**os.environ, **fake_kakao.environ()}
    script = str(ROOT / "examples" / "send_memo.py")
    done = subprocess.run(
        [sys.executable, script, "backup", "finished"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert fake_kakao.memos[-1]["text"] == "backup finished"
    fake_kakao.revoke_all()
    failed = subprocess.run([sys.executable, script], cwd=tmp_path, env=env, capture_output=True, text=True)
    fake_kakao.expire_access_tokens()
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and "kakao-auth login" in failed.stderr


def test_the_workflows_step_runs_as_written(fake_kakao: FakeKakao, tmp_path: Path) -> None:
    workflow = (ROOT / "examples" / "github-actions.yml").read_text()
    assert "cancel-in-progress: false" in workflow and "concurrency:" in workflow
    step = re.search(r"- run: (kakao-auth memo .*)\n\s+env:\n((?:\s+[A-Z_]+: .*\n)+)", workflow)
    assert step is not None
    refresh_token = fake_kakao.write_token_file(tmp_path / "login.json").refresh_token
    with FakeGitHub(ca=fake_kakao.ca, ca_bundle=fake_kakao.ca_bundle) as github:
        secrets = {
            "KAKAO_REST_API_KEY": fake_kakao.client_id,
            "KAKAO_CLIENT_SECRET": "",
            "KAKAO_REFRESH_TOKEN": str(refresh_token),
            "GH_PAT": github.writer_token,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAKAO_", "GITHUB_", "GH_"))}
        env.update({**fake_kakao.environ(), **github.environ()})
        for line in step.group(2).strip().splitlines():
            name, _, value = line.strip().partition(": ")
            secret = re.fullmatch(r"\$\{\{ secrets\.([A-Z_]+) \}\}", value)
            env[name] = secrets[secret.group(1)] if secret else value
        command = step.group(1).replace("kakao-auth", f"{sys.executable} -m kakao_auth", 1)
        done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True, timeout=120)  # noqa: S602
    assert done.returncode == 0, done.stderr
    assert fake_kakao.memos[-1]["text"] == "좋은 아침입니다"


def stores_doc_snippets() -> list[str]:
    """The Python snippets of docs/stores.md, in order."""
    return re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "stores.md").read_text(), re.S)


def test_the_stores_doc_snippets_run(
    fake_kakao: FakeKakao, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_kakao.write_token_file(tmp_path / "kakao_token.json")
    monkeypatch.chdir(tmp_path)
    ran = 0
    for snippet in stores_doc_snippets():
        if "redis" in snippet.lower() or "KAKAO_TOKEN_STORE" in snippet:
            continue  # these run in tests/test_redis.py against a real redis-server
        exec(compile(snippet, "docs/stores.md", "exec"), {})  # noqa: S102
        ran += 1
    assert ran >= 1
