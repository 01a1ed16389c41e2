"""The ``bankscore`` command line. Each command group lives in its own module."""

from __future__ import annotations

import logging
from typing import Any

import click

from bankscore._exceptions import BankscoreError
from bankscore._version import __version__
from bankscore.cli._compare import compare
from bankscore.cli._data import data
from bankscore.cli._demo import demo
from bankscore.cli._deploy import deploy
from bankscore.cli._examples import examples
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


class _EchoHandler(logging.Handler):
    """Log records as plain lines on the current stderr (click's, so a test runner's capture sees them)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # logging's own rule: a handler never raises into the code that logged
            self.handleError(record)


def _show_library_logs(ctx: click.Context, level: int) -> None:
    """The CLI, not the library, decides what is printed: the ``bankscore`` logger's records on stderr at
    ``level`` for this invocation, put back as they were when it ends."""
    logger = logging.getLogger("bankscore")
    handler = _EchoHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(before)

    ctx.call_on_close(restore)


@click.group(cls=_FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bankscore")
@click.option("--quiet", "-q", is_flag=True, help="Print errors only: no notes, warnings or retries.")
@click.option("--verbose", "-v", is_flag=True, help="Also print what the client learns (generation, record model).")
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Train, deploy, score and benchmark a Bank Marketing model the Azure ML way.

    Everything runs on this machine by default (no account, key or network); the same commands
    drive real Azure ML endpoints and pipelines.
    """
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose contradict each other: give one")
    _show_library_logs(ctx, logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO)


main.add_command(data)
main.add_command(demo)
main.add_command(train)
main.add_command(models)
main.add_command(deploy)
main.add_command(swagger)
main.add_command(score)
main.add_command(compare)
main.add_command(pipeline)
main.add_command(examples)
