"""``bankscore swagger``: pull a deployment's spec, see what a redeploy changed, regenerate the client."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bankscore._endpoint import DEFAULT_DEPLOYMENT
from bankscore._exceptions import BankscoreError
from bankscore._generations import WireGeneration
from bankscore._spec import printable
from bankscore.cli._signals import sigterm_as_interrupt
from bankscore.swagger import (
    PINNED_GENERATION,
    SwaggerError,
    build_pinned_spec,
    default_package_name,
    diff_specs,
    dump_document,
    generate_package,
    load_document,
    pull_spec,
    render_changes,
)
from bankscore.swagger._serve import DEFAULT_HOST, DEFAULT_PORT, SwaggerUIServer, default_spec, read_spec

__all__ = ["swagger"]

# `diff` exits 1 on a breaking change (for CI), so a spec it cannot read needs another code; every swagger
# command uses the same one for a spec it cannot fetch, read or generate from.
_SPEC_UNUSABLE = 2


class _SpecUnusable(click.ClickException):
    exit_code = _SPEC_UNUSABLE


class _SwaggerGroup(click.Group):
    """Turns a ``SwaggerError`` of any swagger command into its one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SwaggerError as exc:
            raise _SpecUnusable(printable(exc)) from None


def _write(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)


@click.group(cls=_SwaggerGroup)
def swagger() -> None:
    """Deployment specs: pull (with the key), diff (breaking or not), generate the typed client, serve Swagger UI.

    Exit code 2 when a spec cannot be fetched, read, served or generated from (the message says why, on one
    line).
    """


@swagger.command("pull")
@click.argument("uri")
@click.option("--key", envvar="BANKSCORE_KEY", help="The endpoint's key, sent as `Authorization: Bearer KEY`.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the server.")
def pull_command(uri: str, key: str | None, output: Path | None, timeout: float) -> None:
    """Fetch the spec of the endpoint at URI as OpenAPI 3.

    URI is the scoring URI (…/score), the service root or the spec URL (…/swagger.json). Asks for
    `?version=3` first and converts the Swagger 2.0 document of servers that have no OpenAPI 3. Exit code 2
    when the spec cannot be fetched or read.
    """
    pulled = pull_spec(uri, key=key, timeout=timeout)
    _write(dump_document(pulled.document), output)
    how = f"converted from Swagger {pulled.source_version}" if pulled.converted else f"OpenAPI {pulled.source_version}"
    where = f" to {output}" if output else ""
    click.echo(f"pulled {pulled.url} ({how}){where}", err=True)


@swagger.command("diff")
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {path, kind, old, new, breaking}.")
def diff_command(old: Path, new: Path, as_json: bool) -> None:
    """What changed in the request from spec OLD to spec NEW, each change marked breaking or not.

    Exit code 0 when nothing breaks callers of a client generated from OLD, 1 when something does, 2 when a
    spec cannot be read. Either spec may be Swagger 2.0 or OpenAPI 3.
    """
    changes = diff_specs(load_document(old), load_document(new))
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in changes], indent=2, ensure_ascii=False))
    else:
        click.echo(render_changes(changes))
    if any(c.breaking for c in changes):
        sys.exit(1)


@swagger.command("generate")
@click.option(
    "--spec",
    "source",
    metavar="FILE|URL",
    help="A spec file (Swagger 2.0 or OpenAPI 3) or an endpoint's URL (scoring URI, root or spec URL). "
    "Default: the running local deployment's spec.",
)
@click.option("--key", envvar="BANKSCORE_KEY", help="The endpoint's key, for a URL: `Authorization: Bearer KEY`.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="The package directory to write; its last part is the import name. Default: ./<title>_client.",
)
@click.option(
    "--deployment",
    "name",
    default=DEFAULT_DEPLOYMENT,
    show_default=True,
    help="Without --spec: the local deployment whose spec to use.",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a URL's server.")
def generate_command(source: str | None, key: str | None, output: Path | None, name: str, timeout: float) -> None:
    """Generate a typed client package from an endpoint's spec (the same spec always gives the same bytes).

    The package exports `Record` (the spec's scoring record as a pydantic model), `Client` and `AsyncClient`
    (bankscore's runtime in the spec's wire generation), `GENERATION`, `SPEC_SHA256` and `load_spec()`.
    Needs `pip install 'bankscore[codegen]'`. Exit code 2 when the spec cannot be read or generated from
    (nothing is written then).
    """
    document, where = _spec_for_generation(source, key, name, timeout)
    target = output if output is not None else Path.cwd() / default_package_name(document)
    generated = generate_package(document, target, source=where)
    fields = len(generated.fields)
    click.echo(
        f"generated {generated.path} from {where}: import {generated.name} "
        f"(Record with {fields} field{'s' if fields != 1 else ''}, wire generation {generated.generation.value})",
        err=True,
    )


def _spec_for_generation(source: str | None, key: str | None, name: str, timeout: float) -> tuple[dict[str, Any], str]:
    if source is None:
        from bankscore._endpoint import local_endpoint

        try:
            endpoint = local_endpoint(name)
        except BankscoreError:
            raise click.ClickException(
                f"no local deployment {name!r} to take the spec from: pass --spec FILE|URL "
                f"(a spec file or the endpoint's URL), or start one with `bankscore deploy local`"
            ) from None
        secret = key or (endpoint.key.reveal() if endpoint.key is not None else None)
        pulled = pull_spec(endpoint.scoring_uri, key=secret, timeout=timeout)
        return pulled.document, f"the local deployment {name!r} ({pulled.url})"
    if source.startswith(("http://", "https://")):
        pulled = pull_spec(source, key=key, timeout=timeout)
        return pulled.document, pulled.url
    return load_document(Path(source)), source


@swagger.command("export")
@click.option(
    "--generation",
    type=click.Choice([g.value for g in WireGeneration]),
    default=PINNED_GENERATION.value,
    show_default=True,
    help="Wire generation of the deployment.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
def export_command(generation: str, output: Path | None) -> None:
    """The local deployment's OpenAPI 3 spec, built from the feature contract (deterministic)."""
    _write(build_pinned_spec(generation), output)


@swagger.command("serve")
@click.argument("spec", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--port", default=DEFAULT_PORT, show_default=True, help="Port to listen on (0: any free port).")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--deployment",
    "name",
    default=DEFAULT_DEPLOYMENT,
    show_default=True,
    help="Without SPEC: the local deployment whose spec to show, when it is running.",
)
def serve_command(spec: Path | None, port: int, host: str, name: str) -> None:
    """Serve Swagger UI for SPEC on this machine, from installed files (no network); Ctrl-C stops.

    SPEC is a Swagger 2.0 or OpenAPI 3 JSON file; by default the running local deployment's spec, else the
    pinned spec the client is generated from. The spec is also served at /openapi.json, with CORS headers,
    for a Swagger UI running elsewhere.
    """
    served = read_spec(spec) if spec is not None else default_spec(name)
    server = SwaggerUIServer(served, host, port)
    click.echo(f"Serving Swagger UI for {served.source} at {server.url} (Ctrl-C stops)")
    try:
        with sigterm_as_interrupt():
            server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.server_close()
