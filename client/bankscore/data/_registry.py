"""Versioned datasets in the workspace, keyed by content: registering the same bytes twice is a no-op.

Layout::

    <workspace>/datasets/<name>/v<N>/data.csv.gz   the checked content (gzip of the bytes as given)
    <workspace>/datasets/<name>/v<N>/dataset.json  version, sha256, rows, source, features, profile
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bankscore import workspace
from bankscore._refs import pick_version
from bankscore.data._csv import load_csv, parse_csv_bytes
from bankscore.data._dataset import Dataset
from bankscore.data._profile import profile

__all__ = ["DEFAULT_DATASET_NAME", "DatasetVersion", "get_dataset", "list_datasets", "register_dataset"]

DEFAULT_DATASET_NAME = "bankmarketing_train"


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    name: str
    version: int
    sha256: str
    rows: int
    source: str
    registered_at: str
    has_label: bool
    path: str  # the stored content (data.csv.gz)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def load(self) -> Dataset:
        """Load the stored content (checked again: the file could have been edited by hand)."""
        raw = gzip.decompress(Path(self.path).read_bytes())
        return parse_csv_bytes(raw, source=self.ref)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ref": self.ref}


def _root(name: str) -> Path:
    return workspace.home() / "datasets" / name


def _read(meta: Path) -> DatasetVersion:
    data = json.loads(meta.read_text())
    fields = {k: data[k] for k in DatasetVersion.__dataclass_fields__}
    return DatasetVersion(**fields)


def list_datasets(name: str | None = None) -> list[DatasetVersion]:
    """Every registered version, by name then version."""
    base = workspace.home() / "datasets"
    names = [name] if name else sorted(p.name for p in base.glob("*") if p.is_dir())
    versions = [_read(meta) for n in names for meta in _root(n).glob("v*/dataset.json")]
    return sorted(versions, key=lambda v: (v.name, v.version))


def get_dataset(ref: str | None = None) -> DatasetVersion:
    """``name``, ``name:version`` or None (the latest of the default name)."""
    return pick_version(
        ref or DEFAULT_DATASET_NAME, list_datasets, what="dataset", hint="run `bankscore data register` first"
    )


def register_dataset(
    csv_path: str | os.PathLike[str] | None = None, name: str | None = None
) -> tuple[DatasetVersion, bool]:
    """Check and register a CSV (default: the shipped training set). Returns the version and whether it is new.

    The content hash decides: the same bytes registered again return the existing version and write nothing.
    """
    if csv_path is None:
        from bankscore.data import TRAINING_DATA_NAME, load_training_data

        dataset = load_training_data()
        raw_gz = _shipped_gz()
        source = f"bankscore:{TRAINING_DATA_NAME} (shipped)"
    else:
        dataset = load_csv(csv_path, require_label=True)
        raw = Path(csv_path).read_bytes()
        raw_gz = raw if str(csv_path).endswith(".gz") else gzip.compress(raw, mtime=0)
        source = str(Path(csv_path).resolve())
    name = name or (DEFAULT_DATASET_NAME if csv_path is None else Path(csv_path).name.split(".")[0])
    for existing in list_datasets(name):
        if existing.sha256 == dataset.sha256:
            return existing, False
    root = _root(name)
    root.mkdir(parents=True, exist_ok=True)
    version = max((v.version for v in list_datasets(name)), default=0) + 1
    # Write into a temporary folder and rename, so a crash never leaves a half-registered version.
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        (tmp / "data.csv.gz").write_bytes(raw_gz)
        final = root / f"v{version}"
        entry = DatasetVersion(
            name=name,
            version=version,
            sha256=dataset.sha256,
            rows=len(dataset),
            source=source,
            registered_at=datetime.now(UTC).isoformat(timespec="seconds"),
            has_label=dataset.has_label,
            path=str(final / "data.csv.gz"),
        )
        meta = {**entry.to_dict(), "profile": profile(dataset).to_dict()}
        (tmp / "dataset.json").write_text(json.dumps(meta, indent=2))
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return entry, True


def _shipped_gz() -> bytes:
    from importlib import resources

    return resources.files("bankscore.data").joinpath("bankmarketing_train.csv.gz").read_bytes()
