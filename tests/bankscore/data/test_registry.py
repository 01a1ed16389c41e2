"""Dataset registration: versioned by content, idempotent, nothing written for a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bankscore import BankscoreError, DataError
from bankscore.data import get_dataset, list_datasets, load_training_data, register_dataset


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "ws"))
    return tmp_path / "ws"


def _snapshot(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_registering_the_same_content_twice_returns_the_same_version(home: Path) -> None:
    first, created = register_dataset()
    assert created and first.ref == "bankmarketing_train:1"
    assert first.rows == 32_950 and first.sha256.startswith("720ae6eb")
    before = _snapshot(home)
    again, created_again = register_dataset()
    assert not created_again and again == first
    assert _snapshot(home) == before  # nothing else happened
    assert get_dataset().load().columns == load_training_data().columns


def test_new_content_is_a_new_version(home: Path, tmp_path: Path) -> None:
    register_dataset()
    data = load_training_data()
    header = ",".join(data.columns)
    rows = [",".join(str(v) for v in r.values()) for r in list(data.records(with_label=True))[:300]]
    small = tmp_path / "bankmarketing_train.csv"
    small.write_text(header + "\n" + "\n".join(rows) + "\n")
    second, created = register_dataset(small, name="bankmarketing_train")
    assert created and second.version == 2 and second.rows == 300
    assert [v.version for v in list_datasets("bankmarketing_train")] == [1, 2]
    assert get_dataset().version == 2
    assert get_dataset("bankmarketing_train:1").rows == 32_950
    with pytest.raises(BankscoreError, match=r"has no version '7' \(versions: 1, 2\)"):
        get_dataset("bankmarketing_train:7")
    with pytest.raises(BankscoreError, match="no dataset 'other' is registered"):
        get_dataset("other")


def test_a_bad_file_registers_nothing(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("age,job\n41,astronaut\n")
    with pytest.raises(DataError):
        register_dataset(bad)
    assert list_datasets() == []
    assert not (home / "datasets" / "bad").exists()
