"""Azure's build of what `deploy azure` writes, replayed: an environment from the folder's own declarations only.

Azure builds a no-code deployment's image from the MLflow model's ``conda.yaml`` (its Python and its pip list)
plus the two packages its MLflow image adds, ``azureml-inference-server-http`` and ``azureml-ai-monitoring``,
and serves the folder with Microsoft's ``mlflow_score_script.py``. For generation C it builds the folder's own
``environment.yml`` and serves the folder's ``score.py``. Here each build is a fresh venv with exactly that
(``pip install`` from the public index, nothing of the project's environment, no bankscore), served by azmlinfsrv
on 127.0.0.1 and scored through ``bankscore.Client`` and a raw POST, then compared with the model's own
``predict`` run inside the same environment.

Each venv is cached by a hash of what it holds (the Python and the pip list) under
``$BANKSCORE_AZURE_BUILD_CACHE`` (default ``~/.cache/bankscore/azure-build``), with pip's download cache beside
it, so a run pays for a build once per set of requirements.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml

from bankscore import Client, WireGeneration
from bankscore.data import load_training_data
from bankscore.deploy._scorer_artifact import TOLERANCE

pytestmark = pytest.mark.slow

_oracle = sys.modules["bankscore_tests_no_code_oracle"]  # loaded by tests/conftest.py
_fixtures = sys.modules["bankscore_tests_deploy_fixtures"]

# What Azure's MLflow inference image installs beside a no-code model's own requirements (its conda file, in
# ../shared/azure/mlflow-no-code/conda_dependencies.yaml, takes the latest release of each).
AZURE_ADDS = ("azureml-inference-server-http", "azureml-ai-monitoring")
BUILD_TIMEOUT = 1200.0  # a cold pip cache downloads several hundred MB on a busy 2-core machine
STALE_SECONDS = 14 * 24 * 3600


# --- what a folder declares ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    python: str  # the version conda would install: "3.11.7" or "3.11"
    pip: tuple[str, ...]


def declared(conda_file: Path) -> Declared:
    """The Python and the pip list of a conda environment file (MLflow's conda.yaml, our environment.yml)."""
    document = yaml.safe_load(conda_file.read_text())
    python = ""
    pip: list[str] = []
    for entry in document["dependencies"]:
        if isinstance(entry, str) and re.fullmatch(r"python=+[\d.]+", entry):
            python = entry.split("=")[-1]
        elif isinstance(entry, dict) and "pip" in entry:
            pip.extend(str(item) for item in entry["pip"])
    assert python, f"{conda_file} names no Python version"
    return Declared(python, tuple(pip))


def _version_of(python: str) -> str:
    done = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _matches(version: str, wanted: str) -> bool:
    return version == wanted or version.startswith(wanted + ".")


def find_python(wanted: str) -> str:
    """An interpreter of the declared version: this one's base, ``pythonX.Y`` on PATH, or a pyenv version."""
    major_minor = ".".join(wanted.split(".")[:2])
    candidates = [getattr(sys, "_base_executable", sys.executable), shutil.which(f"python{major_minor}") or ""]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p / "bin" / "python") for p in sorted(pyenv.glob(f"{major_minor}*"))]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and _matches(_version_of(candidate), wanted):
            return candidate
    pytest.fail(f"no Python {wanted} on this machine: the model declares it (its conda.yaml)")


# --- the build -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    python: Path
    version: str  # the venv's Python
    reused: bool
    seconds: float  # what building (or finding) it cost in this call
    built_seconds: float  # what building it cost when it was built


def _cache_root() -> Path:
    if "BANKSCORE_AZURE_BUILD_CACHE" in os.environ:
        return Path(os.environ["BANKSCORE_AZURE_BUILD_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "bankscore" / "azure-build"


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that would lend the build the project venv's packages."""
    drop = {
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "PIP_CONSTRAINT",
        "PIP_REQUIRE_VIRTUALENV",
        "MLFLOW_TRACKING_URI",
    }
    return {k: v for k, v in os.environ.items() if k not in drop}


def build(declared_env: Declared, extra: tuple[str, ...] = ()) -> Build:
    """A venv of the declared Python with ``pip install`` of the declared list plus ``extra``, and nothing else."""
    started = time.monotonic()
    interpreter = find_python(declared_env.python)
    version = _version_of(interpreter)
    recipe = {"python": version, "pip": sorted(declared_env.pip), "extra": sorted(extra)}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"py{version}-{key}"
    python = venv / "bin" / "python"
    ready = venv / ".azure-build-ready"
    reused = True
    with (root / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel sessions wait for one builder; released if this one dies
        if not ready.is_file():
            reused = False
            shutil.rmtree(venv, ignore_errors=True)  # a build that died half way
            env = _clean_env()
            subprocess.run([interpreter, "-m", "venv", str(venv)], env=env, check=True, timeout=300)
            install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            done = subprocess.run(
                [*install, "--cache-dir", str(root / "pip-cache"), *declared_env.pip, *extra],
                env=env,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT,
                check=False,
            )
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                pytest.fail(
                    f"pip install of the declared requirements failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
                )
            ready.write_text(json.dumps({**recipe, "seconds": time.monotonic() - started}))
        built_seconds = float(json.loads(ready.read_text())["seconds"])
        os.utime(ready)  # its time is the venv's last use, for _prune
    _prune(root, keep=venv)
    return Build(python, _version_of(str(python)), reused, time.monotonic() - started, built_seconds)


def _prune(root: Path, keep: Path) -> None:
    """Remove the venvs of other requirements unused for two weeks."""
    for venv in root.glob("py*-*"):
        ready = venv / ".azure-build-ready"
        if venv == keep or not ready.is_file() or time.time() - ready.stat().st_mtime < STALE_SECONDS:
            continue
        with (root / f"{venv.name}.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(venv, ignore_errors=True)


def installed(build_: Build, distribution: str) -> bool:
    done = subprocess.run(
        [str(build_.python), "-c", f"import importlib.metadata as m; m.version({distribution!r})"],
        capture_output=True,
        timeout=60,
        env=_clean_env(),
        check=False,
    )
    return done.returncode == 0


# --- the model, the folders --------------------------------------------------------------------------------------


def _shipped(count: int, start: int = 0) -> list[dict[str, Any]]:
    return list(islice(load_training_data().records(), start, start + count))


@pytest.fixture(scope="module")
def records(trained: Any) -> list[dict[str, Any]]:
    """The session model's yes-scored and no-scored records, then 198 shipped rows."""
    return [*trained.records, *_shipped(198, start=300)]


@pytest.fixture(scope="module")
def folders(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What `deploy azure` writes for the session's model, for generations C and D."""
    out = tmp_path_factory.mktemp("azure-build")
    made = {}
    for generation in ("C", "D"):
        dest = out / generation
        done = trained.cli("deploy", "azure", "--generation", generation, "--output", str(dest), "--name", "bank-mkt")
        assert done.returncode == 0, done.stderr
        made[generation] = dest
    return made


_OWN_PREDICT = (
    "import json, sys\n"
    "import mlflow, pandas as pd\n"
    "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
    "frame = pd.DataFrame(json.load(open(sys.argv[2])))\n"
    "labels = [str(v) for v in model.predict(frame)]\n"
    "proba = model.predict(frame, params={'predict_method': 'predict_proba'})\n"
    "print(json.dumps({'labels': labels, 'yes': proba['yes'].tolist(), 'no': proba['no'].tolist()}))\n"
)


def own_predictions(python: Path, model_folder: Path, rows: list[dict[str, Any]], tmp: Path) -> dict[str, Any]:
    """The model's own predict and predict_proba, run inside the built environment."""
    source = tmp / "rows.json"
    source.write_text(json.dumps(rows))
    done = subprocess.run(
        [str(python), "-c", _OWN_PREDICT, str(model_folder), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_clean_env(),
        cwd=tmp,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def _split(rows: list[dict[str, Any]], features: list[str]) -> dict[str, Any]:
    return {"columns": features, "index": list(range(len(rows))), "data": [[r[n] for n in features] for r in rows]}


# --- generation D: the model folder, Microsoft's script -----------------------------------------------------------


@pytest.fixture(scope="module")
def d_build(folders: dict[str, Path]) -> Build:
    return build(declared(folders["D"] / "model" / "conda.yaml"), extra=AZURE_ADDS)


def test_d_declares_only_public_packages_and_the_python_it_was_trained_with(folders: dict[str, Path]) -> None:
    model = folders["D"] / "model"
    env = declared(model / "conda.yaml")
    requirements = [line for line in (model / "requirements.txt").read_text().splitlines() if line.strip()]
    assert list(env.pip) == requirements
    assert not [pin for pin in requirements if pin.split("==")[0] == "bankscore"]
    assert env.python == platform.python_version()


def test_d_builds_from_its_own_requirements_without_bankscore(d_build: Build, folders: dict[str, Path]) -> None:
    wanted = declared(folders["D"] / "model" / "conda.yaml").python
    assert _matches(d_build.version, wanted)
    assert not installed(d_build, "bankscore")
    assert all(installed(d_build, name) for name in AZURE_ADDS)
    print(
        f"\nD environment: Python {d_build.version}, built in {d_build.built_seconds:.0f} s, "
        f"{'reused' if d_build.reused else 'built'} in this run ({d_build.seconds:.1f} s)"
    )


def test_microsofts_script_serves_d_as_the_model_predicts_in_azures_build(
    d_build: Build, folders: dict[str, Path], records: list[dict[str, Any]], tmp_path: Path
) -> None:
    model = folders["D"] / "model"
    features = json.loads((model / "input_example.json").read_text())["columns"]
    rows = [{n: r[n] for n in features} for r in records]
    own = own_predictions(d_build.python, model, rows, tmp_path)
    assert len(set(own["yes"])) > 10  # real probabilities, not a constant

    log = tmp_path / "server.log"
    with _oracle.no_code_server(model, python=d_build.python, log=log) as url:
        raw = httpx.post(url + "/score", json={"input_data": _split(rows, features)}, timeout=120, trust_env=False)
        proba_body = {"input_data": _split(rows, features), "params": {"predict_method": "predict_proba"}}
        raw_proba = httpx.post(url + "/score", json=proba_body, timeout=120, trust_env=False)
        with Client(url + "/score") as client:
            assert client.generation is WireGeneration.D
            scored = client.predict_many(records, batch_size=50, concurrency=2)
        with Client(url + "/score", probabilities=False) as client:
            labels_only = client.predict_many(records, batch_size=100)
        spec = httpx.get(url + "/swagger.json?version=3", timeout=30, trust_env=False).json()

    assert raw.status_code == 200, raw.text
    assert raw.json() == own["labels"]
    assert raw_proba.status_code == 200, raw_proba.text
    assert [row["yes"] for row in raw_proba.json()] == own["yes"]
    assert [row["no"] for row in raw_proba.json()] == own["no"]
    assert scored.ok and scored.labels == own["labels"]
    np.testing.assert_allclose(scored.probabilities, own["yes"], rtol=0, atol=1e-12)
    assert labels_only.labels == own["labels"]
    # The script read the input example at start-up (it cannot under pandas 3): the Swagger shows its rows.
    assert spec["components"]["schemas"]["ServiceInput"]["example"]["input_data"]["data"] != []
    assert "Failure processing model sample input" not in log.read_text(errors="replace")


def test_the_model_in_azures_build_answers_as_it_does_where_it_was_trained(
    d_build: Build, folders: dict[str, Path], trained: Any, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    from bankscore.automl._registry import load_model

    model = folders["D"] / "model"
    with _fixtures.workspace_env(trained.home):
        here = load_model(trained.model_ref)
    rows = [{n: r[n] for n in here.features} for r in records]
    there = own_predictions(d_build.python, model, rows, tmp_path)
    assert there["labels"] == here.predict(records)
    np.testing.assert_allclose(there["yes"], here.predict_proba(records)[:, 1], rtol=0, atol=1e-12)


# --- generation C: the folder's own score.py on its own environment.yml -----------------------------------------


@pytest.fixture(scope="module")
def c_build(folders: dict[str, Path]) -> Build:
    return build(declared(folders["C"] / "environment.yml"))


@pytest.fixture
def c_server(c_build: Build, folders: dict[str, Path], tmp_path: Path) -> Iterator[str]:
    """The C folder's score.py on azmlinfsrv in the built environment, as Azure's image runs it."""
    folder = folders["C"]
    (model_dir,) = (folder / "azureml-models").glob("*/*")
    log = tmp_path / "server.log"
    port = _fixtures.free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **_clean_env(),
        "AML_APP_ROOT": str(folder),
        "AZUREML_ENTRY_SCRIPT": "score.py",
        "AZUREML_MODEL_DIR": str(model_dir),
        "GUNICORN_CMD_ARGS": "--no-control-socket",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    proc = _oracle.start_loopback_server(c_build.python, folder, "score.py", port, env, log)
    try:
        deadline = time.monotonic() + _oracle.START_TIMEOUT
        while proc.poll() is None and not _oracle._healthy(url):
            assert time.monotonic() < deadline, f"score.py did not come up:\n{_oracle._tail(log)}"
            time.sleep(0.2)
        assert proc.poll() is None, f"the server exited {proc.returncode}:\n{_oracle._tail(log)}"
        yield url
    finally:
        _oracle._stop(proc)


def test_c_builds_from_its_environment_yml(c_build: Build, folders: dict[str, Path]) -> None:
    assert _matches(c_build.version, declared(folders["C"] / "environment.yml").python)
    assert not installed(c_build, "bankscore")
    assert installed(c_build, "azureml-inference-server-http")
    print(f"\nC environment: Python {c_build.version}, built in {c_build.built_seconds:.0f} s")


def test_c_score_py_in_azures_build_answers_as_the_model_predicts(
    c_server: str, trained: Any, records: list[dict[str, Any]]
) -> None:
    from bankscore.automl._registry import load_model

    with _fixtures.workspace_env(trained.home):
        model = load_model(trained.model_ref)
    expected_yes = model.predict_proba(records)[:, 1]
    with Client(c_server + "/score") as client:
        assert client.generation is WireGeneration.C
        scored = client.predict_many(records, batch_size=50, concurrency=2)
    assert scored.ok and scored.labels == model.predict(records)
    np.testing.assert_allclose(scored.probabilities, expected_yes, rtol=0, atol=TOLERANCE)
