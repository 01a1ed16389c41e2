"""Where a local publisher listens and the token it takes, saved in the workspace for the CLI and scripts.

``<workspace>/pipelines/publisher/publisher.json`` holds the endpoint URLs while the publisher runs;
``token.json`` (mode 0600) holds the token and stays after it stops, so the next start takes the same one.
This module needs only the base install: ``bankscore pipeline trigger`` reads it to find the local publisher.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bankscore import workspace

__all__ = [
    "LOCAL_RESOURCE_GROUP",
    "LOCAL_SUBSCRIPTION",
    "LOCAL_WORKSPACE",
    "PublisherInfo",
    "forget_publisher",
    "load_publisher",
    "new_token",
    "publisher_dir",
    "save_publisher",
    "saved_token",
]

# The Azure workspace path segments the local publisher answers to.
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LOCAL_RESOURCE_GROUP = "local"
LOCAL_WORKSPACE = "bankscore"


def new_token() -> str:
    """A fresh bearer token (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def publisher_dir() -> Path:
    return workspace.home() / "pipelines" / "publisher"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def saved_token() -> str | None:
    path = publisher_dir() / "token.json"
    return str(json.loads(path.read_text())["token"]) if path.is_file() else None


@dataclass(frozen=True)
class PublisherInfo:
    """Where a running local publisher listens. Saved as ``publisher.json``; the token is kept apart."""

    base_url: str
    subscription: str
    resource_group: str
    workspace: str
    pipeline_id: str
    endpoint_id: str
    endpoint_name: str
    pid: int
    started_at: str

    @property
    def workspace_path(self) -> str:
        return (
            f"subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    def _pipeline_runs(self, tail: str) -> str:
        """Azure's pipeline REST routes all live below the workspace's ``PipelineRuns``."""
        return f"{self.base_url}/pipelines/v1.0/{self.workspace_path}/PipelineRuns/{tail}"

    @property
    def published_pipeline_url(self) -> str:
        """The published pipeline's REST endpoint (Azure's ``published_pipeline.endpoint``)."""
        return self._pipeline_runs(f"PipelineSubmit/{self.pipeline_id}")

    @property
    def pipeline_endpoint_url(self) -> str:
        """The pipeline endpoint's REST endpoint (Azure's ``PipelineEndpoint.endpoint``)."""
        return self._pipeline_runs(f"PipelineEndpointSubmit/Id/{self.endpoint_id}")

    @property
    def queue_url(self) -> str:
        return self._pipeline_runs("Queue")

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "published_pipeline_url": self.published_pipeline_url,
            "pipeline_endpoint_url": self.pipeline_endpoint_url,
            "queue_url": self.queue_url,
        }


def load_publisher() -> PublisherInfo | None:
    """The local publisher saved in the workspace, or None when none was started here."""
    path = publisher_dir() / "publisher.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return PublisherInfo(**{k: data[k] for k in PublisherInfo.__dataclass_fields__})


def forget_publisher(pid: int | None = None) -> None:
    """Remove the saved publisher state (only ``pid``'s, when given); the token stays for the next start."""
    info = load_publisher()
    if info is not None and (pid is None or info.pid == pid):
        (publisher_dir() / "publisher.json").unlink(missing_ok=True)


def save_publisher(info: PublisherInfo, token: str) -> None:
    """Record the endpoint URLs, and the token (mode 0600)."""
    folder = publisher_dir()
    folder.mkdir(parents=True, exist_ok=True)
    _write_private(folder / "token.json", json.dumps({"token": token}) + "\n")
    (folder / "publisher.json").write_text(json.dumps(info.to_dict(), indent=2) + "\n")
