"""Imports flow one way (pyproject.toml's import-linter contracts), and `import bankscore` stays the client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run(
        [lint_imports, "--no-cache"], capture_output=True, text=True, cwd=ROOT, check=False, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_import_bankscore_loads_no_deploy_automl_or_pipeline_module() -> None:
    code = (
        "import sys, bankscore; bankscore.Client; bankscore.AsyncClient; bankscore.BankMarketingRecord; "
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('bankscore'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = proc.stdout.split()
    assert "bankscore._client" in loaded  # the check can see what was loaded
    heavy = [m for m in loaded if m.split(".")[1:2] and m.split(".")[1] in {"deploy", "automl", "pipeline", "swagger"}]
    assert heavy == []
