"""What the ``bankscore pipeline`` commands share: their exit codes, their options and how a step's message is
shown on one line."""

from __future__ import annotations

import click

__all__ = [
    "DEFAULT_EXPERIMENT",
    "ENDPOINT_OPTION",
    "EXIT_CANCELED",
    "EXIT_FAILED",
    "EXIT_TIMEOUT",
    "JSON_OPTION",
    "TOKEN_OPTION",
    "first_line",
]

EXIT_FAILED = 3
EXIT_CANCELED = 4
EXIT_TIMEOUT = 5
DEFAULT_EXPERIMENT = "bank-marketing"

ENDPOINT_OPTION = click.option(
    "--endpoint",
    metavar="URL",
    help="Published pipeline or pipeline endpoint URL (default: the local publisher of this workspace).",
)
TOKEN_OPTION = click.option(
    "--token",
    envvar="BANKSCORE_PIPELINE_TOKEN",
    show_envvar=True,
    metavar="TOKEN",
    help="Bearer token (default: the local publisher's saved token; on Azure, azure-identity when installed).",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print as JSON.")


def first_line(message: str) -> str:
    """A step's message on one line: a failed step's full reason is already in the run's error, shown once."""
    head, newline, _ = message.partition("\n")
    return head + (" ..." if newline else "")
