"""``bankscore examples [DEST]``: copy the runnable examples (endpoint.py, benchmark.sh, ...) out of the package.

The repository's ``examples/`` folder is their source; the wheel carries it as ``bankscore/examples`` (a
force-include in pyproject.toml), so a user who installed bankscore with pip has them too.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import click

__all__ = ["examples"]


def _shipped() -> Traversable | Path:
    """The examples inside the installed package, or in the checkout an editable install runs from."""
    inside = resources.files("bankscore").joinpath("examples")
    if inside.is_dir():
        return inside
    checkout = Path(__file__).resolve().parents[3] / "examples"  # client/bankscore/cli/ -> the repository
    if checkout.is_dir():
        return checkout
    raise click.ClickException("this installation of bankscore has no examples (reinstall it from the wheel)")


@click.command()
@click.argument("dest", type=click.Path(path_type=Path), default="examples")
@click.option("--force", is_flag=True, help="Overwrite files that already exist in DEST.")
def examples(dest: Path, force: bool) -> None:
    """Copy the runnable examples into DEST (default ./examples): endpoint.py, endpoint_typed.py,
    benchmark.sh and trigger_pipeline.py. Each one's docstring or header says how to run it."""
    files = sorted(
        (f for f in _shipped().iterdir() if f.is_file() and not f.name.startswith(".")), key=lambda f: f.name
    )
    clashes = [f.name for f in files if (dest / f.name).exists()]
    if clashes and not force:
        raise click.ClickException(f"{dest} already has {', '.join(clashes)}: pass --force to overwrite")
    dest.mkdir(parents=True, exist_ok=True)
    for source in files:
        target = dest / source.name
        target.write_bytes(source.read_bytes())
        if source.name.endswith(".sh"):
            target.chmod(0o755)
        click.echo(str(target))
