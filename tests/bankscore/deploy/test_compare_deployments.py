"""`bankscore compare` between two real local deployments of the trained model (generations C and D)."""

from __future__ import annotations

import csv
import json
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import roc_auc_score

from bankscore.data import load_training_data

ROWS = 600


@pytest.mark.slow
def test_the_same_model_on_c_and_d_decides_the_same(
    trained: Any, deployments: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = list(islice(load_training_data().records(with_label=True), ROWS))
    data = tmp_path / "customers.csv"
    with data.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    page = tmp_path / "report.html"
    c, d = deployments["gen-c"], deployments["gen-d"]
    run = trained.cli(
        "compare", c.url + "/score", d.url + "/score", "--data", str(data), "--json", "-", "--html", str(page),
        "--max-disagreement", "0", "--max-auc-drop", "0.000001",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)
    assert figures["n"] == ROWS and figures["agreement"] == 1.0
    assert figures["delta_p"]["max"] <= 1e-6
    assert (figures["sides"]["a"]["generation"], figures["sides"]["b"]["generation"]) == ("C", "D")
    assert figures["gates"]["max_disagreement"]["passed"] and figures["gates"]["max_auc_drop"]["passed"]

    # The AUC from the endpoints' answers is the registered model's own AUC on these rows.
    from bankscore.automl._registry import load_model

    monkeypatch.setenv("BANKSCORE_HOME", str(trained.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    model = load_model(trained.model_ref)
    p_yes = model.predict_proba([{k: v for k, v in r.items() if k != "y"} for r in rows])[:, 1]
    expected = roc_auc_score([r["y"] == "yes" for r in rows], p_yes)
    assert figures["sides"]["a"]["auc"] == pytest.approx(expected, abs=1e-6)
    assert figures["sides"]["b"]["auc"] == pytest.approx(expected, abs=1e-6)
    assert page.read_text().count("<svg") == 3
