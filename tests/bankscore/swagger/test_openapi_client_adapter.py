"""openapi-python-client has what the generator relies on, in the version range pyproject.toml declares.

The generator overrides private steps of the library's ``Project`` (``bankscore.swagger._openapi_client_adapter``
lists them). A release can drop or rename them without an error of its own, so these checks fail first and name
what is missing and which version is installed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import openapi_python_client
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from bankscore.swagger._openapi_client_adapter import (
    GENERATOR,
    GENERATOR_VERSION,
    installed_version,
    missing_internals,
)

ROOT = Path(__file__).resolve().parents[3]
ADAPTER = ROOT / "client" / "bankscore" / "swagger" / "_openapi_client_adapter.py"


def _declared_range() -> SpecifierSet:
    """The specifier pyproject.toml's extras give openapi-python-client (every extra that names it agrees)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    ranges = {str(r.specifier) for r in requirements if canonicalize_name(r.name) == GENERATOR}
    assert len(ranges) == 1, f"pyproject.toml's extras should give {GENERATOR} one version range, not {ranges}"
    return SpecifierSet(ranges.pop())


def _installed() -> str:
    installed = installed_version()
    assert installed is not None, f"{GENERATOR} is not installed: pip install -e '.[codegen]'"
    return installed


def test_the_installed_generator_is_in_the_declared_range() -> None:
    installed, declared = _installed(), _declared_range()
    assert declared.contains(installed, prereleases=True), (
        f"{GENERATOR} {installed} is installed, outside {declared}, the range pyproject.toml declares and "
        "bankscore/swagger/_openapi_client_adapter.py is tested with: install the declared version"
    )


def test_the_adapter_generates_with_a_declared_version() -> None:
    declared = _declared_range()
    assert declared.contains(GENERATOR_VERSION, prereleases=True), (
        f"_openapi_client_adapter.GENERATOR_VERSION is {GENERATOR_VERSION}, outside {declared} (pyproject.toml)"
    )


def test_every_internal_the_adapter_relies_on_is_there() -> None:
    missing = missing_internals()
    assert missing == [], (
        f"{GENERATOR} {_installed()} lacks what bankscore/swagger/_openapi_client_adapter.py relies on: "
        f"{', '.join(missing)} (written for {GENERATOR_VERSION}; its docstring says what each is for)"
    )


def test_a_missing_private_step_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(openapi_python_client.Project, "_build_api")
    assert missing_internals() == ["Project._build_api"]


def test_a_step_that_build_no_longer_calls_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def build(self: object) -> list[object]:
        return []

    monkeypatch.setattr(openapi_python_client.Project, "build", build)
    assert missing_internals() == [
        "Project.build() calling Project._build_api",
        "Project.build() calling Project._build_models",
    ]


def test_only_the_adapter_imports_the_generator() -> None:
    importers = [
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / "client" / "bankscore").rglob("*.py"))
        if path != ADAPTER and "openapi_python_client" in path.read_text(encoding="utf-8")
    ]
    assert importers == [], f"{importers} use openapi-python-client directly: go through _openapi_client_adapter"
