"""What `pip install 'bankscore[all]'` gives, tried outside the source tree: regenerate on redeploy, end to end.

For every Azure spec we have and the local deployment's, a package is generated with the installed command and
scores against a loopback endpoint answering that spec's generation.

The built wheel goes into a fresh virtual environment (uv, for speed; the same wheel and dependencies pip would
install), and every command runs in an empty folder with its own workspace: train, deploy locally, pull the
spec, generate a typed package, import it and score shipped rows through its Client; then `pipeline run
--exclude duration` redeploys a 19-feature model and scores through the package it regenerated.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bankscore_tests_loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
_SHARED = os.environ.get("BANKSCORE_SWAGGER_SAMPLES") or str(ROOT.parent / "shared" / "azure" / "swagger-samples")
_REPO_SAMPLES = ROOT / "tests" / "bankscore" / "swagger" / "data"
# Every Azure spec we have (the shared research folder holds all 11), and the local deployment's.
SAMPLES = [
    *(sorted(Path(_SHARED).glob("*.json")) if Path(_SHARED).is_dir() else sorted(_REPO_SAMPLES.glob("*.json"))),
    ROOT / "swagger" / "openapi3.json",
]

SCORE_EVERY_PACKAGE = """
import json, sys
from bankscore.data import load_training_data
rows = []
for row in load_training_data().records():
    rows.append(row)
    if len(rows) == 5:
        break
answers = {}
for name, uri in json.loads(sys.argv[1]).items():
    package = __import__(name)
    wire = [info.serialization_alias or field for field, info in package.Record.model_fields.items()]
    with package.Client(uri, max_retries=0) as client:
        result = client.predict_many([{k: r[k] for k in wire} for r in rows], batch_size=2)
    answers[name] = {
        "fields": wire,
        "generation": package.GENERATION,
        "labels": result.labels,
        "probabilities": [p.probability for p in result.predictions],
    }
print(json.dumps(answers))
"""

SCORE_THROUGH_PACKAGE = """
import json, sys, warnings
from bankscore.data import load_training_data
package = __import__(sys.argv[1])
wire = [info.serialization_alias or name for name, info in package.Record.model_fields.items()]
rows = []  # shipped rows with their label, cut to the package's record
for row in load_training_data().records(with_label=True):
    rows.append({k: v for k, v in row.items() if k in wire or k == "y"})
    if len(rows) == 300:
        break
with warnings.catch_warnings(record=True) as said:
    warnings.simplefilter("always")
    with package.Client(sys.argv[2]) as client:
        result = client.predict_many(rows, batch_size=50)
        one = client.predict(package.Record(**{k: rows[0][k] for k in wire}))
print(json.dumps({
    "fields": wire,
    "generation": package.GENERATION,
    "labels": result.labels,
    "probabilities": [p.probability for p in result.predictions],
    "one": one.label,
    "warnings": sorted({str(w.message).split(":")[0] for w in said}),
}))
"""


class Installed:
    """A fresh venv holding the built wheel with [all], and an empty working folder outside the source tree."""

    def __init__(self, venv: Path, work: Path) -> None:
        self.venv = venv
        self.work = work
        self.env = {
            **os.environ,
            "BANKSCORE_HOME": str(work / ".bankscore"),
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": "",
        }
        for name in ("BANKSCORE_URI", "BANKSCORE_KEY", "MLFLOW_TRACKING_URI", "VIRTUAL_ENV"):
            self.env.pop(name, None)

    def run(self, *args: str, timeout: float = 300, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
        # With a PYTHONPATH the command runs there too: `python -c` puts its working folder first on sys.path.
        env = dict(self.env, PYTHONPATH=str(pythonpath) if pythonpath else "")
        command = [str(self.venv / "bin" / args[0]), *args[1:]]
        cwd = pythonpath or self.work
        return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout, check=False)

    def ok(self, *args: str, timeout: float = 300, pythonpath: Path | None = None) -> str:
        proc = self.run(*args, timeout=timeout, pythonpath=pythonpath)
        assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed (it is in the test dependency group: ./dev.sh test installs it)")
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("bankscore-*.whl")
    venv = base / "venv"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True, capture_output=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), f"{wheel}[all]"],
        check=True,
        capture_output=True,
    )
    work = base / "work"  # nothing of the checkout is here or on sys.path
    work.mkdir()
    tool = Installed(venv, work)
    yield tool
    tool.run("bankscore", "deploy", "stop", timeout=60)


@pytest.mark.slow
def test_every_spec_gives_a_package_that_scores_from_the_wheel(
    installed: Installed, scoring_server: Callable[[dict[str, Any]], Any]
) -> None:
    from bankscore.swagger import load_document, request_shape

    packages = installed.work / "samples"
    uris: dict[str, str] = {}
    expected: dict[str, tuple[list[str], str]] = {}
    for i, sample in enumerate(SAMPLES):
        name = f"sample_{i}_client"
        installed.ok("bankscore", "swagger", "generate", "--spec", str(sample), "--output", str(packages / name))
        document = load_document(sample)
        shape = request_shape(document)
        uris[name] = scoring_server(document).scoring_uri
        fields = [path.removeprefix("record.") for path in shape.fields if path.startswith("record.")]
        expected[name] = (fields, str(shape.generation))
    answers = json.loads(installed.ok("python", "-c", SCORE_EVERY_PACKAGE, json.dumps(uris), pythonpath=packages))
    assert len(answers) == len(SAMPLES) >= 4
    for name, answer in answers.items():
        fields, generation = expected[name]
        assert answer["fields"] == fields, name
        assert answer["generation"] == generation, name
        assert len(answer["labels"]) == 5 and set(answer["labels"]) <= {"no", "yes"}, name
        assert all((p is not None) == (generation != "A") for p in answer["probabilities"]), name


@pytest.mark.slow
def test_regenerate_on_redeploy_from_the_wheel(installed: Installed) -> None:
    where = installed.ok("python", "-c", "import bankscore; print(bankscore.__file__)")
    assert str(installed.venv) in where and str(ROOT) not in where

    port = free_port()
    installed.ok("bankscore", "data", "register")
    installed.ok("bankscore", "train", "--max-trials", "4", "--cv", "3", "--no-ensemble", timeout=600)
    installed.ok("bankscore", "deploy", "local", "--port", str(port))
    uri = f"http://127.0.0.1:{port}/score"

    installed.ok("bankscore", "swagger", "pull", uri, "-o", "live.json")
    installed.ok("bankscore", "swagger", "generate", "--spec", "live.json", "--output", "pkgs/pulled_client")
    installed.ok("bankscore", "swagger", "generate")  # defaults: the running deployment, ./<title>_client
    assert (installed.work / "bank_marketing_client" / "spec.json").read_bytes() == (
        installed.work / "pkgs" / "pulled_client" / "spec.json"
    ).read_bytes()

    first = json.loads(
        installed.ok("python", "-c", SCORE_THROUGH_PACKAGE, "bank_marketing_client", uri, pythonpath=installed.work)
    )
    assert len(first["fields"]) == 20 and "duration" in first["fields"]
    assert first["generation"] == "C"
    assert len(first["labels"]) == 300 and set(first["labels"]) <= {"no", "yes"}
    assert all(0 <= p <= 1 for p in first["probabilities"]) and len(set(first["probabilities"])) > 1
    assert first["warnings"] == ["300 records had the label column 'y', which the endpoint does not take"]

    installed.ok(
        "bankscore", "pipeline", "run", "--exclude", "duration", "--time-budget", "15", "--port", str(port),
        timeout=900,
    )  # fmt: skip
    clients = installed.work / ".bankscore" / "clients"
    second = json.loads(
        installed.ok("python", "-c", SCORE_THROUGH_PACKAGE, "bank_marketing_client", uri, pythonpath=clients)
    )
    assert len(second["fields"]) == 19 and "duration" not in second["fields"]
    assert len(second["labels"]) == 300 and all(label in {"no", "yes"} for label in second["labels"])

    # The package generated before the redeploy now fails its drift check, and says how to regenerate.
    stale = installed.run(
        "python",
        "-c",
        f"import bank_marketing_client as p; p.Client({uri!r}, check_schema=True)",
        pythonpath=installed.work,
    )
    assert stale.returncode == 1
    assert "record.duration removed" in stale.stderr
    assert f"bankscore swagger generate --spec http://127.0.0.1:{port}/swagger.json" in stale.stderr


@pytest.mark.slow
def test_a_no_code_managed_endpoint_from_the_wheel(installed: Installed) -> None:
    """Generation D from the wheel alone: serve it, generate its package, score, write the Azure assets."""
    if json.loads(installed.ok("bankscore", "models", "list", "--json")) == []:  # run alone: train first
        installed.ok("bankscore", "data", "register")
        installed.ok("bankscore", "train", "--max-trials", "4", "--cv", "3", "--no-ensemble", timeout=600)
    port = free_port()
    installed.ok("bankscore", "deploy", "local", "--name", "nocode", "--generation", "D", "--port", str(port))
    try:
        uri = f"http://127.0.0.1:{port}/score"
        swagger = f"http://127.0.0.1:{port}/swagger.json"
        installed.ok("bankscore", "swagger", "generate", "--spec", swagger, "--output", "pkgs/nocode_client")
        answer = json.loads(
            installed.ok(
                "python", "-c", SCORE_THROUGH_PACKAGE, "nocode_client", uri, pythonpath=installed.work / "pkgs"
            )
        )
        assert answer["generation"] == "D"
        assert len(answer["labels"]) == 300 and set(answer["labels"]) <= {"no", "yes"}
        assert all(isinstance(p, float) and 0 <= p <= 1 for p in answer["probabilities"])
    finally:
        installed.run("bankscore", "deploy", "stop", "--name", "nocode", timeout=60)

    installed.ok("bankscore", "deploy", "azure", "--generation", "D", "--output", "azure-d")
    assets = installed.work / "azure-d"
    assert (assets / "endpoint.yml").is_file() and (assets / "deployment.yml").is_file()
    assert "signature:" in (assets / "model" / "MLmodel").read_text()
    assert "mlflow_model" in (assets / "deployment.yml").read_text()
