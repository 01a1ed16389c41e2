"""Every YAML `deploy azure` writes, read by azure-ai-ml's own loaders (what `az ml ... create -f` runs first).

azure-ai-ml loads the endpoint and the deployment through its marshmallow schemas (which reject unknown or
malformed fields), resolves paths against the YAML's folder, and validates the deployment. The checks then hold
the loaded entities against the files written: a path that resolves nowhere, or a setting that loads as
something else, fails here rather than in a user's `az ml online-deployment create`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bankscore.deploy._azure import BASE_IMAGE, MAX_CONCURRENT_REQUESTS, MODEL_FOLDER, REQUEST_TIMEOUT_MS

pytestmark = pytest.mark.slow

# (generation, instance type, instance count): the defaults, and a size and count a user would choose.
CASES = [("C", None, None), ("C", "Standard_F4s_v2", 3), ("D", None, None), ("D", "Standard_E4s_v3", 2)]


@pytest.fixture(scope="module", params=CASES, ids=lambda case: "-".join(str(part) for part in case if part))
def written(request: pytest.FixtureRequest, trained: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    generation, instance_type, instance_count = request.param
    dest = tmp_path_factory.mktemp(f"azure-{generation}")
    args = ["deploy", "azure", "--generation", generation, "--output", str(dest), "--name", "bank-mkt"]
    if instance_type:
        args += ["--instance-type", instance_type, "--instance-count", str(instance_count)]
    done = trained.cli(*args)
    assert done.returncode == 0, done.stderr
    return generation, instance_type or "Standard_DS2_v2", instance_count or 1, dest


def test_the_endpoint_loads_with_key_auth(written: Any, azure_yaml: Any) -> None:
    _, _, _, dest = written
    endpoint = azure_yaml("endpoint", dest / "endpoint.yml")
    assert endpoint.name == "bank-mkt"
    assert endpoint.auth_mode == "key"


def test_the_deployment_loads_validates_and_names_the_endpoint(written: Any, azure_yaml: Any) -> None:
    _, instance_type, instance_count, dest = written
    deployment = azure_yaml("deployment", dest / "deployment.yml")
    deployment._validate()  # the checks `az ml online-deployment create` runs before it calls Azure
    assert type(deployment).__name__ == "ManagedOnlineDeployment"
    assert (deployment.name, deployment.endpoint_name) == ("blue", "bank-mkt")
    assert (deployment.instance_type, deployment.instance_count) == (instance_type, instance_count)


def test_the_paths_azure_ai_ml_resolves_are_the_files_written(written: Any, azure_yaml: Any) -> None:
    generation, _, _, dest = written
    deployment = azure_yaml("deployment", dest / "deployment.yml")
    model_path = Path(deployment.model.path)
    if not model_path.is_absolute():
        model_path = dest / model_path
    if generation == "D":
        assert model_path.resolve() == (dest / MODEL_FOLDER).resolve()
        assert (model_path / "MLmodel").is_file()
        assert deployment.model.type == "mlflow_model"
        assert deployment.code_configuration is None and deployment.environment is None
    else:
        (model_dir,) = (dest / "azureml-models").glob("*/*")
        assert model_path.resolve() == model_dir.resolve()
        assert (model_path / "scorer.pkl").is_file()
        code = Path(deployment.code_configuration.code)
        assert (code if code.is_absolute() else dest / code).resolve() == dest.resolve()
        assert deployment.code_configuration.scoring_script == "score.py"
        assert (dest / deployment.code_configuration.scoring_script).is_file()


def test_the_settings_load_as_written(written: Any, azure_yaml: Any) -> None:
    generation, _, _, dest = written
    deployment = azure_yaml("deployment", dest / "deployment.yml")
    if generation == "D":
        settings = deployment.request_settings
        assert settings.request_timeout_ms == REQUEST_TIMEOUT_MS
        assert settings.max_concurrent_requests_per_instance == MAX_CONCURRENT_REQUESTS
    else:
        environment = deployment.environment
        assert environment.image == BASE_IMAGE
        # azure-ai-ml reads the conda file itself: the environment Azure builds is the one written.
        assert environment.conda_file == yaml.safe_load((dest / "environment.yml").read_text())
        assert deployment.environment_variables == {"SERVICE_NAME": "bank-mkt", "SERVICE_VERSION": "1"}
