"""Columns the endpoint's record does not have: the shipped data against a model retrained without ``duration``.

The label ``y`` and Bank Marketing features the record lacks are dropped with one warning naming them; other
columns only with ``drop_unknown`` / ``--drop-unknown``; ``strict`` / ``--strict`` refuses all but ``y``.
The slow test runs the README's order for real: a model trained ``--exclude duration``, deployed locally, then
``Client``, ``bankscore score``, both examples and ``bankscore-bench`` on the shipped data.
"""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bankscore import BankMarketingRecord, Client, ColumnsDropped, LabelColumnDropped, ValidationError
from bankscore.cli import main
from bankscore.swagger import build_pinned_spec

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "client" / "bankscore" / "data" / "bankmarketing_train.csv.gz"


def _spec_without(generation: str, *names: str) -> dict[str, Any]:
    """The local deployment's spec for ``generation`` with ``names`` gone from its record."""
    spec = json.loads(build_pinned_spec(generation))
    body = spec["components"]["schemas"]["ServiceInput"]["properties"]
    record = body["Inputs"]["properties"]["data"]["items"] if generation == "C" else body["data"]["items"]
    for name in names:
        del record["properties"][name]
        record["required"].remove(name)
    return dict(spec)


@pytest.fixture(scope="module")
def customers_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 rows of the shipped file, as they are there (label and duration included)."""
    with gzip.open(SHIPPED, "rt", newline="") as fh:
        lines = [line for _, line in zip(range(61), fh, strict=False)]
    path = tmp_path_factory.mktemp("extra") / "customers.csv"
    path.write_text("".join(lines))
    return path


def _sent(server: Any) -> list[dict[str, Any]]:
    return [row for body in server.bodies for row in body["Inputs"]["data"]]


def test_the_shipped_csv_scores_against_a_model_without_duration_with_one_warning(
    customers_csv: Path, scoring_server: Callable[[dict[str, Any]], Any]
) -> None:
    server = scoring_server(_spec_without("C", "duration"))
    with warnings.catch_warnings(record=True) as said, Client(server.scoring_uri, max_retries=0) as client:
        warnings.simplefilter("always")
        result = client.predict_many(customers_csv, batch_size=25)
    assert len(result) == 60 and set(result.labels) <= {"no", "yes"}
    ours = [w for w in said if issubclass(w.category, ColumnsDropped)]
    assert [str(w.message) for w in ours] == [
        "60 records had columns the endpoint's record does not have, which were not sent: 'duration', 'y'"
    ]
    assert issubclass(ours[0].category, LabelColumnDropped)  # y is among them: old filters still match
    assert ours[0].filename == __file__  # points at the caller's line
    sent = _sent(server)
    assert len(sent) == 60 and not any("duration" in row or "y" in row for row in sent)


def test_a_typed_record_of_the_shipped_model_fits_the_retrained_one(
    scoring_server: Callable[[dict[str, Any]], Any], shipped: list[dict[str, Any]]
) -> None:
    server = scoring_server(_spec_without("C", "duration"))
    record = BankMarketingRecord.model_validate(shipped[0])
    with warnings.catch_warnings(record=True) as said, Client(server.scoring_uri, max_retries=0) as client:
        warnings.simplefilter("always")
        assert client.predict(record).label in {"no", "yes"}
    assert [str(w.message) for w in said] == [
        "1 record had columns the endpoint's record does not have, which were not sent: 'duration'"
    ]
    assert "duration" not in _sent(server)[0]


def test_strict_refuses_a_known_column_the_record_lacks_as_before(
    customers_csv: Path, scoring_server: Callable[[dict[str, Any]], Any]
) -> None:
    server = scoring_server(_spec_without("C", "duration"))
    with (
        warnings.catch_warnings(record=True) as said,
        Client(server.scoring_uri, max_retries=0, strict=True) as client,
        pytest.raises(ValidationError) as raised,
    ):
        warnings.simplefilter("always")
        client.predict_many(customers_csv)
    text = str(raised.value)
    assert text.startswith("60 of 60 records do not fit")
    assert "duration='371': is not a field of the endpoint's record" in text
    assert [str(w.message) for w in said] == [  # y is still dropped, as it always was
        "60 records had the label column 'y', which the endpoint does not take: it was not sent"
    ]
    assert server.bodies == []
    with pytest.raises(ValueError, match="drop_unknown"):
        Client(server.scoring_uri, strict=True, drop_unknown=True)


def test_unknown_columns_are_refused_unless_drop_unknown(
    scoring_server: Callable[[dict[str, Any]], Any], shipped: list[dict[str, Any]]
) -> None:
    server = scoring_server(_spec_without("C", "duration"))
    records = [{**r, "customer_id": i} for i, r in enumerate(shipped[:4])]
    with Client(server.scoring_uri, max_retries=0) as client, warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with pytest.raises(ValidationError, match="customer_id=0: is not a field of the endpoint's record"):
            client.predict_many(records)
    assert server.bodies == []
    assert len(said) == 1  # duration, named once even though the records were refused for customer_id

    with Client(server.scoring_uri, max_retries=0, drop_unknown=True) as client, pytest.warns(ColumnsDropped) as said:
        result = client.predict_many(records)
    assert len(result) == 4
    assert [str(w.message) for w in said] == [
        "4 records had columns the endpoint's record does not have, which were not sent: 'duration', 'customer_id'"
    ]
    assert not issubclass(said[0].category, LabelColumnDropped)


def test_bankscore_score_prints_one_note_and_strict_fails(
    customers_csv: Path, scoring_server: Callable[[dict[str, Any]], Any], tmp_path: Path
) -> None:
    server = scoring_server(_spec_without("C", "duration"))
    result = CliRunner().invoke(main, ["score", str(customers_csv), "--uri", server.scoring_uri, "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 60
    assert result.stderr.splitlines() == [
        "note: 60 records had columns the endpoint's record does not have, which were not sent: 'duration', 'y'"
    ]

    strict = CliRunner().invoke(main, ["score", str(customers_csv), "--uri", server.scoring_uri, "--strict"])
    assert strict.exit_code == 1
    assert "60 of 60 records do not fit" in strict.stderr and "duration='371'" in strict.stderr

    extra = tmp_path / "extra.csv"
    with customers_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with extra.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["customer_id", *rows[0]])
        writer.writeheader()
        writer.writerows({"customer_id": str(i), **row} for i, row in enumerate(rows))
    refused = CliRunner().invoke(main, ["score", str(extra), "--uri", server.scoring_uri])
    assert refused.exit_code == 1 and "customer_id='0': is not a field" in refused.stderr
    dropped = CliRunner().invoke(main, ["score", str(extra), "--uri", server.scoring_uri, "--drop-unknown"])
    assert dropped.exit_code == 0, dropped.output
    assert dropped.stderr.splitlines() == [
        "note: 60 records had columns the endpoint's record does not have, which were not sent: "
        "'customer_id', 'duration', 'y'"
    ]
    both = CliRunner().invoke(main, ["score", str(extra), "--uri", server.scoring_uri, "--drop-unknown", "--strict"])
    assert both.exit_code == 2


# --- the README in order, for real ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def without_duration(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """A 2-trial model trained without ``duration``, registered in its own workspace and deployed locally
    (generation C); yields (workspace, scoring URI) and stops the deployment afterwards."""
    fixtures = sys.modules["bankscore_tests_deploy_fixtures"]
    from bankscore.automl import TrainOptions, run_automl
    from bankscore.automl._registry import log_training
    from bankscore.data import Dataset, load_training_data

    home = tmp_path_factory.mktemp("no-duration")
    full = load_training_data()
    sample = Dataset(columns={n: v[::12] for n, v in full.columns.items()}, source="sample-of-12", sha256="s12")
    with fixtures.workspace_env(home):
        result = run_automl(sample, TrainOptions(time_budget=None, max_trials=2, cv=3, exclude=("duration",)))
        (home / "report").mkdir()
        log_training(result, "sample:1", "s12", home / "report")
    workspace = fixtures.TrainedWorkspace(home, "bank-marketing:1", {}, {}, [], [])
    port = fixtures.free_port()
    started = workspace.cli("deploy", "local", "--port", str(port), "--timeout", "120", "--json", timeout=240)
    try:
        assert started.returncode == 0, started.stderr
        yield workspace, f"http://127.0.0.1:{port}/score"
    finally:
        workspace.cli("deploy", "stop", timeout=60)


@pytest.mark.slow
def test_the_readme_in_order_scores_the_shipped_data_with_a_model_without_duration(
    without_duration: tuple[Any, str], customers_csv: Path, tmp_path: Path
) -> None:
    workspace, uri = without_duration
    env = {k: v for k, v in workspace.env().items() if k not in {"BANKSCORE_URI", "BANKSCORE_KEY"}}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)

    scored = run(sys.executable, "-m", "bankscore.cli", "score", str(customers_csv), "--json")
    assert scored.returncode == 0, scored.stderr
    assert len(json.loads(scored.stdout)) == 60
    assert scored.stderr.splitlines() == [
        "note: 60 records had columns the endpoint's record does not have, which were not sent: 'duration', 'y'"
    ]
    strict = run(sys.executable, "-m", "bankscore.cli", "score", str(customers_csv), "--strict")
    assert strict.returncode == 1 and "60 of 60 records do not fit" in strict.stderr

    code = (
        "import bankscore, sys\n"
        "with bankscore.Client() as client:\n"
        "    result = client.predict_many(sys.argv[1], batch_size=25)\n"
        "print(len(result), sorted(set(result.labels)) <= ['no', 'yes'])\n"
    )
    many = run(sys.executable, "-c", code, str(customers_csv))
    assert many.returncode == 0, many.stderr
    assert many.stdout.split() == ["60", "True"]
    assert many.stderr.count("ColumnsDropped") + many.stderr.count("LabelColumnDropped") == 1
    assert "'duration', 'y'" in many.stderr

    plain = run(sys.executable, str(ROOT / "examples" / "endpoint.py"))
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr.splitlines() == ["note: not sent, the endpoint's record does not have: duration"]
    assert len(json.loads(plain.stdout)["Results"]) == 2
    assert "duration" not in (tmp_path / "data.json").read_text()

    typed = run(sys.executable, str(ROOT / "examples" / "endpoint_typed.py"))
    assert typed.returncode == 0, typed.stderr
    assert len(json.loads(typed.stdout)) == 2
    assert typed.stderr.count("which were not sent: 'duration'") == 1

    bench = run(sys.executable, "-m", "bankscore_bench", "-n", "20", "-c", "2", uri)
    assert bench.returncode == 0, bench.stderr
    assert "without duration (not in the endpoint's record)" in bench.stderr
    assert "Failed requests:        0" in bench.stdout
