"""The ``bankscore-bench`` command line."""

from __future__ import annotations

import importlib.util

import click

from bankscore._version import __version__

__all__ = ["BENCH_EXTRA_HINT", "main"]

BENCH_EXTRA_HINT = "bankscore-bench needs Locust: pip install 'bankscore[bench]'"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bankscore-bench")
@click.argument("url", required=False)
def main(url: str | None) -> None:
    """Load-test a scoring endpoint at URL with Locust, taking ab's flags and printing ab's report.

    Not available yet: the load test arrives with the bench issue (issue 6). Today this command only
    checks that the bench extra (Locust) is installed.
    """
    if importlib.util.find_spec("locust") is None:
        raise click.ClickException(BENCH_EXTRA_HINT)
    click.echo("bankscore-bench: the load test is not available yet in this version.", err=True)
    raise SystemExit(2)
