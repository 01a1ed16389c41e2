"""Generate a typed client from a spec with the pinned openapi-python-client, the same bytes every time.

The shipped client (``bankscore/_generated``) comes from the pinned spec in the source checkout's ``swagger/``
folder, and CI regenerates it and fails on any difference. The same code generates a separate package for
another deployment. The generator runs in a subprocess (it is a dev tool, not a dependency of the client),
with this interpreter's ``bin`` first on ``PATH`` so its ``ruff`` post-hooks use the pinned ruff.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Final

from bankscore._generations import WireGeneration
from bankscore.deploy._swagger import SWAGGER3_FILE, swagger_files
from bankscore.swagger._convert import to_openapi3
from bankscore.swagger._document import dump_document, load_document, spec_version
from bankscore.swagger._errors import SwaggerError

__all__ = [
    "CODEGEN_CONFIG",
    "GENERATED_DIR",
    "GENERATOR",
    "GENERATOR_VERSION",
    "PINNED_GENERATION",
    "PINNED_SPEC",
    "build_pinned_spec",
    "generate_client",
]

GENERATOR: Final = "openapi-python-client"
GENERATOR_VERSION: Final = "0.29.1"  # 0.x with breaking minors: a new version means new bytes (pyproject pins it)
PINNED_GENERATION: Final = WireGeneration.C  # today's Azure scoring script, and the local deployment's default

# Defaults that exist in a source checkout (client/bankscore/swagger/_generate.py -> the repository root).
_ROOT: Final = Path(__file__).resolve().parents[3]
PINNED_SPEC: Final = _ROOT / "swagger" / "openapi3.json"
CODEGEN_CONFIG: Final = _ROOT / "swagger" / "codegen.yaml"
GENERATED_DIR: Final = _ROOT / "client" / "bankscore" / "_generated"

# Files every generated package has; a non-empty output directory without them is not replaced.
_GENERATED_MARKERS: Final = ("client.py", "types.py", "errors.py")


def build_pinned_spec(generation: WireGeneration | str = PINNED_GENERATION) -> bytes:
    """The local deployment's OpenAPI 3 document for ``generation`` with all 20 features, as its bytes."""
    return swagger_files(generation)[SWAGGER3_FILE]


def generate_client(spec: Path = PINNED_SPEC, output: Path = GENERATED_DIR, *, config: Path = CODEGEN_CONFIG) -> Path:
    """Generate the client package for ``spec`` (Swagger 2.0 is converted first) into ``output``.

    The package is generated in a temporary directory and then replaces ``output`` as a whole, so nothing of
    an older generation survives. Returns ``output``.
    """
    _check_generator()
    for path, what in ((spec, "spec"), (config, "generator config")):
        if not path.is_file():
            raise SwaggerError(f"the {what} {path} does not exist")
    _check_replaceable(output)
    document = load_document(spec)
    # Generated outside the checkout: the ruff post-hooks then see no project config or .gitignore of ours.
    with tempfile.TemporaryDirectory(prefix="bankscore-generate-") as tmp:
        source = spec
        if spec_version(document) == "2.0":
            source = Path(tmp) / "openapi3.json"
            source.write_bytes(dump_document(to_openapi3(document)))
        package = Path(tmp) / "package"
        _run_generator(source, package, config)
        if output.exists():
            shutil.rmtree(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(package, output)
    return output


def _check_generator() -> None:
    try:
        installed = metadata.version(GENERATOR)
    except metadata.PackageNotFoundError:
        raise SwaggerError(
            f"{GENERATOR} is not installed: pip install '{GENERATOR}=={GENERATOR_VERSION}' "
            "(or install bankscore's `codegen` dependency group)"
        ) from None
    if installed != GENERATOR_VERSION:
        raise SwaggerError(
            f"{GENERATOR} {installed} is installed, but the client is generated with {GENERATOR_VERSION} "
            f"(another version writes different code): pip install '{GENERATOR}=={GENERATOR_VERSION}'"
        )


def _check_replaceable(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise SwaggerError(f"{output} exists and is not a directory")
    if output.is_dir() and any(output.iterdir()) and not all((output / m).is_file() for m in _GENERATED_MARKERS):
        raise SwaggerError(f"{output} is not empty and does not hold a generated client; refusing to replace it")


def _run_generator(spec: Path, package: Path, config: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONHASHSEED"] = "0"  # nothing should depend on hash order; this makes sure
    command = [
        sys.executable,
        "-m",
        "openapi_python_client",
        "generate",
        "--path",
        str(spec),
        "--meta",
        "none",
        "--config",
        str(config),
        "--output-path",
        str(package),
        "--fail-on-warning",  # e.g. ruff missing from PATH would silently give unformatted code
    ]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603 (fixed argv)
    if proc.returncode != 0 or not package.is_dir():
        detail = (proc.stderr.strip() or proc.stdout.strip())[-4000:]
        raise SwaggerError(f"{GENERATOR} could not generate a client from {spec}:\n{detail}")
