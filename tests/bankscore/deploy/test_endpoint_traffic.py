"""Blue/green on one local endpoint, end to end: two deployments of two different models behind one gateway,
driven by the real CLI, reached with real requests on 127.0.0.1.

The second model is trained here (2 trials on every seventh shipped row) into a copy of the session's
workspace, so the session's own registry keeps ``bank-marketing:1`` as its latest version. Every load is
bounded in count and in time.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bankscore.deploy._gateway import NO_POSITIVE_WEIGHT, find_nginx

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (apt-get install nginx-light)"),
]

HEADER = "azureml-model-deployment"
SPLIT_REQUESTS = 2_000


@pytest.fixture(scope="module")
def two_models(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session's workspace, copied, with a second, different model registered as bank-marketing:2."""
    from bankscore.automl import TrainOptions, run_automl
    from bankscore.automl._registry import log_training
    from bankscore.data import Dataset, load_training_data

    home = tmp_path_factory.mktemp("blue-green") / "workspace"
    shutil.copytree(trained.home, home, ignore=shutil.ignore_patterns("deployments", "report"))
    full = load_training_data()
    sample = Dataset(columns={n: v[::7] for n, v in full.columns.items()}, source="sample-of-7", sha256="sample7")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BANKSCORE_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = run_automl(sample, TrainOptions(time_budget=None, max_trials=2, cv=2))
        (home / "report-2").mkdir()
        info = log_training(result, "sample:7", "sample7", home / "report-2")
    assert info.version == 2
    return dataclasses.replace(trained, home=home)


@dataclasses.dataclass
class Endpoint:
    workspace: Any
    name: str
    port: int
    key: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/score"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}

    def cli(self, *args: str, timeout: float = 120) -> Any:
        return self.workspace.cli(*args, timeout=timeout)

    def traffic(self, *args: str) -> None:
        done = self.cli("deploy", "traffic", "--name", self.name, *args)
        assert done.returncode == 0, done.stderr

    def server_log(self, deployment: str) -> str:
        done = self.cli("deploy", "logs", "--name", self.name, "--deployment", deployment, "-n", "1000000")
        assert done.returncode == 0, done.stderr
        return str(done.stdout)


def _body(workspace: Any) -> bytes:
    # Probabilities, not labels: the two models answer differently, so an answer shows which model gave it.
    inputs = {"Inputs": {"data": [workspace.yes_record]}, "GlobalParameters": {"method": "predict_proba"}}
    return json.dumps(inputs).encode()


@contextlib.contextmanager
def running_endpoint(workspace: Any, port: int, name: str) -> Iterator[Endpoint]:
    """blue (model 1, with keys) and green (model 2, added beside it), stopped and checked gone at the end."""
    try:
        blue = workspace.cli(
            "deploy", "local", "--name", name, "--deployment", "blue", "--model", "bank-marketing:1",
            "--port", str(port), "--auth", "--timeout", "120", timeout=240,
        )  # fmt: skip
        assert blue.returncode == 0, blue.stderr
        green = workspace.cli(
            "deploy", "local", "--name", name, "--deployment", "green", "--model", "bank-marketing:2",
            "--timeout", "120", "--json", timeout=240,
        )  # fmt: skip
        assert green.returncode == 0, green.stderr
        assert json.loads(green.stdout)["port"] == port  # the endpoint's port, without --port
        # As on Azure: the first deployment takes all the traffic, one added beside it none.
        traffic = workspace.cli("deploy", "traffic", "--name", name, "--json")
        assert json.loads(traffic.stdout) == {"name": name, "traffic": {"blue": 100, "green": 0}, "mirror": {}}
        keys = json.loads(workspace.cli("deploy", "keys", "--name", name, "--show-keys", "--json").stdout)["keys"]
        yield Endpoint(workspace, name, port, keys["primary"])
    finally:
        workspace.cli("deploy", "stop", "--name", name, timeout=90)


@pytest.fixture(scope="module")
def shop(two_models: Any, system: Any) -> Iterator[Endpoint]:
    with running_endpoint(two_models, system.free_port(), f"shop-{os.getpid()}") as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def answers(shop: Endpoint) -> dict[str, str]:
    """Each deployment's own answer to the test body, reached by name."""
    found = {}
    for deployment in ("blue", "green"):
        response = httpx.post(shop.url, content=_body(shop.workspace), headers={**shop.headers, HEADER: deployment})
        assert response.status_code == 200, response.text
        assert response.headers[HEADER] == deployment
        found[deployment] = response.text
    assert found["blue"] != found["green"], "the two models answer alike: the test could not tell them apart"
    return found


def _send(shop: Endpoint, count: int, headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """``count`` scoring requests on 4 kept-alive connections."""

    def run(share: int) -> list[httpx.Response]:
        with httpx.Client(headers={**shop.headers, **(headers or {})}, timeout=30) as client:
            return [client.post(shop.url, content=_body(shop.workspace)) for _ in range(share)]

    with ThreadPoolExecutor(4) as pool:
        return [r for part in pool.map(run, [count // 4] * 4) for r in part]


def test_status_shows_each_deployment_with_its_model_and_health(shop: Endpoint) -> None:
    status = shop.cli("deploy", "status", "--name", shop.name, "--json")
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert set(info["deployments"]) == set(info["traffic"]) == {"blue", "green"}
    for deployment, version in (("blue", "1"), ("green", "2")):
        one = info["deployments"][deployment]
        assert (one["model_version"], one["health"], one["running"]) == (version, "Healthy", True)
        assert one["scoring_uri"] == shop.url
    assert info["deployments"]["blue"]["backend_port"] != info["deployments"]["green"]["backend_port"]
    text = shop.cli("deploy", "status", "--name", shop.name, "--deployment", "green")
    assert text.returncode == 0, text.stderr
    assert "deployment green:" in text.stdout and "bank-marketing:2" in text.stdout


def test_a_90_10_split_is_observed(shop: Endpoint, answers: dict[str, str]) -> None:
    shop.traffic("blue=90", "green=10")
    responses = _send(shop, SPLIT_REQUESTS)
    served = collections.Counter(r.headers.get(HEADER) for r in responses)
    assert [r.status_code for r in responses] == [200] * SPLIT_REQUESTS
    assert set(served) == {"blue", "green"}
    share = served["blue"] / SPLIT_REQUESTS
    assert abs(share - 0.90) <= 0.03, served
    # The header names the deployment whose model answered.
    assert all(r.text == answers[r.headers[HEADER]] for r in responses)
    print(f"blue {served['blue']} / green {served['green']} of {SPLIT_REQUESTS} ({share:.1%} blue)")


def test_a_pinned_request_reaches_only_its_deployment(shop: Endpoint, answers: dict[str, str]) -> None:
    shop.traffic("blue=100")  # green takes no live traffic, and is still reached by name
    for deployment in ("green", "blue"):
        responses = _send(shop, 40, {HEADER: deployment})
        assert {(r.status_code, r.headers[HEADER], r.text) for r in responses} == {
            (200, deployment, answers[deployment])
        }
    unknown = httpx.post(shop.url, content=_body(shop.workspace), headers={**shop.headers, HEADER: "purple"})
    assert unknown.status_code == 404 and HEADER not in unknown.headers
    assert unknown.headers["content-type"] == "application/json"
    assert "'purple'" in unknown.json()["message"]
    # No key, no routing: the key is checked first, as on Azure.
    anonymous = httpx.post(shop.url, content=_body(shop.workspace), headers={HEADER: "green"})
    assert anonymous.status_code == 401


def test_all_traffic_at_0_serves_only_pinned_requests(shop: Endpoint, answers: dict[str, str]) -> None:
    shop.traffic("blue=0", "green=0")
    try:
        unpinned = httpx.post(shop.url, content=_body(shop.workspace), headers=shop.headers)
        assert (unpinned.status_code, unpinned.json()) == (404, {"message": NO_POSITIVE_WEIGHT})
        pinned = httpx.post(shop.url, content=_body(shop.workspace), headers={**shop.headers, HEADER: "green"})
        assert (pinned.status_code, pinned.text) == (200, answers["green"])
    finally:
        shop.traffic("blue=100")


def test_a_mirror_copies_to_its_log_and_callers_get_only_live_answers(shop: Endpoint, answers: dict[str, str]) -> None:
    shop.traffic("blue=100", "--mirror", "green=20")
    try:
        live, pinned = 300, 40
        with httpx.Client(headers=shop.headers, timeout=30) as client:
            responses = [
                client.post(shop.url, content=_body(shop.workspace), headers={"x-request-id": f"mirrored-{i}"})
                for i in range(live)
            ]
            # A request pinned by the header is never mirrored (as on Azure).
            for i in range(pinned):
                client.post(
                    shop.url, content=_body(shop.workspace), headers={"x-request-id": f"pinned-{i}", HEADER: "blue"}
                )
        assert {(r.status_code, r.headers[HEADER], r.text) for r in responses} == {(200, "blue", answers["blue"])}
        time.sleep(1)  # the copies are sent beside the answers; give the last ones time to be logged
        green_ids = _score_ids(shop.server_log("green"))
        blue_ids = _score_ids(shop.server_log("blue"))
        copied = {i for i in green_ids if i.startswith("mirrored-")}
        assert not {i for i in green_ids if i.startswith("pinned-")}
        assert {f"mirrored-{i}" for i in range(live)} <= blue_ids
        # 20% of 300 is 60; the draw is random, so allow about three standard deviations (6.9 each) either way.
        assert 40 <= len(copied) <= 80, len(copied)
        print(f"mirrored {len(copied)} of {live} ({len(copied) / live:.1%})")
    finally:
        shop.traffic("--mirror", "green=0")


def _score_ids(log: str) -> set[str]:
    ids = set()
    for line in log.splitlines():
        if line.startswith('{"event": "score"'):
            ids.add(json.loads(line)["request_id"])
    return ids


def test_changing_traffic_under_load_loses_no_request(shop: Endpoint) -> None:
    shop.traffic("blue=100")
    results: list[tuple[int, str | None] | str] = []
    stop = threading.Event()

    def load() -> None:
        # A new connection per request (as ab without -k), at most 4,000 requests in all or 240 s.
        deadline = time.monotonic() + 240
        while not stop.is_set() and len(results) < 4_000 and time.monotonic() < deadline:
            try:
                response = httpx.post(shop.url, content=_body(shop.workspace), headers=shop.headers, timeout=30)
                results.append((response.status_code, response.headers.get(HEADER)))
            except httpx.HTTPError as error:
                results.append(f"{type(error).__name__}: {error}")

    senders = [threading.Thread(target=load) for _ in range(2)]
    for sender in senders:
        sender.start()
    changes = [
        ("blue=50", "green=50"), ("green=100",), ("blue=10", "green=90"),
        ("blue=100",), ("blue=70", "green=30"), ("blue=90", "green=10"),
    ]  # fmt: skip
    try:
        for weights in changes:
            shop.traffic(*weights)
            time.sleep(0.5)
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=60)
    failures = [r for r in results if not isinstance(r, tuple) or r[0] != 200]
    served = collections.Counter(r[1] for r in results if isinstance(r, tuple))
    print(f"{len(results)} requests while traffic changed {len(changes)} times; {len(failures)} lost; {served}")
    assert len(results) >= 50 and not failures, failures[:5]
    assert set(served) == {"blue", "green"}


def test_rule_violations_exit_2_naming_the_value(shop: Endpoint) -> None:
    shop.traffic("blue=90", "green=10")
    cases = [
        (("traffic", "blue=90", "green=5"), "sum to 95"),
        (("traffic", "blue=90", "purple=10"), "'purple'"),
        (("traffic", "blue=ninety"), "'blue=ninety'"),
        (("traffic", "--mirror", "green=60"), "green=60"),  # green takes live traffic, and 60 > 50
        (("traffic", "blue=100", "--mirror", "green=51"), "green=51"),
        (("traffic", "--mirror", "blue=10"), "blue=10"),
        (("stop", "--deployment", "green"), "--deployment green"),  # it takes 10% of live traffic
        (("local", "--deployment", "Green"), "'Green'"),
        (("local", "--deployment", "canary", "--port", str(shop.port + 1)), str(shop.port + 1)),
    ]
    for args, named in cases:
        done = shop.cli("deploy", args[0], "--name", shop.name, *args[1:])
        assert done.returncode == 2, (args, done.stderr)
        assert named in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    status = json.loads(shop.cli("deploy", "status", "--name", shop.name, "--json").stdout)
    assert (status["traffic"], status["mirror"]) == ({"blue": 90, "green": 10}, {})  # nothing changed


def test_stopping_one_deployment_leaves_the_other_serving(two_models: Any, system: Any) -> None:
    port = system.free_port()
    with running_endpoint(two_models, port, f"stops-{os.getpid()}") as endpoint:
        before = json.loads(endpoint.cli("deploy", "status", "--name", endpoint.name, "--json").stdout)
        green = before["deployments"]["green"]
        gone = endpoint.cli("deploy", "stop", "--name", endpoint.name, "--deployment", "green")
        assert gone.returncode == 0, gone.stderr
        assert system.group_gone(green["server_pid"]) and system.group_gone(green["supervisor_pid"])
        response = httpx.post(endpoint.url, content=_body(endpoint.workspace), headers=endpoint.headers)
        assert (response.status_code, response.headers[HEADER]) == (200, "blue")
        status = json.loads(endpoint.cli("deploy", "status", "--name", endpoint.name, "--json").stdout)
        assert set(status["deployments"]) == {"blue"} and status["traffic"] == {"blue": 100}
        assert status["gateway_pid"] == before["gateway_pid"]  # the same gateway, reloaded

        stopped = endpoint.cli("deploy", "stop", "--name", endpoint.name)
        assert stopped.returncode == 0, stopped.stderr
        blue = status["deployments"]["blue"]
        for pid in (
            blue["server_pid"],
            blue["supervisor_pid"],
            status["gateway_pid"],
            status["gateway_supervisor_pid"],
        ):
            assert system.group_gone(pid), pid
        assert system.port_free(port)
        assert endpoint.cli("deploy", "status", "--name", endpoint.name).returncode == 1
