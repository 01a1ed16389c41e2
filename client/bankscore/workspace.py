"""The bankscore workspace: the folder where datasets, runs, the model registry and deployments live.

Default ``./.bankscore`` (like ``.git``, it belongs to the project folder you work in); ``BANKSCORE_HOME``
overrides it. The MLflow tracking store defaults to a sqlite file inside it; a user who sets
``MLFLOW_TRACKING_URI`` (a tracking server, or an Azure ML workspace's MLflow URI) gets that store instead.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["artifact_root", "home", "tracking_uri"]


def home() -> Path:
    """The workspace folder (created on first use)."""
    path = Path(os.environ.get("BANKSCORE_HOME") or Path.cwd() / ".bankscore").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<workspace>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home() / 'mlflow.db'}"


def artifact_root() -> str:
    """Where run artifacts go with the embedded store (a file URI inside the workspace)."""
    return (home() / "mlartifacts").as_uri()
