"""Loading CSV files a user brings: formats, and one clear error for everything that does not fit."""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
import sys
from pathlib import Path

import pytest

from bankscore import DataError
from bankscore.data import MAX_ROWS_SHOWN, load_csv, load_training_data
from bankscore.features import FEATURE_NAMES, FEATURES, LABEL

HEADER = [*FEATURE_NAMES, LABEL.name]


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    """The first 200 shipped rows as strings, as a user's file would hold them."""
    data = load_training_data()
    out = []
    for record in list(data.records(with_label=True))[:200]:
        out.append({k: str(v) for k, v in record.items()})
    return out


def write_csv(
    path: Path, rows: list[dict[str, str]], header: list[str], *, delimiter: str = ",", quote_all: bool = False
) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(name, "") for name in header])
    return path


def test_shipped_training_data_loads_whole() -> None:
    data = load_training_data()
    assert len(data) == 32_950
    assert data.has_label
    assert data.sha256 == "720ae6ebc7117640741907d2fe9823b1f19bbf50598f992fe1442489f7ac169f"
    assert list(data.columns) == HEADER
    assert data.labels.count("yes") == 3_692
    first = next(data.records(with_label=True))
    assert first["age"] == 57 and first["emp.var.rate"] == -1.8 and first["y"] == "no"


def test_uci_semicolon_format_with_quoted_strings(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    # The UCI original (bank-additional-full.csv) is ';'-separated with every string quoted.
    with (tmp_path / "uci.csv").open("w", newline="") as fh:
        fh.write(";".join(f'"{h}"' for h in HEADER) + "\n")
        for row in rows:
            cells = [
                row[h] if next((f for f in FEATURES if f.wire_name == h and f.is_numeric), None) else f'"{row[h]}"'
                for h in HEADER
            ]
            fh.write(";".join(cells) + "\n")
    loaded = load_csv(tmp_path / "uci.csv")
    assert len(loaded) == 200
    comma = load_csv(write_csv(tmp_path / "comma.csv", rows, HEADER))
    assert loaded.columns == comma.columns


def test_without_the_label_and_in_any_column_order(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    header = list(reversed(FEATURE_NAMES))
    loaded = load_csv(write_csv(tmp_path / "nolabel.csv", rows, header))
    assert not loaded.has_label
    assert list(loaded.columns) == list(FEATURE_NAMES)
    assert loaded.columns["age"][:3] == [int(r["age"]) for r in rows[:3]]
    with pytest.raises(ValueError, match="no label column 'y'"):
        _ = loaded.labels


def test_gzip_bom_crlf_and_trailing_blank_lines(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    plain = write_csv(tmp_path / "a.csv", rows, HEADER).read_text()
    text = "\ufeff" + plain.replace("\n", "\r\n") + "\r\n\r\n"
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(text.encode()))
    assert len(load_csv(tmp_path / "b.csv.gz")) == 200


def test_bad_values_name_rows_fields_and_values(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    bad = [dict(r) for r in rows]
    bad[0]["job"] = "astronaut"
    bad[4]["age"] = "forty"
    bad[4]["month"] = "may "
    bad[9]["y"] = "maybe"
    path = write_csv(tmp_path / "bad.csv", bad, HEADER)
    with pytest.raises(DataError) as info:
        load_csv(path)
    err = info.value
    assert err.bad_row_count == 3 and err.row_count == 200
    assert [rp.line for rp in err.row_problems] == [2, 6, 11]  # header is line 1
    message = str(err)
    assert "bad.csv does not fit" in message and "nothing was loaded" in message
    assert "line 2: job='astronaut': is not one of admin." in message
    assert "line 6: age='forty': must be an integer; month='may ': is not one of" in message
    assert "line 11: y='maybe': is not one of no, yes" in message
    assert "Rows: 3 of 200 have bad values:" in message


def test_only_the_first_rows_are_listed_but_all_are_counted(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    bad = [dict(r, age="0") for r in rows]
    with pytest.raises(DataError) as info:
        load_csv(write_csv(tmp_path / "bad.csv", bad, HEADER))
    assert len(info.value.row_problems) == MAX_ROWS_SHOWN
    assert info.value.bad_row_count == 200
    assert f"Rows: 200 of 200 have bad values (the first {MAX_ROWS_SHOWN} below):" in str(info.value)


def test_column_problems_are_listed_together(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    header = [h for h in HEADER if h not in ("age", "pdays")]
    header[header.index("emp.var.rate")] = "emp_var_rate"
    header += ["customer_id", "job"]
    with pytest.raises(DataError) as info:
        load_csv(write_csv(tmp_path / "cols.csv", rows, header))
    problems = info.value.column_problems
    assert "'emp_var_rate' (column 14) should be spelled 'emp.var.rate', its wire name" in problems
    assert "'customer_id' (column 20) is not a Bank Marketing column" in problems
    assert "'job' appears more than once (columns 1 and 21)" in problems
    assert "'age' is missing" in problems and "'pdays' is missing" in problems
    assert not any("emp.var.rate' is missing" in p for p in problems)  # already explained by the spelling
    assert info.value.row_problems == []


def test_extra_columns_can_be_ignored(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    with_id = [dict(r, customer_id=str(i)) for i, r in enumerate(rows)]
    loaded = load_csv(write_csv(tmp_path / "id.csv", with_id, ["customer_id", *HEADER]), extra_columns="ignore")
    assert "customer_id" not in loaded.columns and len(loaded) == 200


def test_a_model_without_duration_takes_files_with_or_without_it(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    realistic = tuple(f for f in FEATURES if f.wire_name != "duration")
    with_duration = load_csv(write_csv(tmp_path / "a.csv", rows, HEADER), features=realistic)
    without = load_csv(write_csv(tmp_path / "b.csv", rows, [h for h in HEADER if h != "duration"]), features=realistic)
    assert "duration" not in with_duration.columns
    assert with_duration.columns == without.columns


def test_ragged_rows_empty_files_and_missing_label(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    path = write_csv(tmp_path / "ragged.csv", rows[:3], HEADER)
    path.write_text(path.read_text() + "57,technician\n")
    with pytest.raises(DataError, match=r"line 5: \(row\)='57,technician': has 2 cells, the header has 21"):
        load_csv(path)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="the file is empty"):
        load_csv(tmp_path / "empty.csv")
    with pytest.raises(DataError, match="header but no data rows"):
        load_csv(write_csv(tmp_path / "header.csv", [], HEADER))
    with pytest.raises(DataError, match="the label 'y' is missing"):
        load_csv(write_csv(tmp_path / "nolabel.csv", rows, list(FEATURE_NAMES)), require_label=True)
    with pytest.raises(DataError, match=r"^no such file: .*nope\.csv$"):  # the path is wrong, not the data
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"^not a file but a folder: "):
        load_csv(tmp_path)
    (tmp_path / "latin1.csv").write_bytes(",".join(HEADER).encode() + b"\n\xe9\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load_csv(tmp_path / "latin1.csv")


def test_to_pandas_keeps_the_contracts_types(rows: list[dict[str, str]], tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = load_csv(write_csv(tmp_path / "a.csv", rows, HEADER)).to_pandas()
    assert list(frame.columns) == HEADER
    assert str(frame["age"].dtype) == "int64" and str(frame["euribor3m"].dtype) == "float64"
    assert isinstance(frame["month"].dtype, pd.CategoricalDtype)
    assert len(frame["month"].cat.categories) == 12  # every month, not just those present
    assert list(frame["y"].cat.categories) == ["no", "yes"]
    assert frame["age"].tolist() == [int(r["age"]) for r in rows]


def test_reading_is_independent_of_csv_module_quirks() -> None:
    # A quoted cell holding the delimiter is one value, not two.
    from bankscore.data import parse_csv_bytes

    header = ",".join(HEADER)
    row = next(load_training_data().records(with_label=True))
    cells = [f'"{v}"' if k == "job" else str(v) for k, v in row.items()]
    data = parse_csv_bytes(f"{header}\n{','.join(cells)}\n".encode(), source="inline")
    assert data.columns["job"] == ["technician"]
    bad = io.StringIO()
    bad.write(header + "\n" + ",".join(cells).replace('"technician"', '"tech,nician"') + "\n")
    with pytest.raises(DataError, match="job='tech,nician'"):
        parse_csv_bytes(bad.getvalue().encode(), source="inline")


def huge_field_csv(path: Path, rows: list[dict[str, str]], *, in_header: bool = False) -> Path:
    """A file whose line 3 (or header) holds a quoted field over the csv module's 131,072-character limit."""
    huge = '"' + "x" * 140_000 + '"'
    header = [huge, *HEADER[1:]] if in_header else HEADER
    lines = [",".join(header)] + [",".join(row[h] for h in HEADER) for row in rows[:1]]
    if not in_header:
        lines.append(",".join([huge] + [rows[1][h] for h in HEADER[1:]]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("in_header", [False, True])
def test_a_field_over_the_csv_modules_limit_is_a_data_error(
    tmp_path: Path, rows: list[dict[str, str]], in_header: bool
) -> None:
    path = huge_field_csv(tmp_path / "huge.csv", rows, in_header=in_header)
    line = 1 if in_header else 3
    with pytest.raises(DataError, match=rf"line {line}: field larger than field limit \(131072\)"):
        load_csv(path)


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bankscore.cli", *args], input=stdin, capture_output=True, check=False, timeout=120
    )


def test_the_commands_reading_csv_exit_1_on_a_huge_field(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    # `data check` crashed with a _csv.Error traceback. `score` reads through the client's csv_rows; neither
    # command gets as far as a connection (the address is a closed port and nothing is sent).
    path = huge_field_csv(tmp_path / "huge.csv", rows)
    nowhere = ("--uri", "http://127.0.0.1:9/score", "--generation", "C")
    for args, stdin in (
        (("data", "check", str(path)), None),
        (("score", str(path), *nowhere), None),
        (("score", "-", *nowhere), path.read_bytes()),
    ):
        proc = run_cli(*args, stdin=stdin)
        stderr = proc.stderr.decode()
        assert proc.returncode == 1, (args, stderr)
        assert "Traceback" not in stderr
        assert "line 3: field larger than field limit (131072)" in stderr, stderr
