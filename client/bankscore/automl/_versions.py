"""Reading the model registry: registered versions and their run's artifacts, fast.

Importing MLflow takes seconds, and opening its sqlite store through MLflow runs its schema checks; a user who
asks ``bankscore models list`` waits for both. The embedded store is a plain sqlite file, so reads go straight to
its tables (``model_versions``, ``model_version_tags``, ``runs``) through the ``sqlite3`` module, read-only: the
file is never created, migrated or locked for writing here. A store this reader does not know (a tracking server,
an Azure ML workspace, a sqlite file of another schema) is read through MLflow's client as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bankscore import workspace
from bankscore._refs import pick_version

__all__ = [
    "MODEL_NAME",
    "ModelVersionInfo",
    "get_model_version",
    "list_model_versions",
    "mlflow_client_module",
    "run_artifact_text",
]

MODEL_NAME = "bank-marketing"

# MLflow marks a deleted version with this stage and keeps the row; its own searches skip it.
_DELETED_STAGE = "Deleted_Internal"
# The workspace MLflow files everything under when its workspaces feature is off (the embedded default).
_DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: int
    algorithm: str
    features: list[str]
    excluded: list[str]
    metrics: dict[str, float]
    dataset: str
    training_seconds: float
    run_id: str
    created_at: int  # ms since the epoch, as MLflow records it
    source: str

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ref": self.ref}


def mlflow_client_module() -> Any:
    """Import MLflow pointed at the workspace store (MLflow's import is slow, so only when needed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow warns about optional parts (e.g. pydantic settings) at import
        import mlflow
    # MLflow narrates database migrations and registrations at INFO; bankscore prints its own summary.
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    user_uri = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(workspace.tracking_uri())
    if user_uri is None:
        # set_tracking_uri also exports MLFLOW_TRACKING_URI; left there, it would pin this process and its
        # children to this workspace even after BANKSCORE_HOME changes, and look like the user's own choice.
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    return mlflow


class _UnknownStoreError(Exception):
    """The store is not a sqlite file this reader understands: ask MLflow."""


def _sqlite_path() -> Path | None:
    """The sqlite file behind the tracking URI; None for any other kind of store."""
    uri = workspace.tracking_uri()
    if not uri.startswith("sqlite:///"):
        return None
    # sqlite:////abs/path or sqlite:///relative/path (to the working folder), as SQLAlchemy reads them.
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path else None


def _connect(path: Path) -> sqlite3.Connection:
    # mode=ro: never create the file, never write; a store MLflow is writing is read as of its last commit.
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    connection.row_factory = sqlite3.Row
    return connection


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row["name"] for row in connection.execute(f"PRAGMA table_info({table})")}  # table: a constant


# The version rows and their tags, with MLflow's workspace column (MLflow 3.x) or without it (older stores).
_VERSIONS = (
    "SELECT version, creation_time, source, run_id FROM model_versions WHERE name = ? AND current_stage IS NOT ?"
)
_TAGS = "SELECT version, key, value FROM model_version_tags WHERE name = ?"
_IN_WORKSPACE = " AND workspace = ?"


def _read_versions(path: Path, name: str) -> list[ModelVersionInfo]:
    try:
        with contextlib.closing(_connect(path)) as connection:
            versions = _columns(connection, "model_versions")
            tags = _columns(connection, "model_version_tags")
            if not versions:
                return []  # a store with no registry tables yet has no versions
            needed = {"name", "version", "creation_time", "source", "run_id", "current_stage"}
            if not needed <= versions or not {"name", "version", "key", "value"} <= tags:
                raise _UnknownStoreError
            if "workspace" in versions and "workspace" in tags:
                found = connection.execute(
                    _VERSIONS + _IN_WORKSPACE, [name, _DELETED_STAGE, _DEFAULT_WORKSPACE]
                ).fetchall()
                tag_rows = connection.execute(_TAGS + _IN_WORKSPACE, [name, _DEFAULT_WORKSPACE]).fetchall()
            else:
                found = connection.execute(_VERSIONS, [name, _DELETED_STAGE]).fetchall()
                tag_rows = connection.execute(_TAGS, [name]).fetchall()
    except sqlite3.Error as exc:
        raise _UnknownStoreError from exc
    by_version: dict[int, dict[str, str]] = {}
    for row in tag_rows:
        by_version.setdefault(int(row["version"]), {})[row["key"]] = row["value"]
    infos = []
    for row in found:
        version = int(row["version"])
        tags_of = by_version.get(version, {})
        infos.append(_info(name, version, tags_of, row["run_id"], row["creation_time"], row["source"]))
    return sorted(infos, key=lambda v: v.version)


def _info(name: str, version: int, tags: dict[str, str], run_id: Any, created: Any, source: Any) -> ModelVersionInfo:
    metrics = json.loads(tags.get("metrics", "{}"))
    flat = {f"cv_{k}": v for k, v in metrics.get("cv", {}).items()}
    flat.update({f"holdout_{k}": v for k, v in metrics.get("holdout", {}).items()})
    return ModelVersionInfo(
        name=name,
        version=version,
        algorithm=tags.get("algorithm", ""),
        features=json.loads(tags.get("features", "[]")),
        excluded=json.loads(tags.get("excluded", "[]")),
        metrics=flat,
        dataset=tags.get("dataset", ""),
        training_seconds=float(tags.get("training_seconds", "0")),
        run_id=run_id or "",
        created_at=int(created or 0),
        source=source or "",
    )


def list_model_versions(name: str = MODEL_NAME) -> list[ModelVersionInfo]:
    """Every registered version of ``name``, oldest first."""
    path = _sqlite_path()
    if path is not None:
        if not path.is_file():
            return []  # nothing was ever registered in this workspace: no store to create just to say so
        try:
            return _read_versions(path, name)
        except _UnknownStoreError:
            pass
    client = mlflow_client_module().MlflowClient()
    found = client.search_model_versions(f"name = '{name}'")
    return sorted(
        (_info(v.name, int(v.version), dict(v.tags or {}), v.run_id, v.creation_timestamp, v.source) for v in found),
        key=lambda v: v.version,
    )


def get_model_version(ref: str = MODEL_NAME) -> ModelVersionInfo:
    """``name`` (the latest version) or ``name:version``."""
    return pick_version(ref, list_model_versions, what="model", hint="run `bankscore train` first")


def _local_artifact_root(run_id: str) -> Path | None:
    """The run's artifact folder when the store is this workspace's sqlite file and the artifacts are local."""
    path = _sqlite_path()
    if path is None or not path.is_file():
        return None
    try:
        with contextlib.closing(_connect(path)) as connection:
            row = connection.execute("SELECT artifact_uri FROM runs WHERE run_uuid = ?", [run_id]).fetchone()
    except sqlite3.Error:
        return None
    if row is None or not str(row["artifact_uri"] or "").startswith("file:"):
        return None
    parts = urlsplit(row["artifact_uri"])
    return Path(unquote(parts.path))


def run_artifact_text(run_id: str, artifact: str) -> str | None:
    """The text of one artifact of a run; None when the run has no such file."""
    root = _local_artifact_root(run_id)
    if root is not None:
        local = root / artifact
        if local.resolve().is_relative_to(root.resolve()):  # artifact names come from bankscore, but stay inside
            return local.read_text(encoding="utf-8") if local.is_file() else None
        return None
    mlflow = mlflow_client_module()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            downloaded = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=tmp)
        except Exception:
            return None
        path = Path(downloaded)
        return path.read_text(encoding="utf-8") if path.is_file() else None
