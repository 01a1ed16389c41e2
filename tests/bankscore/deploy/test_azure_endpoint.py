"""`deploy azure --deployment ...`: one endpoint.yml with traffic and mirror_traffic, one folder and
deployment.yml per deployment, read back by azure-ai-ml's own loaders (what `az ml ... -f` runs first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bankscore.cli import main


@pytest.mark.slow
@pytest.mark.parametrize(
    ("generation", "split", "expected_traffic", "expected_mirror"),
    [
        ("C", ["--traffic", "blue=100", "--mirror", "green=20"], {"blue": 100, "green": 0}, {"green": 20}),
        ("D", ["--traffic", "blue=90 green=10"], {"blue": 90, "green": 10}, {}),
        ("C", [], {"blue": 100, "green": 0}, {}),  # as `deploy local`: the first takes all the traffic
    ],
    ids=["C-mirror", "D-split", "C-default"],
)
def test_one_endpoint_yaml_and_a_deployment_yaml_per_deployment_load(
    generation: str,
    split: list[str],
    expected_traffic: dict[str, int],
    expected_mirror: dict[str, int],
    trained: Any,
    tmp_path: Path,
    azure_yaml: Any,
) -> None:
    out = tmp_path / "shop"
    done = trained.cli(
        "deploy", "azure", "--name", "shop", "--generation", generation, "--output", str(out),
        "--deployment", f"blue={trained.model_ref}", "--deployment", f"green={trained.model_ref}", *split,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"az ml online-endpoint update -f {out / 'endpoint.yml'}" in done.stdout
    endpoint = azure_yaml("endpoint", out / "endpoint.yml")
    assert (type(endpoint).__name__, endpoint.name, endpoint.auth_mode) == ("ManagedOnlineEndpoint", "shop", "key")
    assert endpoint.traffic == expected_traffic
    assert (endpoint.mirror_traffic or {}) == expected_mirror
    for deployment in ("blue", "green"):
        loaded = azure_yaml("deployment", out / deployment / "deployment.yml")
        loaded._validate()  # the checks `az ml online-deployment create` runs before it calls Azure
        assert (loaded.name, loaded.endpoint_name) == (deployment, "shop")
        model_path = Path(loaded.model.path)
        model_path = model_path if model_path.is_absolute() else out / deployment / model_path
        assert model_path.resolve().is_relative_to((out / deployment).resolve())
        assert (model_path / ("MLmodel" if generation == "D" else "scorer.pkl")).is_file()
    assert not (out / "deployment.yml").exists()  # each deployment's is in its own folder


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--deployment", "blue=bank-marketing:1", "--deployment", "green=bank-marketing:1", "--traffic",
          "blue=90 green=5"], "sum to 95"),
        (["--deployment", "blue=bank-marketing:1", "--traffic", "purple=100"], "'purple'"),
        (["--deployment", "blue=bank-marketing:1", "--deployment", "green=bank-marketing:1", "--mirror",
          "blue=10"], "blue=10"),
        (["--deployment", "blue=bank-marketing:1", "--deployment", "green=bank-marketing:1", "--traffic",
          "blue=100", "--mirror", "green=60"], "green=60"),
        (["--deployment", "Blue=bank-marketing:1"], "'Blue'"),
        (["--deployment", "blue"], "'blue'"),
        (["--deployment", "blue=bank-marketing:1", "--deployment", "blue=bank-marketing:2"], "'blue' is given twice"),
        (["--traffic", "blue=100"], "--traffic"),
    ],
)  # fmt: skip
def test_a_broken_rule_exits_2_before_anything_is_written(args: list[str], named: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["deploy", "azure", "--name", "shop", "--output", str(tmp_path / "o"), *args])
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()
