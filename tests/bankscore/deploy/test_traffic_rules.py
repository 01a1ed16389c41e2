"""The pure parts of blue/green endpoints: parsing ``blue=90``, Azure's traffic and mirror rules, the state
files ``deploy status`` reads, and the gateway configuration they render (checked by ``nginx -t`` when nginx
is installed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bankscore.deploy._gateway import NO_POSITIVE_WEIGHT, find_nginx, nginx_config
from bankscore.deploy._state import (
    DeployError,
    EndpointState,
    check_deployment_name,
    deployment_home,
    load_endpoint,
    load_state,
)
from bankscore.deploy._traffic import (
    Routing,
    TrafficError,
    check_mirror,
    check_removable,
    check_traffic,
    parse_assignments,
    with_deployment,
)

DEPLOYMENTS = {"blue": 100, "green": 0}


def test_assignments_parse_as_separate_arguments_or_one() -> None:
    assert parse_assignments(["blue=90", "green=10"], what="traffic") == {"blue": 90, "green": 10}
    assert parse_assignments(["blue=90 green=10"], what="traffic") == {"blue": 90, "green": 10}
    assert parse_assignments([], what="traffic") == {}


@pytest.mark.parametrize(
    ("items", "named"),
    [
        (["blue"], "'blue'"),
        (["=90"], "'=90'"),
        (["blue=ninety"], "'blue=ninety'"),
        (["blue=101"], "'blue=101'"),
        (["blue=-1"], "'blue=-1'"),
        (["blue=50", "blue=50"], "'blue'"),
    ],
)
def test_a_bad_assignment_is_named(items: list[str], named: str) -> None:
    with pytest.raises(TrafficError, match=named):
        parse_assignments(items, what="traffic")


def test_traffic_sums_to_100_and_names_every_deployment() -> None:
    assert check_traffic({"blue": 90, "green": 10}, DEPLOYMENTS, endpoint="shop") == {"blue": 90, "green": 10}
    assert check_traffic({"green": 100}, DEPLOYMENTS, endpoint="shop") == {"blue": 0, "green": 100}
    assert check_traffic({"blue": 0}, DEPLOYMENTS, endpoint="shop") == {"blue": 0, "green": 0}  # all 0: allowed
    with pytest.raises(TrafficError, match=r"blue=90 green=5: the percents sum to 95"):
        check_traffic({"blue": 90, "green": 5}, DEPLOYMENTS, endpoint="shop")
    with pytest.raises(TrafficError, match=r"'purple' is not a deployment of endpoint 'shop' \(it has blue, green\)"):
        check_traffic({"blue": 90, "purple": 10}, DEPLOYMENTS, endpoint="shop")


def test_mirror_rules_are_azures() -> None:
    traffic = {"blue": 100, "green": 0, "canary": 0}
    assert check_mirror({"green": 20}, traffic, endpoint="shop") == {"green": 20}
    assert check_mirror({"green": 50}, traffic, endpoint="shop") == {"green": 50}
    assert check_mirror({"green": 0}, traffic, endpoint="shop") == {}  # 0 ends the mirror
    with pytest.raises(TrafficError, match=r"mirror green=51: at most 50 percent"):
        check_mirror({"green": 51}, traffic, endpoint="shop")
    with pytest.raises(TrafficError, match=r"mirror blue=10: 'blue' takes 100% of live traffic"):
        check_mirror({"blue": 10}, traffic, endpoint="shop")
    with pytest.raises(TrafficError, match=r"one deployment only"):
        check_mirror({"green": 10, "canary": 10}, traffic, endpoint="shop")
    with pytest.raises(TrafficError, match=r"'purple' is not a deployment"):
        check_mirror({"purple": 10}, traffic, endpoint="shop")


def test_the_first_deployment_gets_all_traffic_and_a_later_one_none() -> None:
    assert with_deployment({}, "green") == {"green": 100}
    assert with_deployment({"blue": 100}, "green") == {"blue": 100, "green": 0}
    assert with_deployment({"blue": 30, "green": 70}, "green") == {"blue": 30, "green": 70}  # a redeploy keeps it


def test_a_deployment_with_traffic_or_the_mirror_is_not_removed() -> None:
    check_removable({"blue": 100, "green": 0}, {}, "green", endpoint="shop")
    check_removable({"blue": 100}, {}, "blue", endpoint="shop")  # the last one: the endpoint goes
    with pytest.raises(TrafficError, match=r"--deployment green: it takes 10% .* deploy traffic --name shop blue=100"):
        check_removable({"blue": 90, "green": 10}, {}, "green", endpoint="shop")
    with pytest.raises(TrafficError, match=r"--deployment green: it receives the mirror \(20%\)"):
        check_removable({"blue": 100, "green": 0}, {"green": 20}, "green", endpoint="shop")
    with pytest.raises(TrafficError, match=r"'purple' is not a deployment"):
        check_removable({"blue": 100}, {}, "purple", endpoint="shop")


@pytest.mark.parametrize("name", ["Blue", "bl", "1blue", "blue_1", "a" * 33, "../x"])
def test_a_deployment_name_azure_would_refuse_is_refused(name: str) -> None:
    with pytest.raises(DeployError, match=repr(name).replace("[", r"\[").replace(".", r"\.")):
        check_deployment_name(name)
    assert check_deployment_name("green-2") == "green-2"


def test_state_files_blue_at_the_top_others_beside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path))
    top = tmp_path / "deployments" / "shop"
    assert deployment_home("shop", "blue") == top
    assert deployment_home("shop", "green") == top / "deployments" / "green"
    assert load_endpoint("shop") is None and load_state("shop") is None

    # An endpoint from before deployments had names: state.json alone, read as blue with all the traffic.
    top.mkdir(parents=True)
    state = {
        "name": "shop", "folder": "/x", "port": 5001, "backend_port": 40000, "workers": 1, "generation": "C",
        "model_name": "bank-marketing", "model_version": "1", "features": [], "server_pid": 0,
        "gateway_pid": None, "started_at": "now", "auth": False,
    }  # fmt: skip
    (top / "state.json").write_text(json.dumps(state))
    endpoint = load_endpoint("shop")
    assert endpoint is not None and endpoint.traffic == {"blue": 100} and endpoint.port == 5001
    loaded = load_state("shop")
    assert loaded is not None and loaded.deployment == "blue" and loaded.backend_port == 40000

    # endpoint.json decides which deployment `status` shows first: the one with the most traffic.
    green = deployment_home("shop", "green")
    green.mkdir(parents=True)
    (green / "state.json").write_text(json.dumps({**state, "backend_port": 40001, "model_version": "2"}))
    (top / "endpoint.json").write_text(
        json.dumps({"name": "shop", "port": 5001, "auth": False, "gateway_pid": None,
                    "gateway_supervisor_pid": None, "traffic": {"blue": 10, "green": 90}, "mirror": {}})
    )  # fmt: skip
    primary = load_state("shop")
    assert primary is not None and (primary.deployment, primary.model_version) == ("green", "2")
    assert EndpointState("shop", 1, False, None, None, {"blue": 50, "green": 50}).primary() == "blue"


ROUTING = Routing(backends={"blue": 40001, "green": 40002}, traffic={"blue": 90, "green": 10})


def _render(tmp_path: Path, routing: Routing | None, *, keyed: bool = True) -> str:
    (tmp_path / "nginx-temp").mkdir(exist_ok=True)
    return nginx_config(
        run_dir=tmp_path,
        port=39001,
        backend_port=40000 if routing is None else None,
        keys=["k" * 32, "s" * 32] if keyed else None,
        max_body_bytes=1000,
        secret="secret" if keyed else None,
        routing=routing,
    )


def test_the_split_pins_and_names_the_deployment(tmp_path: Path) -> None:
    conf = _render(tmp_path, ROUTING)
    assert 'split_clients "${request_id}" $bankscore_split {\n        90% blue;\n        * green;\n    }' in conf
    assert "upstream bankscore_deployment_blue { server 127.0.0.1:40001; }" in conf
    assert "upstream bankscore_deployment_green { server 127.0.0.1:40002; }" in conf
    assert 'map $http_azureml_model_deployment $bankscore_deployment {\n        "" $bankscore_split;' in conf
    assert "add_header azureml-model-deployment $bankscore_served always;" in conf
    assert "mirror " not in conf


def test_without_routing_one_deployment_takes_everything(tmp_path: Path) -> None:
    conf = _render(tmp_path, None)
    assert "        * blue;\n" in conf and "server 127.0.0.1:40000;" in conf


def test_a_deployment_with_0_percent_is_only_reached_by_name(tmp_path: Path) -> None:
    conf = _render(tmp_path, Routing(backends=ROUTING.backends, traffic={"blue": 100, "green": 0}))
    assert "        * blue;\n" in conf and "% green" not in conf and '"green" green;' in conf


def test_all_traffic_at_0_answers_azures_404(tmp_path: Path) -> None:
    conf = _render(tmp_path, Routing(backends=ROUTING.backends, traffic={"blue": 0, "green": 0}))
    assert "split_clients" not in conf and 'map $request_id $bankscore_split { default ""; }' in conf
    assert NO_POSITIVE_WEIGHT in conf


def test_a_mirror_copies_only_split_requests(tmp_path: Path) -> None:
    routing = Routing(backends=ROUTING.backends, traffic={"blue": 100, "green": 0}, mirror={"green": 20})
    conf = _render(tmp_path, routing, keyed=False)
    assert 'split_clients "${request_id}-mirror" $bankscore_mirror_draw {\n        20% yes;' in conf
    assert '":yes" green;' in conf  # an empty header and a draw of yes: never a pinned request
    assert conf.count("mirror /_bankscore_mirror;") == 1  # on /score only
    assert "proxy_pass http://bankscore_deployment_green$request_uri;" in conf


@pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (apt-get install nginx-light)")
@pytest.mark.parametrize("keyed", [True, False])
@pytest.mark.parametrize(
    "routing",
    [
        ROUTING,
        Routing(backends=ROUTING.backends, traffic={"blue": 0, "green": 0}),
        Routing(backends=ROUTING.backends, traffic={"blue": 100, "green": 0}, mirror={"green": 50}),
        Routing(
            backends={"blue": 40001, "green-2": 40002, "red": 40003}, traffic={"blue": 33, "green-2": 33, "red": 34}
        ),
    ],
    ids=["split", "all-zero", "mirror", "three"],
)
def test_nginx_accepts_every_rendered_configuration(tmp_path: Path, routing: Routing, keyed: bool) -> None:
    (tmp_path / "nginx.conf").write_text(_render(tmp_path, routing, keyed=keyed))
    nginx = find_nginx()
    assert nginx is not None
    checked = subprocess.run(
        [nginx, "-t", "-q", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_an_endpoint_without_blue_keeps_a_copy_for_one_deployment_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bankscore._endpoint import local_endpoint
    from bankscore.deploy._state import write_summary

    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path))
    top = tmp_path / "deployments" / "shop"
    green = deployment_home("shop", "green")
    green.mkdir(parents=True)
    state = {
        "name": "shop", "folder": "/x", "port": 5001, "backend_port": 40001, "workers": 1, "generation": "D",
        "model_name": "bank-marketing", "model_version": "2", "features": [], "server_pid": 0,
        "gateway_pid": None, "started_at": "now", "auth": False, "deployment": "green",
    }  # fmt: skip
    (green / "state.json").write_text(json.dumps(state))
    endpoint = {"name": "shop", "port": 5001, "auth": False, "gateway_pid": None, "gateway_supervisor_pid": None}
    (top / "endpoint.json").write_text(json.dumps({**endpoint, "traffic": {"green": 100}, "mirror": {}}))
    write_summary("shop")
    assert json.loads((top / "state.json").read_text())["model_version"] == "2"
    found = local_endpoint("shop")  # what bankscore.Client.from_local reads
    assert (found.scoring_uri, str(found.generation)) == ("http://127.0.0.1:5001/score", "D")
    assert load_state("shop", "blue") is None  # the copy is never taken for a blue deployment

    # With blue on the endpoint, its own state.json is left alone.
    (top / "state.json").write_text(json.dumps({**state, "deployment": "blue", "model_version": "1"}))
    (top / "endpoint.json").write_text(json.dumps({**endpoint, "traffic": {"blue": 0, "green": 100}, "mirror": {}}))
    write_summary("shop")
    assert json.loads((top / "state.json").read_text())["model_version"] == "1"
