"""Friendly failures when a command needs an extra that is not installed."""

from __future__ import annotations

import importlib.util

import click

__all__ = ["require_extra"]

_MODULES = {
    "train": ("flaml", "mlflow", "sklearn"),
    "serve": ("azureml_inference_server_http",),
    "bench": ("locust",),
    "azure": ("azure.identity",),
    "compare": ("numpy", "scipy"),
}


def require_extra(extra: str) -> None:
    missing = [m for m in _MODULES[extra] if not _importable(m)]
    if missing:
        raise click.ClickException(
            f"this command needs the {extra!r} extra ({', '.join(missing)} missing): pip install 'bankscore[{extra}]'"
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return False
