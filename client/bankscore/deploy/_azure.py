"""Azure ML managed online endpoint assets for a deployment folder (CLI v2 YAML, `az ml ...`)."""

from __future__ import annotations

from pathlib import Path

from bankscore.deploy._folder import ENTRY_SCRIPT, DeploymentFolder

__all__ = ["write_azure_assets"]

# Azure's curated inference base image: it runs azmlinfsrv itself, as the local deployment does.
BASE_IMAGE = "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference:latest"


def write_azure_assets(folder: DeploymentFolder, *, name: str, instance_type: str = "Standard_DS2_v2") -> list[Path]:
    """Write endpoint.yml and deployment.yml beside the folder's score.py and model/."""
    endpoint = folder.path / "endpoint.yml"
    endpoint.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\n"
        f"name: {name}\n"
        "auth_mode: key\n"
    )
    deployment = folder.path / "deployment.yml"
    deployment.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\n"
        "name: blue\n"
        f"endpoint_name: {name}\n"
        "model:\n"
        f"  path: {folder.model_dir.relative_to(folder.path)}\n"
        "code_configuration:\n"
        "  code: .\n"
        f"  scoring_script: {ENTRY_SCRIPT}\n"
        "environment:\n"
        f"  image: {BASE_IMAGE}\n"
        "  conda_file: environment.yml\n"
        f"instance_type: {instance_type}\n"
        "instance_count: 1\n"
        "environment_variables:\n"
        f"  SERVICE_NAME: {name}\n"
        f"  SERVICE_VERSION: '{folder.model_version}'\n"
    )
    return [endpoint, deployment]
