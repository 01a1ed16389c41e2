"""What every benchmark script does the same way: run `bankscore` commands, take a free port, load a file of
the tests by path, and write its raw results with the date and the machine they were measured on.

The scripts run as ``python benchmarks/NAME.py``, which puts this folder on ``sys.path``: they ``from _common
import ...``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "argument_parser", "bankscore", "free_port", "load_by_path", "workspace_env", "write_results"]

ROOT = Path(__file__).resolve().parents[1]


def argument_parser(doc: str, results: str) -> argparse.ArgumentParser:
    """The script's options: described by its docstring's first line, with ``--output`` (where its raw results
    go) defaulting to ``benchmarks/results/RESULTS``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / results)
    return parser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bankscore(*args: str, env: dict[str, str]) -> str:
    """``bankscore ARGS`` in a child process (the way a user runs it); its stdout, or the run stops with its stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", *args], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"bankscore {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def workspace_env(home: Path) -> dict[str, str]:
    """This environment pointed at a fresh workspace ``home``: nothing of the user's own registry or endpoint."""
    env = {**os.environ, "BANKSCORE_HOME": str(home)}
    for name in ("MLFLOW_TRACKING_URI", "BANKSCORE_URI", "BANKSCORE_KEY"):
        env.pop(name, None)
    return env


def load_by_path(name: str, path: Path) -> Any:
    """A file that is not in an importable package (the tests' shared files), loaded once under ``name``."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


def write_results(path: Path, record: dict[str, Any], *, machine: str = "") -> dict[str, Any]:
    """``record`` with the date and the machine first (numbers from different machines do not compare), written
    to ``path`` as JSON; the stamped record."""
    machine = machine or f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    stamped = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine, **record}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stamped, indent=2) + "\n")
    return stamped
