"""`bankscore data ...` and `bankscore demo`, run through click's runner and as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from bankscore.cli import main
from bankscore.data import load_training_data


def test_profile_json_of_the_shipped_data() -> None:
    result = CliRunner().invoke(main, ["data", "profile", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["rows"] == 32_950
    assert data["label_counts"] == {"no": 29_258, "yes": 3_692}


def test_check_a_good_file_without_label(tmp_path: Path) -> None:
    rows = list(load_training_data().records())[:5]
    lines = [";".join(rows[0])] + [";".join(str(v) for v in r.values()) for r in rows]
    (tmp_path / "ok.csv").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["data", "check", str(tmp_path / "ok.csv")])
    assert result.exit_code == 0, result.output
    assert "5 rows without the label, all fit the contract" in result.output


def test_check_a_bad_file_exits_1_with_a_message_and_no_traceback(tmp_path: Path) -> None:
    header = ",".join(load_training_data().columns)
    (tmp_path / "bad.csv").write_text(header.replace("age", "edad") + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bankscore.cli", "data", "check", str(tmp_path / "bad.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "'edad' (column 1) is not a Bank Marketing column" in proc.stderr
    assert "'age' is missing" in proc.stderr


def test_contract_lists_every_feature() -> None:
    result = CliRunner().invoke(main, ["data", "contract", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert [f["wire_name"] for f in data["features"]][15] == "emp.var.rate"
    assert data["features"][8]["categories"][0] == "jan"
    text = CliRunner().invoke(main, ["data", "contract"]).output
    assert "NOTE: The duration of the call is only known after the call" in text


def test_license_names_cc_by_and_the_citation() -> None:
    text = CliRunner().invoke(main, ["data", "license"]).output
    assert "CC BY 4.0" in text and "doi:10.1016/j.dss.2014.03.001" in text
