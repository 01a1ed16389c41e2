"""What the real pipeline runs share: a fresh workspace holding a small slice of the shipped training data."""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest

SmallWorkspace = Callable[[str, int], contextlib.AbstractContextManager[tuple[Path, Path]]]


@pytest.fixture(scope="session")
def small_workspace(tmp_path_factory: pytest.TempPathFactory) -> SmallWorkspace:
    """``with small_workspace(name, every) as (home, csv):`` a fresh BANKSCORE_HOME (and no MLflow tracking URI)
    for the block, and a CSV of every ``every``-th shipped row beside it: small enough for a real run in seconds."""

    @contextlib.contextmanager
    def enter(name: str, every: int) -> Iterator[tuple[Path, Path]]:
        root = tmp_path_factory.mktemp(name)
        raw = gzip.decompress(resources.files("bankscore.data").joinpath("bankmarketing_train.csv.gz").read_bytes())
        lines = raw.decode().splitlines()
        csv = root / "small.csv"
        csv.write_text("\n".join([lines[0], *lines[1::every]]) + "\n")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("BANKSCORE_HOME", str(root / "ws"))
            patch.delenv("MLFLOW_TRACKING_URI", raising=False)
            yield root / "ws", csv

    return enter
