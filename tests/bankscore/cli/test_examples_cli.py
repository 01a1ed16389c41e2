"""`bankscore examples [DEST]` copies the repository's examples/ (in a wheel: bankscore/examples) unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _bankscore(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BANKSCORE_HOME": str(cwd / "ws")}
    return subprocess.run(
        [sys.executable, "-m", "bankscore.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


def test_examples_are_copied_byte_for_byte_and_never_over_a_file(tmp_path: Path) -> None:
    proc = _bankscore("examples", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shipped = sorted(p.name for p in (ROOT / "examples").iterdir() if p.is_file())
    assert shipped and sorted(p.name for p in (tmp_path / "examples").iterdir()) == shipped
    for name in shipped:
        assert (tmp_path / "examples" / name).read_bytes() == (ROOT / "examples" / name).read_bytes()
    assert os.access(tmp_path / "examples" / "benchmark.sh", os.X_OK)
    assert proc.stdout.split() == [str(Path("examples") / name) for name in shipped]

    (tmp_path / "examples" / "endpoint.py").write_text("# mine\n")
    again = _bankscore("examples", cwd=tmp_path)
    assert again.returncode == 1 and "pass --force to overwrite" in again.stderr
    assert (tmp_path / "examples" / "endpoint.py").read_text() == "# mine\n"
    assert _bankscore("examples", "--force", cwd=tmp_path).returncode == 0
    assert (tmp_path / "examples" / "endpoint.py").read_bytes() == (ROOT / "examples" / "endpoint.py").read_bytes()
