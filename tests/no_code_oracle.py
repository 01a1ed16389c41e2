"""The generation-D oracle: Microsoft's no-code MLflow scoring script, unmodified, on the real ``azmlinfsrv``.

An Azure ML managed online endpoint serving an MLflow model without a scoring script runs
``azureml-inference-server-http`` with Microsoft's ``mlflow_score_script.py`` as its entry script
(``/work/shared/azure/GEN-D-CONTRACT.md``). This module runs exactly that on 127.0.0.1, so tests compare
bankscore's model, client and bench against the real wire instead of a description of it. The script is read
from ``$BANKSCORE_MLFLOW_NO_CODE`` (``./dev.sh test`` sets it when ``../shared`` exists) and never copied into
the repository; without the variable, everything here skips the test with the reason.

pandas: the oracle runs in its own virtual environment with ``pandas<3`` (``ORACLE_PANDAS``), built by uv and
cached (see ``oracle_environment``). Under pandas 3 the script cannot load a model's ``input_example`` at start-up
(its ``pd.read_json`` of a JSON string is read as a file path since pandas 3), so the endpoint's Swagger example
comes out with empty ``index``/``data``; under pandas 2 the example has the real rows (and Swagger 2 answers
404, as the contract records). Scoring a model with a signature is the same under both. A model pickled under
pandas 3 (the project venv) loads and scores identically there: the same P(yes) to the last bit was checked when
this was written. The other libraries are pinned to the project venv's versions, so only pandas differs.
``BANKSCORE_ORACLE_PYTHON=/path/to/python`` runs the oracle with another interpreter instead (for example the
project venv's, to see the pandas 3 behaviour); it must have the server, the script's imports and bankscore.

Use, in a context manager (any MLflow model folder)::

    with no_code_server(model_folder) as base_url:  # "http://127.0.0.1:PORT", GET / already answered
        httpx.post(base_url + "/score", json={"input_data": {...split frame...}, "params": {}})

or, in any test, the session fixture ``no_code_oracle`` (a ``NoCodeOracle``, registered once in
``tests/conftest.py``): the session's trained and registered model (the ``trained`` fixture), exported with
``bankscore.automl._registry.export_model_folder`` and served once per session. Tests are imported with
``--import-mode=importlib`` (the tests folder is not on ``sys.path``); a test module that needs this file's
helpers finds it in ``sys.modules["bankscore_tests_no_code_oracle"]``, where ``tests/conftest.py`` put it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankscore._pins import installed_pins

__all__ = [
    "ORACLE_PANDAS",
    "NoCodeOracle",
    "OracleEnvironment",
    "no_code_oracle",
    "no_code_server",
    "oracle_environment",
    "script_folder",
    "start_loopback_server",
]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "mlflow_score_script.py"

# The pandas of the oracle's environment, on purpose (see the module docstring).
ORACLE_PANDAS = "pandas<3"
# Pinned to the versions of the project venv, so that the oracle differs from it in pandas only: the server and
# the script's imports, and everything the pickled model needs to load (the model's own requirements.txt pins).
_SAME_AS_PROJECT = (
    "azureml-inference-server-http",
    "inference-schema",
    "azureml-ai-monitoring",
    "gunicorn",
    "flask",
    "mlflow",
    "mlflow-skinny",
    "flaml",
    "lightgbm",
    "xgboost",
    "scikit-learn",
    "scipy",
    "numpy",
    "cloudpickle",
)

START_TIMEOUT = 120.0  # loading MLflow, the model and the script on a busy 2-core CI runner
STOP_TIMEOUT = 15.0
INSTALL_TIMEOUT = 600.0  # a cold uv cache downloads ~300 MB; warm, the whole build takes seconds


# tests/bankscore/deploy/conftest.py as a module: whoever loads this file loads it first under this name
# (tests/conftest.py for the tests, benchmarks/serving.py for the benchmark).
_fixtures = sys.modules["bankscore_tests_deploy_fixtures"]


def script_folder() -> Path:
    """The folder holding Microsoft's script (``$BANKSCORE_MLFLOW_NO_CODE``); skips the test without it."""
    value = os.environ.get("BANKSCORE_MLFLOW_NO_CODE")
    if not value:
        pytest.skip("BANKSCORE_MLFLOW_NO_CODE is not set: Microsoft's no-code MLflow scoring script is not here")
    folder = Path(value)
    if not (folder / SCRIPT).is_file():
        pytest.skip(f"BANKSCORE_MLFLOW_NO_CODE={value} holds no {SCRIPT}")
    return folder


# --- the oracle's environment --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OracleEnvironment:
    """The interpreter the oracle runs with, and what building or reusing it cost."""

    python: Path
    pandas: str  # the installed pandas version
    reused: bool  # False: (re)built in this call
    seconds: float


def _cache_root() -> Path:
    if "BANKSCORE_ORACLE_CACHE" in os.environ:
        return Path(os.environ["BANKSCORE_ORACLE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "bankscore" / "no-code-oracle"


def _source_digest() -> str:
    """bankscore's sources and packaging: the oracle reinstalls bankscore when they change (it unpickles models)."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    for package in (ROOT / "client" / "bankscore", ROOT / "loadtest" / "bankscore_bench"):
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _uv() -> str:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed (it is in the test dependency group: ./dev.sh test installs it)")
    return uv


def _run(args: list[str], timeout: float) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:4]} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def _build_wheel(dest: Path) -> Path:
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dest), str(ROOT)], timeout=180)
    (wheel,) = dest.glob("bankscore-*.whl")
    return wheel


def oracle_environment() -> OracleEnvironment:
    """The oracle's interpreter: a cached venv with ``ORACLE_PANDAS``, or ``$BANKSCORE_ORACLE_PYTHON``.

    The venv lives under ``$BANKSCORE_ORACLE_CACHE`` (default ``~/.cache/bankscore/no-code-oracle``), in a folder
    named by a hash of what it holds (Python, the pins, pyproject.toml), and is built once: the built bankscore
    wheel with ``[train,serve]``, ``azureml-ai-monitoring`` (the script imports it) and ``ORACLE_PANDAS``, the
    other libraries constrained to the project venv's versions. When bankscore's sources change only bankscore
    is reinstalled (a wheel build, about 3 s). A file lock makes parallel sessions (pytest-xdist) wait for one
    builder instead of racing it.
    """
    started = time.monotonic()
    override = os.environ.get("BANKSCORE_ORACLE_PYTHON")
    if override:
        return OracleEnvironment(Path(override), _pandas_of(Path(override)), True, time.monotonic() - started)
    constraints = sorted(installed_pins(_SAME_AS_PROJECT))
    recipe = {
        "python": sys.version,
        "constraints": constraints,
        "pandas": ORACLE_PANDAS,
        "pyproject": hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest(),
    }
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"py{sys.version_info.major}{sys.version_info.minor}-{key}"
    python = venv / "bin" / "python"
    ready = venv / ".bankscore-oracle-ready"
    installed = venv / ".bankscore-source"
    source = _source_digest()
    reused = True
    with (root / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if this process dies
        if not ready.is_file():
            reused = False
            shutil.rmtree(venv, ignore_errors=True)  # a build that died half way
            with tempfile.TemporaryDirectory() as tmp:
                wheel = _build_wheel(Path(tmp))
                (Path(tmp) / "constraints.txt").write_text("\n".join(constraints) + "\n")
                uv = _uv()
                _run([uv, "venv", "-q", "-p", sys.executable, str(venv)], timeout=120)
                install = [uv, "pip", "install", "-q", "--python", str(python)]
                _run(
                    [
                        *install,
                        "-c",
                        str(Path(tmp) / "constraints.txt"),
                        f"{wheel}[train,serve]",
                        "azureml-ai-monitoring",
                        ORACLE_PANDAS,
                    ],
                    timeout=INSTALL_TIMEOUT,
                )
            installed.write_text(source)
            ready.write_text(json.dumps({**recipe, "pandas_version": _pandas_of(python)}))
        elif not installed.is_file() or installed.read_text() != source:
            reused = False
            with tempfile.TemporaryDirectory() as tmp:
                wheel = _build_wheel(Path(tmp))
                command = [_uv(), "pip", "install", "-q", "--python", str(python), "--no-deps", "--reinstall"]
                _run([*command, str(wheel)], timeout=120)
            installed.write_text(source)
        pandas = json.loads(ready.read_text())["pandas_version"]
        os.utime(ready)  # its time is the venv's last use, for _prune
    _prune(root, keep=venv)
    return OracleEnvironment(python, pandas, reused, time.monotonic() - started)


STALE_SECONDS = 7 * 24 * 3600


def _prune(root: Path, keep: Path) -> None:
    """Remove the oracle venvs of older recipes (a pyproject.toml edit makes a new one) unused for a week."""
    for venv in root.glob("py*-*"):
        ready = venv / ".bankscore-oracle-ready"
        if venv == keep or not venv.is_dir() or not ready.is_file():
            continue  # no ready file: being built right now, or a dead build its next user replaces
        if time.time() - ready.stat().st_mtime < STALE_SECONDS:
            continue
        with (root / f"{venv.name}.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another session is building or updating it
            shutil.rmtree(venv, ignore_errors=True)


def _pandas_of(python: Path) -> str:
    proc = subprocess.run(
        [str(python), "-c", "import pandas; print(pandas.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout.strip()


# --- the server ------------------------------------------------------------------------------------------------

# azmlinfsrv hard-codes its bind address to 0.0.0.0 (right inside Azure's container): this changes only that,
# then runs the server's own entry point with the command line it was given (as bankscore.deploy._launch does,
# without that launcher's gunicorn tuning: the oracle is the server as Microsoft ships it).
_LOOPBACK_SERVER = (
    "import sys\n"
    "from azureml_inference_server_http import amlserver\n"
    "amlserver.DEFAULT_HOST = '127.0.0.1'\n"
    "sys.argv[0] = 'azmlinfsrv'\n"
    "amlserver.run()\n"
)


def _free_port() -> int:
    return int(_fixtures.free_port())


def start_loopback_server(
    python: Path, folder: Path, entry_script: str, port: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """azmlinfsrv on ``folder/entry_script`` under ``python``, bound to 127.0.0.1:``port``, its output appended to
    ``log``. It leads a session of its own, so that ``_stop`` ends gunicorn's master and workers together."""
    args = [str(python), "-c", _LOOPBACK_SERVER, "--entry_script", entry_script, "--port", str(port)]
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            cwd=folder,  # azmlinfsrv resolves --entry_script against its working folder
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _healthy(url: str) -> bool:
    try:
        # trust_env=False: a proxy from the environment must not stand between the test and 127.0.0.1.
        return httpx.get(url + "/", timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (gunicorn's master and worker), SIGKILL what is left; bounded."""
    pgid = proc.pid  # start_new_session: the server leads its own group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)
    # The master is reaped; a worker it did not wait for would linger in the group: kill and wait it out too.
    deadline = time.monotonic() + STOP_TIMEOUT
    while not _fixtures.group_gone(pgid) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.1)


def _tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.is_file() else "(no log)"


@contextlib.contextmanager
def no_code_server(
    model_folder: Path,
    *,
    python: Path | None = None,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> Iterator[str]:
    """Serve the MLflow model folder ``model_folder`` with Microsoft's no-code script; yield the base URL.

    The environment is the one Azure's image sets (contract section 0): ``AML_APP_ROOT`` = the script's folder
    (read in place), ``AZUREML_ENTRY_SCRIPT=mlflow_score_script.py``, ``AZUREML_MODEL_DIR`` = the model folder's
    parent and ``MLFLOW_MODEL_FOLDER`` = its name; one worker, bound to 127.0.0.1 on a free port. ``python`` is
    the interpreter (default: ``oracle_environment()``'s), ``log`` receives the server's stdout and stderr
    (default: a temporary file, shown in the error if the server does not come up), ``env`` adds variables
    (``SCORING_TIMEOUT_MS``, say). Yields once ``GET /`` answers 200; on exit the server's process group is
    stopped and waited for.
    """
    scripts = script_folder()
    model_folder = model_folder.resolve()
    if not (model_folder / "MLmodel").is_file():
        raise FileNotFoundError(f"{model_folder} is not an MLflow model folder (no MLmodel file)")
    interpreter = python or oracle_environment().python
    with contextlib.ExitStack() as stack:
        if log is None:
            log = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="no-code-oracle-"))) / "server.log"
        server_env = {
            **{k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "VIRTUAL_ENV", "PYTHONPATH"}},
            "PATH": f"{interpreter.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AML_APP_ROOT": str(scripts),
            "AZUREML_ENTRY_SCRIPT": SCRIPT,
            "AZUREML_MODEL_DIR": str(model_folder.parent),
            "MLFLOW_MODEL_FOLDER": model_folder.name,
            "WORKER_COUNT": "1",
            # gunicorn (>= 26) otherwise opens one control socket, ~/.gunicorn/gunicorn.ctl, shared by every
            # server of the user: parallel oracles and local deployments would take it from each other.
            "GUNICORN_CMD_ARGS": "--no-control-socket",
            # The script's folder is shared and read-only to us: no __pycache__ written beside it.
            "PYTHONDONTWRITEBYTECODE": "1",
            **(env or {}),
        }
        # A free port can be taken between finding it and the server binding it: try a few.
        for _attempt in range(3):
            port = _free_port()
            base_url = f"http://127.0.0.1:{port}"
            start = log.stat().st_size if log.is_file() else 0
            proc = start_loopback_server(interpreter, scripts, SCRIPT, port, server_env, log)
            try:
                deadline = time.monotonic() + timeout
                while proc.poll() is None and not _healthy(base_url):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the no-code server did not answer GET / in {timeout:.0f} s:\n{_tail(log)}")
                    time.sleep(0.2)
                if proc.poll() is None:
                    break
                if "Address already in use" not in log.read_text(errors="replace")[start:]:
                    raise RuntimeError(f"the no-code server exited {proc.returncode}:\n{_tail(log)}")
            except BaseException:
                _stop(proc)
                raise
        else:
            raise RuntimeError(f"the no-code server found no free port in 3 attempts:\n{_tail(log)}")
        try:
            yield base_url
        finally:
            _stop(proc)


# --- the session fixture ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoCodeOracle:
    """Microsoft's no-code script serving the session's registered model on 127.0.0.1."""

    url: str  # http://127.0.0.1:PORT
    model_ref: str  # bank-marketing:N in the trained workspace
    model_folder: Path  # the exported MLflow model folder it serves
    log: Path  # the server's stdout and stderr (the script's exceptions only appear here)
    environment: OracleEnvironment

    @property
    def scoring_uri(self) -> str:
        return self.url + "/score"

    def swagger_url(self, version: str = "3") -> str:
        return f"{self.url}/swagger.json?version={version}"


@pytest.fixture(scope="session")
def no_code_oracle(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NoCodeOracle]:
    """The session's trained model, exported as an MLflow model folder and served by the oracle."""
    script_folder()  # skip before any work when the script is not here
    from bankscore.automl._registry import export_model_folder

    base = tmp_path_factory.mktemp("no-code-oracle")
    with _fixtures.workspace_env(trained.home):
        folder = export_model_folder(trained.model_ref, base / "model-dir" / "model")
    environment = oracle_environment()
    log = base / "server.log"
    with no_code_server(folder, python=environment.python, log=log) as url:
        yield NoCodeOracle(url, trained.model_ref, folder, log, environment)
