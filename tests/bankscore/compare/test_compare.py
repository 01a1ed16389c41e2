"""`bankscore compare` and `bankscore.compare` against real loopback endpoints: the figures are recomputed
here from each side's own answers (scored separately with `Client.predict_many`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bankscore_tests_loopback import NOT_FOUND, Handle, Request, servers
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

import bankscore
from bankscore import Client
from bankscore.cli import main
from bankscore.swagger import build_pinned_spec

ROWS = 400


def age_model(row: dict[str, Any]) -> float:
    """The P(yes) of tests/conftest.py's scoring_server: from age only."""
    return round(min(max((float(row["age"]) - 20) / 80, 0.0), 1.0), 4)


@pytest.fixture(scope="session")
def labelled_csv(shipped_csv: Callable[[int], Path]) -> Path:
    """The first 400 shipped rows with their label ``y``."""
    return shipped_csv(ROWS)


def c_answer(rows: list[dict[str, Any]], method: str, model: Callable[[dict[str, Any]], float]) -> bytes:
    """What a generation C scoring script answers for ``rows`` under ``model``."""
    p_yes = [round(model(row), 4) for row in rows]
    if method == "predict_proba":
        return json.dumps({"Results": [[round(1 - p, 4), p] for p in p_yes]}).encode()
    return json.dumps({"Results": ["yes" if p >= 0.5 else "no" for p in p_yes]}).encode()


@pytest.fixture
def model_endpoint() -> Iterator[Callable[[dict[str, Callable[[dict[str, Any]], float]]], str]]:
    """A generation C endpoint on 127.0.0.1 serving one model per deployment (header azureml-model-deployment),
    the way a managed online endpoint routes a pinned request; without the header, the first deployment."""
    spec = build_pinned_spec("C")

    def endpoint(models: dict[str, Callable[[dict[str, Any]], float]]) -> Handle:
        def handle(request: Request) -> tuple[int, bytes]:
            if request.method == "GET":
                return (200, spec) if request.path == "/swagger.json" else NOT_FOUND
            body = request.json()
            name = request.headers.get("azureml-model-deployment") or next(iter(models))
            if name not in models:
                return 404, json.dumps({"message": f"no deployment {name}"}).encode()
            method = (body.get("GlobalParameters") or {}).get("method", "predict")
            return 200, c_answer(body["Inputs"]["data"], method, models[name])

        return handle

    with servers() as serve:
        yield lambda models: serve(endpoint(models)) + "/score"


Models = Callable[[dict[str, Callable[[dict[str, Any]], float]]], str]


def admin_model(row: dict[str, Any]) -> float:
    """The age model, but 0.3 more likely to say yes for admin. (so they disagree there, and only there)."""
    return min(age_model(row) + (0.3 if row["job"] == "admin." else 0.0), 1.0)


def inverted_model(row: dict[str, Any]) -> float:
    return round(1 - age_model(row), 4)


def _own_answers(uri: str, data: Path, deployment: str | None = None) -> tuple[list[str], np.ndarray]:
    with Client(uri, model_deployment=deployment, max_retries=0) as client:
        result = client.predict_many(_without_label(data), batch_size=50)
    return [p.label for p in result if p], np.array([p.probability for p in result if p], dtype=float)


def _without_label(data: Path) -> list[dict[str, str]]:
    with data.open(newline="") as fh:
        return [{k: v for k, v in row.items() if k != "y"} for row in csv.DictReader(fh)]


def _truth(data: Path) -> np.ndarray:
    with data.open(newline="") as fh:
        return np.array([row["y"] == "yes" for row in csv.DictReader(fh)])


def test_figures_match_each_sides_own_answers(labelled_csv: Path, model_endpoint: Models, tmp_path: Path) -> None:
    uri = model_endpoint({"blue": age_model, "green": admin_model})
    out = tmp_path / "disagree.csv"
    result = bankscore.compare(
        uri, data=labelled_csv, deployments=("blue", "green"), batch_size=37, concurrency=3, disagreements=out
    )
    labels_a, p_a = _own_answers(uri, labelled_csv, "blue")
    labels_b, p_b = _own_answers(uri, labelled_csv, "green")
    y = _truth(labelled_csv)

    assert result.records == result.n == ROWS
    same = sum(a == b for a, b in zip(labels_a, labels_b, strict=True))
    assert 0 < same < ROWS  # the two models really differ here
    assert result.agreement == same / ROWS
    low, high = result.agreement_ci
    assert low < result.agreement < high
    crosstab: dict[str, dict[str, int]] = {}
    for a, b in zip(labels_a, labels_b, strict=True):
        crosstab.setdefault(a, {}).setdefault(b, 0)
        crosstab[a][b] += 1
    assert result.crosstab == crosstab

    moved = np.abs(p_b - p_a)
    assert result.delta_p is not None
    expected = np.quantile(moved, [0.5, 0.9, 0.99, 1.0], method="inverted_cdf")
    assert [result.delta_p.p50, result.delta_p.p90, result.delta_p.p99, result.delta_p.max] == expected.tolist()
    assert result.delta_p.over_0_05 == float((moved > 0.05).mean())
    assert result.delta_p.over_0_10 == float((moved > 0.10).mean())

    assert result.a.name == "blue" and result.b.name == "green"
    assert result.a.auc == pytest.approx(roc_auc_score(y, p_a), abs=1e-12)
    assert result.b.auc == pytest.approx(roc_auc_score(y, p_b), abs=1e-12)
    assert result.a.accuracy == float(np.mean((np.array(labels_a) == "yes") == y))
    assert result.b.accuracy == float(np.mean((np.array(labels_b) == "yes") == y))
    assert result.paired is not None and result.paired.labelled == ROWS
    assert result.paired.auc_diff == pytest.approx(result.b.auc - result.a.auc, abs=1e-12)
    assert 0 <= (result.paired.auc_p or 0) <= 1 and 0 <= result.paired.mcnemar_p <= 1
    assert result.a.errors == result.b.errors == 0
    assert result.a.latency_ms.requests == result.b.latency_ms.requests == -(-ROWS // 37)
    assert 0 < result.a.latency_ms.p50 <= result.a.latency_ms.p90 <= result.a.latency_ms.p99  # type: ignore[operator]

    # The disagreements file: exactly the records labelled differently, in input order, with their values.
    with out.open(newline="") as fh:
        written = list(csv.DictReader(fh))
    differing = [i for i, (a, b) in enumerate(zip(labels_a, labels_b, strict=True)) if a != b]
    assert [int(r["index"]) for r in written] == differing
    assert all(r["job"] == "admin." and r["label_a"] == "no" and r["label_b"] == "yes" for r in written)
    assert [int(r["line"]) for r in written] == [i + 2 for i in differing]  # header is line 1

    # Where they disagree: only among admin., with the exact counts.
    jobs = [h for h in result.hotspots if h.feature == "job"]
    rows = _without_label(labelled_csv)
    assert [h.value for h in jobs] == ["admin."]
    assert jobs[0].count == sum(r["job"] == "admin." for r in rows)
    assert jobs[0].disagreements == len(differing)


def test_a_side_against_itself_agrees_completely(labelled_csv: Path, scoring_server: Any) -> None:
    uri = scoring_server(json.loads(build_pinned_spec("C"))).scoring_uri
    result = bankscore.compare(uri, uri, data=labelled_csv)
    assert result.n == ROWS and result.agreement == 1.0
    assert result.delta_p is not None and result.delta_p.max == 0.0 and result.delta_p.over_0_05 == 0.0
    assert result.paired is not None and result.paired.auc_diff == 0.0 and result.paired.auc_p == 1.0
    assert result.paired.mcnemar_p == 1.0 and result.a.auc == result.b.auc
    assert result.hotspots == ()
    assert result.passed and result.gates == ()


def test_generation_c_against_d_on_the_same_model(labelled_csv: Path, scoring_server: Any) -> None:
    c = scoring_server(json.loads(build_pinned_spec("C")))
    d = scoring_server(json.loads(build_pinned_spec("D")))
    result = bankscore.compare(c.scoring_uri, d.scoring_uri, data=labelled_csv, batch_size=64)
    assert (result.a.generation, result.b.generation) == ("C", "D")
    assert result.n == ROWS and result.agreement == 1.0
    assert result.delta_p is not None and result.delta_p.max == 0.0
    assert len(c.bodies) == len(d.bodies) == -(-ROWS // 64)  # every record sent to each side exactly once
    assert sum(len(body["Inputs"]["data"]) for body in c.bodies) == ROWS  # type: ignore[arg-type]
    assert sum(len(body["input_data"]["data"]) for body in d.bodies) == ROWS  # type: ignore[arg-type]


def test_sample_is_reproducible(labelled_csv: Path, model_endpoint: Models) -> None:
    uri = model_endpoint({"blue": age_model, "green": admin_model})
    first = bankscore.compare(uri, data=labelled_csv, deployments=("blue", "green"), sample=60, seed=3)
    again = bankscore.compare(uri, data=labelled_csv, deployments=("blue", "green"), sample=60, seed=3)
    other = bankscore.compare(uri, data=labelled_csv, deployments=("blue", "green"), sample=60, seed=4)
    assert first.n == again.n == other.n == 60
    assert first.to_dict()["crosstab"] == again.to_dict()["crosstab"]
    assert first.samples is not None and again.samples is not None and other.samples is not None
    assert first.samples.p_a.tolist() == again.samples.p_a.tolist() != other.samples.p_a.tolist()


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["compare", *args], catch_exceptions=False)


@pytest.mark.parametrize(
    ("models", "gate", "failing", "passing"),
    [
        ((age_model, admin_model), "--max-disagreement", "0.01", "0.5"),
        ((age_model, inverted_model), "--max-auc-drop", "0.01", "1"),
        ((age_model, age_model), "--max-latency-ratio", "0.000001", "1000000"),
    ],
)
def test_each_gate_fails_when_it_should(
    labelled_csv: Path, model_endpoint: Models, tmp_path: Path, models: Any, gate: str, failing: str, passing: str
) -> None:
    uri = model_endpoint({"blue": models[0], "green": models[1]})
    name = gate.removeprefix("--").replace("-", "_")
    report = tmp_path / "report.json"
    common = [uri, "--deployments", "blue,green", "--data", str(labelled_csv), "--json", str(report)]
    failed = _cli(*common, gate, failing)
    assert failed.exit_code == 1, failed.output
    assert f"gate failed: {name}" in failed.stderr
    figures = json.loads(report.read_text())
    assert figures["gates"][name]["passed"] is False and figures["gates"][name]["limit"] == float(failing)
    assert figures["gates"][name]["value"] > float(failing)
    assert figures["passed"] is False

    passed = _cli(*common, gate, passing)
    assert passed.exit_code == 0, passed.output
    assert "gate failed" not in passed.stderr
    assert json.loads(report.read_text())["gates"][name]["passed"] is True


def test_auc_gate_fails_without_labels(tmp_path: Path, labelled_csv: Path, model_endpoint: Models) -> None:
    unlabelled = tmp_path / "unlabelled.csv"
    rows = _without_label(labelled_csv)
    with unlabelled.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    uri = model_endpoint({"blue": age_model, "green": age_model})
    result = _cli(uri, "--deployments", "blue,green", "--data", str(unlabelled), "--max-auc-drop", "0.5")
    assert result.exit_code == 1
    assert "gate failed: max_auc_drop (not measured: the data has no labels" in result.stderr


def test_cli_report_json_and_html(labelled_csv: Path, model_endpoint: Models, tmp_path: Path) -> None:
    uri = model_endpoint({"blue": age_model, "green": admin_model})
    page = tmp_path / "report.html"
    result = _cli(uri, "--deployments", "blue,green", "--data", str(labelled_csv), "--json", "-", "--html", str(page))
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["n"] == ROWS and 0 < figures["agreement"] < 1 and len(figures["agreement_ci"]) == 2
    assert set(figures["delta_p"]) >= {"p50", "p90", "p99", "max"}
    for side in ("a", "b"):
        assert set(figures["sides"][side]) >= {"name", "auc", "accuracy", "latency_ms", "errors"}
        assert set(figures["sides"][side]["latency_ms"]) >= {"p50", "p90", "p99"}
    assert set(figures["paired"]) >= {"auc_diff", "auc_p", "mcnemar_p"}
    assert figures["gates"] == {}
    text = page.read_text()
    assert text.count("<svg") == 3 and "<script" not in text and "default-src 'none'" in text
    assert "admin." in text  # the hotspot table

    table = _cli(uri, "--deployments", "blue,green", "--data", str(labelled_csv))
    assert "label agreement" in table.stdout and "DeLong" in table.stdout and "McNemar" in table.stdout


def test_compare_is_lazy_and_needs_two_sides(labelled_csv: Path) -> None:
    assert bankscore.compare is bankscore._compare.compare  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="two sides"):
        bankscore.compare("http://127.0.0.1:9/score", data=labelled_csv)
    result = _cli("http://127.0.0.1:9/score", "--data", str(labelled_csv))
    assert result.exit_code == 2 and "--deployments" in result.output


def test_an_unknown_deployment_stops_the_comparison(labelled_csv: Path, model_endpoint: Models) -> None:
    uri = model_endpoint({"blue": age_model})
    with pytest.raises(bankscore.NotFoundError, match="no deployment gren"):
        bankscore.compare(uri, data=labelled_csv, deployments=("blue", "gren"), concurrency=2)
    result = _cli(uri, "--deployments", "blue,gren", "--data", str(labelled_csv))
    assert result.exit_code == 1 and "no deployment gren" in result.output


def test_a_gzipped_semicolon_file_is_streamed(labelled_csv: Path, model_endpoint: Models, tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "customers.csv.gz"
    with labelled_csv.open(newline="") as fh, gzip.open(packed, "wt", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerows(csv.reader(fh))
    uri = model_endpoint({"blue": age_model, "green": admin_model})
    plain = bankscore.compare(uri, data=labelled_csv, deployments=("blue", "green"))
    packed_result = bankscore.compare(uri, data=packed, deployments=("blue", "green"))
    assert packed_result.n == ROWS and packed_result.to_dict()["crosstab"] == plain.to_dict()["crosstab"]
    assert packed_result.a.auc == plain.a.auc
