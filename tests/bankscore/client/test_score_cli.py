"""`bankscore score` without a server: what it refuses, and how it says so (the real runs are in test_integration)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bankscore.cli import main


def write_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return path


def test_bad_rows_are_listed_and_nothing_is_sent(tmp_path: Path, shipped: list[dict[str, Any]]) -> None:
    records = [dict(r) for r in shipped[:20]]
    records[4]["age"] = "old"
    source = write_csv(tmp_path / "in.csv", records)
    # Port 9 (discard) on loopback: a request would fail with a connection error, not a data error.
    result = CliRunner().invoke(main, ["score", str(source), "--uri", "http://127.0.0.1:9/score", "--generation", "C"])
    assert result.exit_code == 1
    assert "line 6" in result.output and "age='old'" in result.output
    assert "Traceback" not in result.output


def test_without_a_deployment_it_says_how_to_get_one(tmp_path: Path, shipped: list[dict[str, Any]]) -> None:
    source = write_csv(tmp_path / "in.csv", shipped[:3])
    result = CliRunner().invoke(main, ["score", str(source)])
    assert result.exit_code == 1
    assert "bankscore deploy local" in result.output and "Traceback" not in result.output


def test_json_input_with_a_bad_record(tmp_path: Path, shipped: list[dict[str, Any]]) -> None:
    import json

    source = tmp_path / "in.json"
    source.write_text(json.dumps({"data": [shipped[0], {**shipped[1], "loan": "maybe"}]}))
    result = CliRunner().invoke(main, ["score", str(source), "--uri", "http://127.0.0.1:9/score", "--generation", "A"])
    assert result.exit_code == 1
    assert "record 1: loan='maybe'" in result.output and "nothing was sent" in result.output


def test_input_option_is_the_file_argument_and_both_at_once_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("age\n40\n")
    # --quiet: the retries of the spec's request (their waits are jittered) are not printed, the error is.
    uri = "http://127.0.0.1:9/score"
    by_option = CliRunner().invoke(main, ["--quiet", "score", "--input", str(source), "--uri", uri])
    by_argument = CliRunner().invoke(main, ["--quiet", "score", str(source), "--uri", uri])
    assert by_option.exit_code == by_argument.exit_code == 1
    assert by_option.output == by_argument.output  # the same checks of the same file
    both = CliRunner().invoke(main, ["score", str(source), "--input", str(tmp_path / "other.csv")])
    assert both.exit_code == 2
    assert "not both" in both.output
