"""The README, run as a newcomer runs it: its runnable code blocks, in order, from the built wheel.

The convention: a fenced ```bash or ```python block directly under a line holding only ``<!-- doctest -->`` is
runnable (GitHub does not render the comment). Every other block is not run: Azure-only snippets (real Azure
URIs, ``az`` commands, keys to fill in), ``pip install`` lines, placeholders such as ``[--json]`` or ``URI``,
and commands that never end (``--follow``, Locust's web UI).

The runnable blocks go, in README order, through one shell each (bash with ``-e -o pipefail``; python with the
wheel venv's interpreter) in one empty working folder with its own workspace, outside the checkout, with
the wheel's ``bin`` first on ``PATH``. The wheel venv is built as in test_wheel.py (its ``installed`` fixture).
Two rewrites keep the run bounded and off fixed ports, and nothing else is changed:

- ``bankscore train`` gets ``--max-trials 3 --cv 3 --no-ensemble`` (a search bounded by trials, not minutes);
- ``bankscore deploy local`` gets ``--port P`` (a free port instead of 5001, which another program may hold).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bankscore_tests_loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- doctest -->"
TRAIN_FLAGS = "--max-trials 3 --cv 3 --no-ensemble"


def _wheel_module() -> Any:
    """tests/packaging/test_wheel.py, loaded by path (the tests are not a package): its wheel venv fixture."""
    name = "bankscore_tests_packaging_wheel"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_wheel.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


installed = _wheel_module().installed  # the same fixture: the built wheel with [all] in a fresh venv


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # where the block's code starts in README.md (1-based)


def runnable_blocks(text: str) -> list[Block]:
    """The blocks marked runnable, in order."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        fence = lines[i + 1].strip() if i + 1 < len(lines) else ""
        match = re.fullmatch(r"```(bash|python)", fence)
        assert match, f"README.md line {i + 2}: {MARKER} must stand right above a ```bash or ```python block"
        end = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == "```")
        blocks.append(Block(match.group(1), "\n".join(lines[i + 2 : end]) + "\n", i + 3))
    return blocks


def bounded(code: str, port: int) -> str:
    """The two rewrites the module docstring lists."""
    code = re.sub(r"^bankscore train\b", f"bankscore train {TRAIN_FLAGS}", code, flags=re.MULTILINE)
    return re.sub(r"^bankscore deploy local\b", f"bankscore deploy local --port {port}", code, flags=re.MULTILINE)


def test_the_runnable_blocks_are_marked_and_hold_nothing_azure_only() -> None:
    blocks = runnable_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 5 and {b.language for b in blocks} == {"bash", "python"}
    assert "bankscore deploy local" in blocks[0].code and "customers.csv" in blocks[0].code
    for block in blocks:
        code = "\n".join(line.split("  #", 1)[0] for line in block.code.splitlines())  # comments may say anything
        for needle in ("azure.com", "azurecontainer.io", "az ml ", "pip install", "--follow", "[--", "<"):
            assert needle not in code, f"README.md line {block.line}: {needle!r} in a runnable block"
    rewritten = bounded("bankscore train --seed 7\nbankscore deploy local --auth\nbankscore deploy status\n", 6001)
    assert rewritten == (
        f"bankscore train {TRAIN_FLAGS} --seed 7\nbankscore deploy local --port 6001 --auth\nbankscore deploy status\n"
    )


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_readme_runs_in_order_from_the_wheel(installed: Any, tmp_path: Path) -> None:
    work = tmp_path / "newcomer"
    work.mkdir()
    env = {**installed.env, "BANKSCORE_HOME": str(work / ".bankscore")}
    venv_python = str(installed.venv / "bin" / "python")
    port = free_port()
    blocks = runnable_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    try:
        for block in blocks:
            code = bounded(block.code, port)
            command = (
                ["bash", "-e", "-o", "pipefail", "-c", code] if block.language == "bash" else [venv_python, "-c", code]
            )
            proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=1200, check=False)
            assert proc.returncode == 0, (
                f"README.md line {block.line} ({block.language}) exit {proc.returncode}:\n{code}\n"
                f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
            )
    finally:
        subprocess.run(
            [str(installed.venv / "bin" / "bankscore"), "deploy", "stop"], cwd=work, env=env, timeout=120, check=False
        )

    # What the steps were meant to leave behind.
    scored = (work / "scored.csv").read_text().splitlines()
    assert len(scored) == 61  # a header and the 60 sampled customers, each scored
    assert sorted(p.name for p in (work / "examples").iterdir()) == sorted(
        p.name for p in (ROOT / "examples").iterdir() if p.is_file()
    )
    versions = subprocess.run(
        [str(installed.venv / "bin" / "bankscore"), "models", "list"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert [line.split()[0] for line in versions.stdout.splitlines()] == [f"bank-marketing:{v}" for v in (1, 2, 3)]
    assert (work / "azure-deploy" / "score.py").is_file()
