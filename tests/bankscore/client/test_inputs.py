"""Every input gives the same records: CSV paths, DataFrames, csv.DictReader rows, lists and `bankscore score`."""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bankscore import Client, LabelColumnDropped, ValidationError
from bankscore.cli import main
from bankscore.data import load_training_data
from bankscore.swagger import build_pinned_spec


@pytest.fixture(scope="module")
def labelled_csv(shipped_csv: Callable[[int], Path]) -> Path:
    """60 shipped rows with their label, as a CSV file (the file a user has)."""
    return shipped_csv(60)


def _score(uri: str, records: Any) -> tuple[list[str | None], list[str]]:
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with Client(uri, max_retries=0) as client:
            result = client.predict_many(records, batch_size=25)
    return result.labels, [str(w.message) for w in said if issubclass(w.category, LabelColumnDropped)]


def test_every_input_of_the_same_file_gives_the_same_predictions(
    labelled_csv: Path, scoring_server: Callable[[dict[str, Any]], Any]
) -> None:
    import pandas as pd

    server = scoring_server(json.loads(build_pinned_spec("C")))
    uri = server.scoring_uri
    with labelled_csv.open(newline="") as fh:
        dict_rows = list(csv.DictReader(fh))  # every value is text
    by_path, said_path = _score(uri, labelled_csv)
    by_frame, said_frame = _score(uri, pd.read_csv(labelled_csv))
    by_rows, said_rows = _score(uri, dict_rows)
    assert by_path == by_frame == by_rows
    assert len(by_path) == 60 and set(by_path) <= {"no", "yes"}
    for said in (said_path, said_frame, said_rows):
        assert said == ["60 records had the label column 'y', which the endpoint does not take: it was not sent"]

    result = CliRunner().invoke(main, ["score", str(labelled_csv), "--uri", uri, "--json"])
    assert result.exit_code == 0, result.output
    assert [row["label"] for row in json.loads(result.stdout)] == by_path
    assert "note: 60 records had the label column 'y'" in result.stderr
    # The label never reached the endpoint.
    assert all("y" not in row for body in server.bodies for row in body["Inputs"]["data"])


def test_counts_are_exact_when_every_record_is_bad(labelled_csv: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(labelled_csv)
    frame["job"] = "astronaut"
    client = Client("http://127.0.0.1:9/score", generation="C")
    with client, warnings.catch_warnings(), pytest.raises(ValidationError) as raised:
        warnings.simplefilter("ignore", LabelColumnDropped)
        client.predict_many(frame)
    text = str(raised.value)
    assert text.startswith("60 of 60 records do not fit the model; nothing was sent:")
    assert raised.value.bad_count == 60
    assert text.count("job='astronaut'") == 10  # the first ten listed


def test_csv_problems_name_the_line(tmp_path: Path, labelled_csv: Path) -> None:
    lines = labelled_csv.read_text().splitlines()
    lines[7] = lines[7].replace(",cellular,", ",pigeon,").replace(",telephone,", ",pigeon,")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    client = Client("http://127.0.0.1:9/score", generation="C")
    with client, warnings.catch_warnings(), pytest.raises(ValidationError) as raised:
        warnings.simplefilter("ignore", LabelColumnDropped)
        client.predict_many(bad)
    assert "record 6 (line 8): contact='pigeon'" in str(raised.value)


@pytest.mark.parametrize(("text", "value"), [("41", 41), (" 41 ", 41), ("41.0", 41), (41.0, 41)])
def test_numeric_text_and_whole_floats_are_read_as_the_csv_reads_them(text: Any, value: int) -> None:
    from bankscore import BankMarketingRecord
    from bankscore._records import RecordCodec

    row = next(load_training_data().records())
    (record,) = RecordCodec(BankMarketingRecord).validate([{**row, "age": text}])
    assert record.age == value


def test_a_field_over_the_csv_limit_is_a_data_error(tmp_path: Path) -> None:
    from bankscore import DataError

    huge = tmp_path / "huge.csv"
    huge.write_text('age,job\n41,"' + "x" * 200_000 + '"\n')
    with Client("http://127.0.0.1:9/score", generation="C") as client, pytest.raises(DataError, match="line"):
        client.predict_many(huge)
