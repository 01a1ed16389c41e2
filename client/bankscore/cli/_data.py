"""``bankscore data``: look at and check Bank Marketing data against the feature contract."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bankscore.data import Dataset, data_license, list_datasets, load_csv, load_training_data, profile, register_dataset
from bankscore.features import FEATURES, LABEL

__all__ = ["data"]


def _load(csv_path: Path | None) -> Dataset:
    return load_training_data() if csv_path is None else load_csv(csv_path)


@click.group()
def data() -> None:
    """Bank Marketing data: the shipped training set and CSV files you bring."""


@data.command("profile")
@click.argument("csv_path", metavar="[CSV]", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def profile_command(csv_path: Path | None, as_json: bool) -> None:
    """Rows, class balance, column statistics and category counts of CSV (default: the shipped training set)."""
    prof = profile(_load(csv_path))
    click.echo(json.dumps(prof.to_dict(), indent=2) if as_json else prof.render())


@data.command("check")
@click.argument("csv_path", metavar="CSV", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def check_command(csv_path: Path, as_json: bool) -> None:
    """Check that CSV fits the feature contract (`,` or `;` separated, label optional); exit 1 if not."""
    loaded = load_csv(csv_path)
    if as_json:
        click.echo(
            json.dumps({"source": loaded.source, "rows": len(loaded), "has_label": loaded.has_label, "ok": True})
        )
    else:
        label = "with" if loaded.has_label else "without"
        click.echo(f"{loaded.source}: {len(loaded):,} rows {label} the label, all fit the contract")


@data.command("contract")
@click.option("--json", "as_json", is_flag=True, help="Print the contract as JSON.")
def contract_command(as_json: bool) -> None:
    """The 20 input features: wire name, Python name, type, allowed values and meaning."""
    if as_json:
        rows = [
            {
                "wire_name": f.wire_name,
                "python_name": f.python_name,
                "type": f.kind.value,
                "categories": list(f.categories),
                "minimum": f.minimum,
                "maximum": f.maximum,
                "description": f.description,
                "leaks_label": f.leaks_label,
                "note": f.note,
            }
            for f in FEATURES
        ]
        label = {"name": LABEL.name, "classes": list(LABEL.classes), "positive": LABEL.positive}
        click.echo(json.dumps({"features": rows, "label": label}, indent=2))
        return
    for f in FEATURES:
        allowed = ", ".join(f.categories) if f.categories else f"{f.minimum:g}..{f.maximum:g}"
        click.echo(f"{f.wire_name:<15}{f.kind.value:<9}{f.description}\n{'':<24}{allowed}")
        if f.note:
            click.echo(f"{'':<24}NOTE: {f.note}")
    click.echo(f"{LABEL.name:<15}label    {LABEL.description} ({' / '.join(LABEL.classes)})")


@data.command("license")
def license_command() -> None:
    """Licence and citation of the shipped data."""
    click.echo(data_license())


@data.command("register")
@click.argument("csv_path", metavar="[CSV]", required=False, type=click.Path(path_type=Path))
@click.option("--name", help="Dataset name (default: bankmarketing_train, or the file's name).")
@click.option("--json", "as_json", is_flag=True, help="Print the registered version as JSON.")
def register_command(csv_path: Path | None, name: str | None, as_json: bool) -> None:
    """Register CSV (default: the shipped training set) as a versioned dataset in the workspace.

    The same content registered again returns the existing version and writes nothing.
    """
    version, created = register_dataset(csv_path, name=name)
    if as_json:
        click.echo(json.dumps({**version.to_dict(), "created": created}, indent=2))
        return
    verb = "registered" if created else "already registered as"
    click.echo(f"{verb} {version.ref}: {version.rows:,} rows, sha256 {version.sha256[:12]}, from {version.source}")


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_command(as_json: bool) -> None:
    """Registered datasets and their versions."""
    versions = list_datasets()
    if as_json:
        click.echo(json.dumps([v.to_dict() for v in versions], indent=2))
        return
    if not versions:
        click.echo("no datasets registered yet: `bankscore data register`")
    for v in versions:
        click.echo(f"{v.ref:<28}{v.rows:>8,} rows  sha256 {v.sha256[:12]}  {v.registered_at}  {v.source}")


@data.command("sample")
@click.option("--rows", type=click.IntRange(1, None), default=60, show_default=True, help="How many customers.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which rows: the same seed, the same rows.")
@click.option("--label/--no-label", default=False, show_default=True, help="Keep the label column y.")
@click.option("--sep", type=click.Choice([",", ";"]), default=",", show_default=True, help="Field separator.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="CSV to write (default: stdout).")
def sample_command(rows: int, seed: int, label: bool, sep: str, output: Path | None) -> None:
    """Write real customers from the shipped training set as a CSV file to score, check or load.

    Rows are drawn at random (``--seed``) without repeats, in the shipped file's order; without --label the
    file holds the 20 features only, as a scoring request does.
    """
    import csv
    import io
    import random

    shipped = load_training_data()
    total = len(shipped)
    if rows > total:
        raise click.BadParameter(f"the shipped data has {total:,} rows", param_hint="--rows")
    keep = set(random.Random(seed).sample(range(total), rows))  # noqa: S311 - picking rows, not a secret
    chosen = (r for i, r in enumerate(shipped.records(with_label=label)) if i in keep)
    text = io.StringIO()
    writer = csv.writer(text, delimiter=sep, lineterminator="\n")
    header = [f.wire_name for f in FEATURES] + ([LABEL.name] if label else [])
    writer.writerow(header)
    writer.writerows([record[name] for name in header] for record in chosen)
    if output is None:
        click.echo(text.getvalue(), nl=False)
        return
    output.write_text(text.getvalue(), encoding="utf-8")
    click.echo(f"wrote {rows:,} customers{' with their label' if label else ''} to {output}", err=True)
