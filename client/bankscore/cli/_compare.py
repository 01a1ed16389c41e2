"""``bankscore compare``: do two models decide alike on the same records? Gates for a safe rollout."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import click

from bankscore.cli._extras import require_extra

__all__ = ["compare"]

_INTERRUPTED = 130  # the shell's code for a Ctrl-C


def _deployments(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",")]
    if len(names) != 2 or not all(names):
        raise click.BadParameter(
            "name two deployments, old first: --deployments blue,green", param_hint="--deployments"
        )
    return names[0], names[1]


@click.command("compare")
@click.argument("uri")
@click.argument("uri_b", required=False)
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Records to send to both sides (CSV, .gz too); streamed, never held whole.",
)
@click.option(
    "--deployments",
    metavar="OLD,NEW",
    help="Two deployments of the endpoint URI (header azureml-model-deployment), old first.",
)
@click.option("--label", default="y", show_default=True, help="The column with the true label (yes/no or 1/0).")
@click.option("--sample", type=click.IntRange(1), help="Compare on this many records picked at random.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of --sample.")
@click.option("--key", envvar="BANKSCORE_KEY", help="The endpoint's key (side A, and side B unless --key-b).")
@click.option("--key-b", help="Side B's key, when URI_B needs another one.")
@click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1), help="Records per request.")
@click.option(
    "--concurrency", default=4, show_default=True, type=click.IntRange(1), help="Requests in flight per side."
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    help="At most this many batch pairs started per second (for production endpoints).",
)
@click.option("--json", "json_out", metavar="OUT", help="Write the figures as JSON here (`-`: stdout).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report.")
@click.option(
    "--disagreements",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the records the sides label differently (CSV).",
)
@click.option(
    "--max-disagreement", type=click.FloatRange(0, 1), help="Gate: fail above this share of labels differing."
)
@click.option("--max-auc-drop", type=float, help="Gate: fail if AUC falls by more than this (A's AUC - B's).")
@click.option(
    "--max-latency-ratio",
    type=click.FloatRange(min=0, min_open=True),
    help="Gate: fail if B's p90 latency is more than this times A's.",
)
@click.option(
    "--drop-unknown", is_flag=True, help="Drop columns that are not Bank Marketing ones (an id) before sending."
)
@click.option("--progress/--no-progress", default=None, help="Show progress (default: when stderr is a terminal).")
def compare(
    uri: str,
    uri_b: str | None,
    data: Path,
    deployments: str | None,
    label: str,
    sample: int | None,
    seed: int,
    key: str | None,
    key_b: str | None,
    batch_size: int,
    concurrency: int,
    rate: float | None,
    json_out: str | None,
    html_out: Path | None,
    disagreements: Path | None,
    max_disagreement: float | None,
    max_auc_drop: float | None,
    max_latency_ratio: float | None,
    drop_unknown: bool,
    progress: bool | None,
) -> None:
    """Send every record of --data once to each side and compare what they decide.

    Side A is the model in service, side B the candidate: two deployments of one endpoint (URI --deployments
    blue,green) or two endpoints of any wire generations (URI URI_B). Both sides get the same batches at the
    same time. The report: label agreement (Wilson 95% CI) and cross table, how far P(yes) moves, with labels
    AUC and accuracy per side and their paired tests (DeLong, McNemar), latency per side, and the feature
    values where the sides disagree most. A gate that fails is named and the exit code is 1.
    """
    require_extra("compare")
    from bankscore._compare import compare as run
    from bankscore._compare._report import render_html, render_text
    from bankscore._records import ColumnsDropped

    pins = _deployments(deployments)
    if uri_b is None and pins is None:
        raise click.UsageError("give a second URI, or --deployments OLD,NEW of one endpoint")
    show = sys.stderr.isatty() if progress is None else progress
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", ColumnsDropped)
        try:
            result = run(
                uri,
                uri_b,
                data=data,
                deployments=pins,
                label=label,
                sample=sample,
                seed=seed,
                key=key,
                key_b=key_b,
                batch_size=batch_size,
                concurrency=concurrency,
                rate=rate,
                max_disagreement=max_disagreement,
                max_auc_drop=max_auc_drop,
                max_latency_ratio=max_latency_ratio,
                disagreements=disagreements,
                drop_unknown=drop_unknown,
                progress=show,
            )
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    for warning in said:
        click.echo(f"note: {warning.message}", err=True)
    if json_out == "-":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(render_text(result), nl=False)
        if json_out is not None:
            Path(json_out).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    if html_out is not None:
        html_out.write_text(render_html(result), encoding="utf-8")
    if result.interrupted:
        sys.exit(_INTERRUPTED)
    failed = result.failed_gates
    for gate in failed:
        measured = f"{gate.value:.4f} > {gate.limit:g}" if gate.value is not None else gate.detail
        click.echo(f"gate failed: {gate.name} ({measured})", err=True)
    if failed:
        sys.exit(1)
