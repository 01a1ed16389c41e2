"""The shipped Locust users with the real ``locust`` command: headless with Locust's own reports, a user's own
locustfile that subclasses them, and Locust's web UI opened in real headless Chromium. All against a real
keyed local deployment on 127.0.0.1, the key from BANKSCORE_KEY; every run is bounded in time and users."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bankscore_tests_loopback import free_port

_fixtures = sys.modules["bankscore_tests_deploy_fixtures"]  # loaded by tests/conftest.py, as `trained` is
LOCUST = Path(sys.executable).parent / "locust"
CHROMIUM = Path("/usr/bin/chromium")
KINDS = {
    ("POST", "POST /score (1 record)"),
    ("POST", "POST /score (10 records)"),
    ("POST", "POST /score (1 record, predict_proba)"),
    ("GET", "GET swagger.json"),
}


def shipped_locustfile() -> Path:
    proc = subprocess.run(
        [sys.executable, "-m", "bankscore_bench", "--locustfile"], capture_output=True, text=True, check=True
    )
    return Path(proc.stdout.strip())


@pytest.fixture(scope="module")
def keyed(trained: Any) -> Iterator[tuple[str, dict[str, str]]]:
    """A real generation-C local deployment behind the key-checking gateway; (host, environment with the key)."""
    port = _fixtures.free_port()
    name = "locust-suite"
    proc = trained.popen("deploy", "local", "--name", name, "--port", str(port), "--key", _fixtures.TEST_KEY)
    _, stderr = proc.communicate(timeout=240)
    env = {**trained.env(), "BANKSCORE_KEY": _fixtures.TEST_KEY}
    env.pop("BANKSCORE_URI", None)
    try:
        assert proc.returncode == 0, stderr
        yield f"http://127.0.0.1:{port}", env
    finally:
        trained.cli("deploy", "stop", "--name", name, timeout=60)


def _stats(prefix: Path) -> dict[tuple[str, str], tuple[int, int]]:
    with Path(f"{prefix}_stats.csv").open(newline="") as fh:
        return {(r["Type"], r["Name"]): (int(r["Request Count"]), int(r["Failure Count"])) for r in csv.DictReader(fh)}


def _locust(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LOCUST), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False
    )


def test_the_locustfile_path_is_printed() -> None:
    path = shipped_locustfile()
    assert path.name == "bank_marketing.py" and path.is_file()
    assert "class BankMarketing(BankMarketingUser)" in path.read_text()


@pytest.mark.slow
def test_the_shipped_locustfile_runs_headless_with_locusts_own_reports(
    keyed: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    host, env = keyed
    proc = _locust(
        "-f", str(shipped_locustfile()), "--headless", "-u", "2", "-r", "2", "-t", "6s", "--host", host,
        "--csv", str(tmp_path / "run"), "--html", str(tmp_path / "report.html"), "--only-summary",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = _stats(tmp_path / "run")
    assert set(stats) == KINDS | {("", "Aggregated")}, proc.stderr[-3000:]
    assert all(count > 0 and failures == 0 for count, failures in stats.values()), stats
    assert "POST /score (1 record)" in (tmp_path / "report.html").read_text()

    # Without the key, the same run fails every scoring request, and Locust says so in its exit code.
    no_key = {k: v for k, v in env.items() if k != "BANKSCORE_KEY"}
    refused = _locust(
        "-f", str(shipped_locustfile()), "--headless", "-u", "1", "-r", "1", "-t", "4s", "--host", host,
        "--csv", str(tmp_path / "refused"), "--only-summary",
        env={**no_key, "BANKSCORE_HOME": str(tmp_path / "empty")}, cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr[-3000:]
    scoring = [v for (kind, _), v in _stats(tmp_path / "refused").items() if kind == "POST"]
    assert len(scoring) == 3 and all(count > 0 and failures == count for count, failures in scoring)  # all 401


@pytest.mark.slow
def test_a_users_own_locustfile_subclasses_the_user(keyed: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    host, env = keyed
    records = tmp_path / "customers.csv"
    from bankscore.data import load_training_data

    rows = [r for _, r in zip(range(30), load_training_data().records(with_label=True), strict=False)]
    with records.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "mine.py").write_text(
        "from locust import constant_throughput\n"
        "from bankscore_bench.locust import BankMarketingUser\n\n\n"
        "class Mine(BankMarketingUser):\n"
        f"    records = {str(records)!r}\n"
        "    batch_size = 5\n"
        "    wait_time = constant_throughput(10)  # at most 10 tasks a second per user\n"
        "    task_weights = {'score_batch': 1}\n"
    )
    proc = _locust(
        "-f", "mine.py", "--headless", "-u", "1", "-r", "1", "-t", "4s", "--host", host,
        "--csv", str(tmp_path / "mine"), "--only-summary", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = _stats(tmp_path / "mine")
    assert set(stats) == {("POST", "POST /score (5 records)"), ("", "Aggregated")}  # only Mine ran, only its task
    count, failures = stats[("", "Aggregated")]
    assert 0 < count <= 50 and failures == 0


def _wait_for(condition: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
def test_locusts_web_ui_runs_the_suite_and_shows_it_in_chromium(
    keyed: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: ./dev.sh installs Debian's chromium")
    host, env = keyed
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(LOCUST), "-f", str(shipped_locustfile()), "--host", host, "--web-host", "127.0.0.1", "--web-port",
         str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip

    def up() -> bool:
        try:
            return httpx.get(web + "/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait_for(up, "Locust's web UI")
        started = httpx.post(web + "/swarm", data={"user_count": 1, "spawn_rate": 1, "host": host}, timeout=10)
        assert started.json()["success"], started.text

        def scored() -> dict[str, Any] | None:
            stats = httpx.get(web + "/stats/requests", timeout=5).json()
            total = next(s for s in stats["stats"] if s["name"] == "Aggregated")
            return stats if total["num_requests"] >= 20 else None

        stats = _wait_for(scored, "20 requests counted by Locust")
        dom = subprocess.run(
            [str(CHROMIUM), "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={tmp_path / 'chromium'}",
             "--virtual-time-budget=5000", "--dump-dom", web + "/"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        httpx.get(web + "/stop", timeout=10)
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert "POST /score (1 record)" in dom.stdout  # the statistics table the UI rendered
        assert host in dom.stdout
        assert stats["fail_ratio"] == 0 and not stats["errors"]
        names = {s["name"] for s in stats["stats"]}
        assert "POST /score (1 record)" in names
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


_WEIGHTS_CHECK = """
import pytest
from locust import task

from bankscore_bench.locust import BankMarketingUser


class Default(BankMarketingUser):
    pass


class Batches(BankMarketingUser):
    task_weights = {"score_batch": 2}

    @task
    def mine(self):
        pass


names = [t.__name__ for t in Default.tasks]
assert {n: names.count(n) for n in names} == {"score_one": 10, "score_batch": 3, "score_proba": 3, "spec": 1}
assert [t.__name__ for t in Batches.tasks] == ["score_batch", "score_batch", "mine"]
assert BankMarketingUser.abstract and not Default.abstract
with pytest.raises(TypeError, match="no task \\['score_all'\\]"):
    type("Wrong", (BankMarketingUser,), {"task_weights": {"score_all": 1}})
print("ok")
"""


def test_task_weights_choose_the_tasks_of_a_subclass() -> None:
    # In its own interpreter: Locust monkey-patches the standard library when it is imported, as under `locust`.
    proc = subprocess.run(
        [sys.executable, "-c", _WEIGHTS_CHECK], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr[-3000:]
