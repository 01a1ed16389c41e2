"""What the ``bankscore deploy`` commands share: their options, and how a broken rule becomes a usage error."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

__all__ = ["GENERATION_OPTION", "NAME_OPTION", "deployment_option", "rules"]

_F = TypeVar("_F", bound=Callable[..., Any])

# The wire generation a deployment serves (deploy local, deploy azure, pipeline run).
GENERATION_OPTION = click.option(
    "--generation",
    type=click.Choice(["A", "B", "C", "D"]),
    default="C",
    show_default=True,
    help="Wire format: C {Inputs, GlobalParameters} -> {Results}; A/B {data} -> double-encoded {result}; "
    "D {input_data: split frame, params} -> bare array (an MLflow model on a managed online endpoint).",
)
NAME_OPTION = click.option("--name", default="bank-marketing", show_default=True, help="Endpoint (service) name.")


@contextlib.contextmanager
def rules() -> Iterator[None]:
    """A value that breaks a deployment or traffic rule is a usage error: exit 2, the message names it."""
    from bankscore.deploy._traffic import TrafficError

    try:
        yield
    except TrafficError as error:
        raise click.UsageError(str(error)) from None


def check_deployment(value: str) -> str:
    """``value`` as a deployment's name, or a usage error naming it."""
    from bankscore.deploy._state import DeployError, check_deployment_name

    try:
        return check_deployment_name(value)
    except DeployError as error:
        raise click.BadParameter(str(error).replace("--deployment ", "", 1), param_hint="'--deployment'") from None


def _deployment_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return None if value is None else check_deployment(value)


def deployment_option(help_text: str, default: str | None = None) -> Callable[[_F], _F]:
    return click.option(
        "--deployment", default=default, show_default=default is not None, callback=_deployment_name, help=help_text
    )
