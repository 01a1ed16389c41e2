"""``bankscore score``: score a CSV (or JSON) file against a deployment and write the results in input order."""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from bankscore._exceptions import PartialResultError, ScoringInterrupted
from bankscore._results import ScoreResult
from bankscore.cli._extras import require_extra

__all__ = ["score"]

_INTERRUPTED = 130  # the shell's code for a Ctrl-C
_log = logging.getLogger("bankscore.cli")  # printed by the `bankscore` group's handler (--quiet hides notes)


def _read_records(source: str) -> Any:
    """Records from a CSV or JSON file, or from stdin (``-``): read as they are, checked by the client."""
    from bankscore._csv_text import unreadable_file
    from bankscore._records import csv_rows

    if source == "-":
        raw = sys.stdin.buffer.read()
        if raw.lstrip()[:1] in (b"[", b"{"):
            return _json_records(raw, "<stdin>")
        return csv_rows(raw, "<stdin>")
    path = Path(source)
    try:  # a path that cannot be read is said before any endpoint is asked for anything
        with path.open("rb") as fh:
            head = fh.read() if path.suffix.lower() == ".json" else b""
    except OSError as exc:
        raise unreadable_file(path, exc) from None
    if path.suffix.lower() == ".json":
        return _json_records(head, str(path))
    return path  # the client reads CSV files itself, the same way for every caller


def _json_records(raw: bytes, source: str) -> list[Any]:
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise click.ClickException(f"{source} is not JSON: {exc}") from None
    if isinstance(body, dict):  # a whole request body: {"data": [...]} or {"Inputs": {"data": ...}}
        body = body.get("data", (body.get("Inputs") or {}).get("data", [body]))
    if not isinstance(body, list):
        raise click.ClickException(f"{source} should hold a list of records")
    return body


def _rows(result: ScoreResult, proba: bool) -> list[dict[str, Any]]:
    reasons = {i: f.reason for f in result.failures for i in f.indices}
    rows = []
    for index, prediction in enumerate(result.predictions):
        row: dict[str, Any] = {"index": index, "label": prediction.label if prediction else None}
        if proba:
            row["probability"] = prediction.probability if prediction else None
        if result.failures:
            row["error"] = reasons.get(index)
        rows.append(row)
    return rows


def _write(rows: list[dict[str, Any]], output: Path | None, as_json: bool) -> None:
    if as_json:
        text = json.dumps(rows, indent=None if output is None else 1) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["index", "label"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)


@click.command("score")
@click.argument("source", metavar="[FILE]", required=False)
@click.option("--input", "-i", "input_file", metavar="FILE|-", help="Records to score (the same as the FILE argument).")
@click.option("--uri", envvar="BANKSCORE_URI", help="Scoring URI (default: the local deployment).")
@click.option("--key", envvar="BANKSCORE_KEY", help="The endpoint's key, sent as `Authorization: Bearer KEY`.")
@click.option("--deployment", "name", help="Local deployment name (default: bank-marketing).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1), help="Records per request.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1), help="Requests in flight.")
@click.option("--proba", is_flag=True, help="Add P(yes) (wire generations B, C and D).")
@click.option("--json", "as_json", is_flag=True, help="Write JSON instead of CSV.")
@click.option("--generation", type=click.Choice(["A", "B", "C", "D"]), help="Wire generation (default: from the spec).")
@click.option(
    "--model-deployment",
    metavar="NAME",
    help="Send to this deployment of a managed online endpoint (header azureml-model-deployment), past its traffic.",
)
@click.option(
    "--entra",
    is_flag=True,
    help="Sign in with Microsoft Entra (azure-identity's DefaultAzureCredential; needs bankscore[azure]) "
    "instead of a key.",
)
@click.option(
    "--drop-unknown",
    is_flag=True,
    help="Also drop columns that are not Bank Marketing ones (by default they are refused).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse every column the endpoint's record does not have, except the label y (by default Bank "
    "Marketing columns it lacks, such as duration for a model trained without it, are dropped with a note).",
)
@click.option("--progress/--no-progress", default=None, help="Show progress (default: when stderr is a terminal).")
def score(
    source: str | None,
    input_file: str | None,
    uri: str | None,
    key: str | None,
    name: str | None,
    output: Path | None,
    batch_size: int,
    concurrency: int,
    proba: bool,
    as_json: bool,
    generation: str | None,
    model_deployment: str | None,
    entra: bool,
    drop_unknown: bool,
    strict: bool,
    progress: bool | None,
) -> None:
    """Score the records in FILE, a CSV or a JSON list (`-` or nothing reads stdin), one result per record.

    Every record is checked first: bad rows are listed with their line, field and value and nothing is sent.
    Columns the endpoint's record does not have (the label y, or duration for a model trained without it) are
    left out with one note naming them; --strict refuses them instead, --drop-unknown drops any column.
    Results keep the input order (index, label, and probability with --proba). Records that could not be
    scored get an empty label and an error column, and the exit code is 1; Ctrl-C writes what was scored.
    """
    from bankscore._client import Client
    from bankscore._records import ColumnsDropped

    if source is not None and input_file is not None and source != input_file:
        raise click.UsageError(f"give the records once: FILE {source!r} or --input {input_file!r}, not both")
    records = _read_records(input_file or source or "-")
    show = sys.stderr.isatty() if progress is None else progress
    credential = None
    if entra:
        if key is not None:
            raise click.UsageError("--entra signs in instead of a key: drop --key (or unset BANKSCORE_KEY)")
        require_extra("azure")
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    if strict and drop_unknown:
        raise click.UsageError("--strict refuses the columns --drop-unknown would drop: give one of them")
    if model_deployment is not None and not model_deployment.strip():
        raise click.BadParameter("give the deployment's name", param_hint="--model-deployment")
    with Client(
        uri,
        key=key,
        generation=generation,
        probabilities=proba,
        deployment=name,
        model_deployment=model_deployment,
        credential=credential,
        drop_unknown=drop_unknown,
        strict=strict,
    ) as client:
        if proba and client.generation == "A":
            _log.warning("warning: a generation A endpoint gives labels only; probability stays empty")
        failed = False
        try:
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always", ColumnsDropped)
                result = client.predict_many(records, batch_size=batch_size, concurrency=concurrency, progress=show)
            for warning in said:
                if issubclass(warning.category, ColumnsDropped):
                    _log.warning("note: %s", warning.message)
                else:  # not ours to judge: shown as Python would have shown it
                    warnings.showwarning(
                        warning.message, warning.category, warning.filename, warning.lineno, warning.file, warning.line
                    )
        except PartialResultError as exc:
            result, failed = exc.result, True
        except ScoringInterrupted as exc:
            _write(_rows(exc.result, proba), output, as_json)
            click.echo(f"\n{exc.result.describe_failures()}", err=True)
            sys.exit(_INTERRUPTED)
    _write(_rows(result, proba), output, as_json)
    if failed:
        click.echo(result.describe_failures(), err=True)
        sys.exit(1)
    if output is not None:
        click.echo(f"scored {len(result):,} records into {output}", err=True)
