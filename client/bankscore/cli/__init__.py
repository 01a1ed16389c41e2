"""The ``bankscore`` command line. Each command group lives in its own module."""

from __future__ import annotations

from typing import Any

import click

from bankscore._exceptions import BankscoreError
from bankscore._version import __version__
from bankscore.cli._data import data
from bankscore.cli._demo import demo
from bankscore.cli._deploy import deploy
from bankscore.cli._pipeline import pipeline
from bankscore.cli._score import score
from bankscore.cli._swagger import swagger
from bankscore.cli._train import models, train

__all__ = ["main"]


class _FriendlyGroup(click.Group):
    """Turns bankscore's own errors into a one-paragraph message and exit code 1, with no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BankscoreError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bankscore")
def main() -> None:
    """Train, deploy, score and benchmark a Bank Marketing model the Azure ML way.

    Everything runs on this machine by default (no account, key or network); the same commands
    drive real Azure ML endpoints and pipelines.
    """


main.add_command(data)
main.add_command(demo)
main.add_command(train)
main.add_command(models)
main.add_command(deploy)
main.add_command(swagger)
main.add_command(score)
main.add_command(pipeline)
