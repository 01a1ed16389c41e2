"""The launcher's gunicorn settings, and the scoring script's fast paths on the real server.

The unit tests check what ``bankscore.deploy._launch`` hands gunicorn; the slow ones look at running
deployments (the shared session fixtures): where the workers keep their heartbeat file, and that a large
batch, sent with a length or chunked, scores like the same records one at a time.
"""

from __future__ import annotations

import importlib
import json
import logging
import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from bankscore.deploy import _launch

gunicorn_config = pytest.importorskip("gunicorn.config")
gunicorn_logging = pytest.importorskip("gunicorn.glogging")

CONFIG = ["--config", "python:bankscore.deploy._launch"]


def test_the_launcher_adds_its_config_module_and_a_memory_tmp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_launch, "MEMORY_TMP_DIR", str(tmp_path))
    args = shlex.split(_launch.gunicorn_args("--no-control-socket"))
    assert args == ["--no-control-socket", *CONFIG, "--worker-tmp-dir", str(tmp_path)]


def test_without_a_memory_file_system_gunicorn_keeps_its_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_launch, "MEMORY_TMP_DIR", str(tmp_path / "absent"))
    assert shlex.split(_launch.gunicorn_args("")) == CONFIG


@pytest.mark.parametrize(
    "existing",
    [
        "--config python:mine --worker-tmp-dir /var/tmp",
        "-c mine.py --worker-tmp-dir=/var/tmp",
        "--config=mine.py --worker-tmp-dir /var/tmp",
    ],
)
def test_the_callers_own_choices_win(existing: str) -> None:
    assert shlex.split(_launch.gunicorn_args(existing)) == shlex.split(existing)


def test_quoted_arguments_survive() -> None:
    args = shlex.split(_launch.gunicorn_args("--access-logformat '%(h)s %(r)s' --no-control-socket"))
    assert args[:3] == ["--access-logformat", "%(h)s %(r)s", "--no-control-socket"]


def test_gunicorn_takes_the_module_as_its_config() -> None:
    cfg = gunicorn_config.Config()
    module = importlib.import_module(CONFIG[1].removeprefix("python:"))
    settings = {name: value for name, value in vars(module).items() if name in cfg.settings}
    assert settings == {"post_worker_init": _launch.post_worker_init}
    cfg.set("post_worker_init", settings["post_worker_init"])  # passes gunicorn's own validation
    assert cfg.post_worker_init is _launch.post_worker_init


def worker_with_access_log(level: int, name: str) -> SimpleNamespace:
    cfg = gunicorn_config.Config()
    log = gunicorn_logging.Logger(cfg)  # (before the access log is set: no handler on the global logger)
    cfg.set("accesslog", "-")  # what azmlinfsrv puts on gunicorn's command line
    log.access_log = logging.getLogger(name)
    log.access_log.setLevel(level)
    return SimpleNamespace(cfg=cfg, log=log)


def test_an_access_log_that_logging_drops_is_not_built() -> None:
    worker = worker_with_access_log(logging.WARNING, "test-serving-config.access-dropped")
    assert worker.log.access_log_enabled
    _launch.post_worker_init(worker)
    assert worker.cfg.accesslog is None
    assert not worker.log.access_log_enabled


def test_an_access_log_that_is_written_stays() -> None:
    worker = worker_with_access_log(logging.INFO, "test-serving-config.access-kept")
    _launch.post_worker_init(worker)
    assert worker.cfg.accesslog == "-"
    assert worker.log.access_log_enabled


# ---------------------------------------------------------------------------------------------- real servers


def worker_pids(server_pid: int) -> list[int]:
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server_pid and fields[0] not in "ZX":
            found.append(int(stat_file.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path(_launch.MEMORY_TMP_DIR).is_dir(), reason="no /dev/shm on this machine")
def test_workers_keep_their_heartbeat_in_memory(deployments: dict[str, Any]) -> None:
    server_pid = deployments["gen-c"].state["server_pid"]
    workers = worker_pids(server_pid)
    assert workers, "the server has no workers"
    for pid in workers:
        targets = []
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                targets.append(str(fd.readlink()))
            except OSError:
                continue
        heartbeats = [t for t in targets if "wgunicorn-" in t]
        assert heartbeats and all(t.startswith(_launch.MEMORY_TMP_DIR + "/") for t in heartbeats), heartbeats


def proba(url: str, records: list[dict[str, Any]], *, chunked: bool = False) -> list[list[float]]:
    raw = json.dumps({"Inputs": {"data": records}, "GlobalParameters": {"method": "predict_proba"}}).encode()
    content: Any = raw
    if chunked:
        content = iter([raw[i : i + 65536] for i in range(0, len(raw), 65536)])
    response = httpx.post(url + "/score", content=content, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 200, response.text
    assert (response.request.headers.get("transfer-encoding") == "chunked") is chunked
    result: list[list[float]] = response.json()["Results"]
    return result


@pytest.mark.slow
@pytest.mark.parametrize("chunked", [False, True])
def test_a_large_batch_scores_like_its_records_one_by_one(
    chunked: bool, deployments: dict[str, Any], trained: Any
) -> None:
    from bankscore.data import load_training_data

    server = deployments["gen-c"]
    records = list(load_training_data().records())[:598]
    records = [trained.yes_record, *records, trained.no_record]
    together = proba(server.backend_url, records, chunked=chunked)  # straight to gunicorn: its body reader
    assert len(together) == len(records)
    # The two records whose scores the registered model gave at training time.
    assert together[0] == pytest.approx(trained.proba[0], abs=1e-6)
    assert together[-1] == pytest.approx(trained.proba[1], abs=1e-6)
    for index in range(0, len(records), 60):  # a sample, one record per request: the small-batch path
        alone = proba(server.url, [records[index]])[0]
        # XGBoost answers in float32; the small-batch path walks its trees in float64.
        assert alone == pytest.approx(together[index], abs=1e-6), index
