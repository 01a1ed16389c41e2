"""The scoring package as it ships: self-contained, copied whole beside score.py, and run there without bankscore."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from bankscore_tests_scoring_helpers import GOOD, LONG_CALL, body, tiny_documents

from bankscore import _facts
from bankscore.deploy import bankscore_scoring
from bankscore.deploy._folder import ENTRY_SCRIPT, SCORING_PACKAGE, write_deployment_folder
from bankscore.deploy.bankscore_scoring import facts

PACKAGE = Path(bankscore_scoring.__file__).parent
# What Azure's scoring image has besides the standard library: the folder's environment.yml pins these.
ALLOWED = {"numpy", "orjson", "azureml", "flask"}
MAX_LINES = 500


def test_modules_import_one_another_relatively_and_nothing_of_bankscore() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top = node.module.split(".")[0]
            elif isinstance(node, ast.Import):
                top = node.names[0].name.split(".")[0]
            else:
                continue
            assert top in ALLOWED or top in sys.stdlib_module_names or top == "__future__", f"{path.name}: {top}"


def test_every_module_reads_in_one_sitting() -> None:
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.glob("*.py")}
    assert sizes and max(sizes.values()) <= MAX_LINES, sizes


# Runs in a fresh interpreter in which importing bankscore fails, as in Azure's image.
_WITHOUT_BANKSCORE = """
import importlib.abc, json, sys
from types import SimpleNamespace

class NoBankscore(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "bankscore" or name.startswith("bankscore."):
            raise ImportError("bankscore is not installed in Azure's image")
        return None

sys.meta_path.insert(0, NoBankscore())
sys.path.insert(0, sys.argv[1])  # the server puts the app root on sys.path
import score
score.init()
raw = sys.argv[2].encode()
request = SimpleNamespace(method="POST", headers={"Content-Type": "application/json"}, content_length=len(raw),
                          stream=__import__("io").BytesIO(raw))
answer, status = score.run(request)
loaded = sorted(m for m in sys.modules if m.startswith("bankscore"))
print(json.dumps({"answer": answer, "status": status, "loaded": loaded}))
"""


def test_the_folder_scores_without_bankscore(tmp_path: Path) -> None:
    artifact, contract = tiny_documents("C")
    folder = write_deployment_folder(tmp_path / "app", artifact=artifact, contract=contract, name="tiny")
    shipped = sorted(p.name for p in (folder.path / SCORING_PACKAGE).iterdir())
    assert shipped == sorted(p.name for p in PACKAGE.glob("*.py"))  # every module, and no caches
    assert (folder.path / ENTRY_SCRIPT).is_file()
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_BANKSCORE, str(folder.path), body("C", [GOOD, LONG_CALL]).decode()],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"AZUREML_MODEL_DIR": str(folder.model_dir), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["status"] == 200 and result["answer"] == {"Results": ["no", "yes"]}
    assert result["loaded"] == ["bankscore_scoring", *sorted(f"bankscore_scoring.{m}" for m in _imported())]


def _imported() -> list[str]:
    """The package's modules that score.py loads: every one but none beyond (all are on the request path)."""
    return [p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"]


def test_the_shipped_limits_are_bankscores() -> None:
    # The package keeps its own copy (it cannot import bankscore on Azure): the two must not drift apart.
    assert facts.DEFAULT_MAX_RECORDS == _facts.MAX_RECORDS_PER_REQUEST
    assert facts.DEFAULT_MAX_BODY_BYTES == _facts.DEPLOYMENT_MAX_BODY_BYTES
