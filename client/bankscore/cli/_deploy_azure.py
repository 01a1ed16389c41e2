"""``bankscore deploy azure``: an Azure ML managed online endpoint as files, one deployment or several."""

from __future__ import annotations

from pathlib import Path

import click

from bankscore.cli._deploy_options import GENERATION_OPTION, NAME_OPTION, check_deployment, rules
from bankscore.cli._extras import require_extra

__all__ = ["azure_command"]


@click.command("azure")
@click.option("--model", "model_ref", default="bank-marketing", show_default=True, metavar="NAME[:VERSION]")
@NAME_OPTION
@GENERATION_OPTION
@click.option("--output", type=click.Path(path_type=Path), required=True, help="Folder to write.")
@click.option("--instance-type", default="Standard_DS2_v2", show_default=True, help="Azure VM size per instance.")
@click.option("--instance-count", type=click.IntRange(1, 100), default=1, show_default=True)
@click.option(
    "--deployment",
    "deployments",
    multiple=True,
    metavar="NAME=MODEL[:VERSION]",
    help="A deployment of the endpoint and its model (repeat for blue/green); replaces --model.",
)
@click.option(
    "--traffic", "weights", multiple=True, metavar="NAME=PERCENT", help='With --deployment: "blue=90 green=10".'
)
@click.option("--mirror", "mirrors", multiple=True, metavar="NAME=PERCENT", help="With --deployment: green=20.")
def azure_command(
    model_ref: str,
    name: str,
    generation: str,
    output: Path,
    instance_type: str,
    instance_count: int,
    deployments: tuple[str, ...],
    weights: tuple[str, ...],
    mirrors: tuple[str, ...],
) -> None:
    """Write an Azure ML managed online endpoint: endpoint.yml, deployment.yml and what they deploy.

    A, B, C: the deployment folder (bankscore's score.py, the lean model, its conda environment). D: the
    registered MLflow model folder only, deployed without code or environment (Azure's no-code MLflow
    deployment, served by Microsoft's own scoring script). See the README for `az ml`.

    With --deployment blue=bank-marketing:1 --deployment green=bank-marketing:2: endpoint.yml holds the
    traffic (--traffic blue=90 green=10; by default the first takes all) and mirror_traffic (--mirror
    green=20), under the rules `bankscore deploy traffic` checks, and each deployment gets a folder of its
    own with its deployment.yml.
    """
    if not deployments:
        if weights or mirrors:
            raise click.UsageError("--traffic and --mirror split traffic between deployments: give --deployment too")
        _write_one(model_ref, name, generation, output, instance_type, instance_count)
        return
    with rules():
        chosen, traffic, mirror = _plan(name, deployments, weights, mirrors)
    require_extra("train")
    from bankscore.deploy._azure import write_endpoint_yml

    for deployment, ref in chosen.items():
        written = _write_deployment(
            ref, name, deployment, generation, output / deployment, instance_type, instance_count
        )
        click.echo(f"wrote {output / deployment}: " + ", ".join(sorted(p.name for p in written)))
    endpoint = write_endpoint_yml(output, name=name, traffic=traffic, mirror=mirror)
    click.echo(f"wrote {endpoint}")
    click.echo(f"next: az ml online-endpoint create --name {name} --auth-mode key")
    for deployment in chosen:
        click.echo(f"      az ml online-deployment create -f {output / deployment / 'deployment.yml'}")
    click.echo(f"      az ml online-endpoint update -f {endpoint}   (sets traffic and mirror_traffic)")


def _plan(
    name: str, deployments: tuple[str, ...], weights: tuple[str, ...], mirrors: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, int], dict[str, int]]:
    """Each deployment's model, the traffic and the mirror, checked before anything slow is done."""
    from bankscore.deploy._traffic import (
        TrafficError,
        check_mirror,
        check_traffic,
        parse_assignments,
        with_deployment,
    )

    chosen: dict[str, str] = {}
    for item in deployments:
        deployment, sep, ref = item.partition("=")
        if not sep or not ref:
            raise TrafficError(f"--deployment {item!r} is not NAME=MODEL[:VERSION] (for example blue=bank-marketing:1)")
        if check_deployment(deployment) in chosen:
            raise TrafficError(f"--deployment {deployment!r} is given twice")
        chosen[deployment] = ref
    traffic: dict[str, int] = {}
    for deployment in chosen:
        traffic = with_deployment(traffic, deployment)
    if weights:
        traffic = check_traffic(parse_assignments(weights, what="traffic"), chosen, endpoint=name)
    mirror = check_mirror(parse_assignments(mirrors, what="mirror"), traffic, endpoint=name) if mirrors else {}
    return chosen, traffic, mirror


def _write_deployment(
    model_ref: str,
    name: str,
    deployment: str,
    generation: str,
    dest: Path,
    instance_type: str,
    instance_count: int,
) -> list[Path]:
    from bankscore._generations import WireGeneration
    from bankscore.deploy._azure import write_azure_assets, write_no_code_assets
    from bankscore.deploy._release import build_release

    if generation == WireGeneration.D:
        return write_no_code_assets(
            dest,
            model_ref=model_ref,
            name=name,
            instance_type=instance_type,
            instance_count=instance_count,
            deployment_name=deployment,
            with_endpoint=False,
        )
    folder = build_release(model_ref, generation=WireGeneration(generation), name=name, folder=dest)
    return write_azure_assets(
        folder,
        name=name,
        instance_type=instance_type,
        instance_count=instance_count,
        deployment_name=deployment,
        with_endpoint=False,
    )


def _write_one(
    model_ref: str, name: str, generation: str, output: Path, instance_type: str, instance_count: int
) -> None:
    require_extra("train")
    from bankscore._generations import WireGeneration
    from bankscore.deploy._azure import write_azure_assets, write_no_code_assets
    from bankscore.deploy._release import build_release

    if generation == WireGeneration.D:
        written = write_no_code_assets(
            output, model_ref=model_ref, name=name, instance_type=instance_type, instance_count=instance_count
        )
        click.echo(f"wrote {output}: " + ", ".join(sorted(p.name for p in written)))
    else:
        folder = build_release(model_ref, generation=WireGeneration(generation), name=name, folder=output)
        written = write_azure_assets(folder, name=name, instance_type=instance_type, instance_count=instance_count)
        click.echo(f"wrote {folder.path}: " + ", ".join(sorted(p.name for p in written)))
    click.echo(f"next: az ml online-endpoint create -f {output / 'endpoint.yml'}")
    click.echo(f"      az ml online-deployment create -f {output / 'deployment.yml'} --all-traffic")
