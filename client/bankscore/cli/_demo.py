"""``bankscore demo``: the whole workflow on the local deployment."""

from __future__ import annotations

import click

__all__ = ["demo"]


@click.command()
def demo() -> None:
    """Train, deploy locally, score and benchmark, with no account, key or network.

    Not available yet: it arrives with the local deployment (issue 4). Until then the command says so
    and exits with status 2.
    """
    click.echo(
        "bankscore demo is not available yet: it needs the local deployment, which is still being built.\n"
        "What works today: `bankscore data profile` and `bankscore data check FILE.csv`.",
        err=True,
    )
    raise SystemExit(2)
