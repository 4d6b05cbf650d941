"""The examples in docs/examples run as a user runs them: ``pytest`` in the example's own folder (its
pytest.ini is the root; the duplex plugin comes from its entry point), against the example's real server
(Starlette under uvicorn; Node's socket.io). The SSE example's resume bug, switched on, fails with a message
that names what was lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import FOREIGN_PLUGINS_OFF, ROOT

EXAMPLES = ROOT / "docs" / "examples"


def run_example(name: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FOREIGN_PLUGINS_OFF,
                           "--basetemp", str(tmp_path / "bt"), *args], cwd=EXAMPLES / name, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("name", ["sse_starlette", "socketio_node"])
def test_the_example_passes_against_its_server(name: str, tmp_path: Path) -> None:
    res = run_example(name, tmp_path)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert " passed" in res.stdout and "failed" not in res.stdout


def test_the_sse_examples_resume_bug_fails_with_what_was_lost(tmp_path: Path) -> None:
    """``--broken-resume``: the server ignores Last-Event-ID, so a dropped client misses what came meanwhile."""
    res = run_example("sse_starlette", tmp_path, "-k", "dropped", env={"BROKEN_RESUME": "1"})
    out = res.stdout
    assert res.returncode == 1 and "1 failed" in out, out[-4000:]
    assert "LossError: sse http://127.0.0.1:" in out and " lost, 0 duplicated of " in out
    assert "missing seqs: " in out and "across drop episode 1" in out
    assert '(after the fault "connection dropped (TCP abort)" at +' in out and "with Last-Event-ID: " in out
    assert " missing here -----" in out
