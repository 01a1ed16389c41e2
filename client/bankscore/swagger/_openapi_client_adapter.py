"""openapi-python-client as ``bankscore swagger generate`` drives it: the only module that imports it.

Written for and tested with openapi-python-client 0.29.1 (``GENERATOR_VERSION``), the version the ``codegen``
extra pins; its 0.x minors break, so ``check_installed`` refuses any other version before generating.

Its public API used here: ``config.ConfigFile.load_from_path``, ``config.Config.from_sources``,
``config.MetaType``, ``parser.GeneratorData.from_dict``, ``parser.import_string_from_class``,
``parser.errors.ErrorLevel``, and ``Project(openapi=, config=, custom_template_path=)`` with its ``build()``
and ``env`` (the Jinja environment the templates render in).

Its private parts relied on (each listed by ``missing_internals``):

- ``Project._build_models`` and ``Project._build_api``, the steps of ``Project.build()`` that write the
  models and the endpoint modules: overridden, so that only the record's model and bankscore's ``client``,
  ``errors`` and ``spec`` modules are written.
- Inside those overrides, the project's ``package_dir``, ``openapi.models`` and ``config.file_encoding``.
- Of each parsed model: ``class_info.name``, ``class_info.module_name``, ``required_properties``,
  ``optional_properties`` and their ``python_name`` (to find the record's model and check its field names).
"""

from __future__ import annotations

import contextlib
import importlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from bankscore._exceptions import SwaggerError
from bankscore._spec import Document

__all__ = [
    "GENERATOR",
    "GENERATOR_VERSION",
    "Built",
    "ParsedModel",
    "UnreadableSpecError",
    "build_package",
    "check_installed",
    "installed_version",
    "missing_internals",
]

GENERATOR: Final = "openapi-python-client"
GENERATOR_VERSION: Final = "0.29.1"  # 0.x with breaking minors: a new version means new bytes (pyproject pins it)

# Names under ``openapi_python_client`` this module uses; the private ones are the reason for this module.
_PUBLIC: Final = (
    "config.ConfigFile.load_from_path",
    "config.Config.from_sources",
    "config.MetaType.NONE",
    "parser.GeneratorData.from_dict",
    "parser.import_string_from_class",
    "parser.errors.ErrorLevel.ERROR",
    "parser.errors.ErrorLevel.WARNING",
    "Project.build",
)
_PRIVATE: Final = ("Project._build_models", "Project._build_api")
# What the overrides and the record lookup read of a project and of its parsed models.
_PROJECT_ATTRIBUTES: Final = ("env", "package_dir", "openapi.models", "config.file_encoding")
_MODEL_ATTRIBUTES: Final = ("class_info.name", "class_info.module_name", "required_properties", "optional_properties")
_PROPERTY_ATTRIBUTES: Final = ("python_name",)


class UnreadableSpecError(Exception):
    """The generator could not parse the document it was given."""

    def __init__(self, header: str, detail: str | None) -> None:
        super().__init__(header)
        self.header = header
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ParsedModel:
    """A model as the generator parsed it: its class and module names and its fields' Python names."""

    name: str
    module_name: str
    python_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Built:
    """What a build wrote: its errors and warnings (``"header: detail"``) and the models it parsed."""

    problems: tuple[str, ...]
    models: tuple[ParsedModel, ...]


def installed_version() -> str | None:
    """The installed openapi-python-client's version, ``None`` without it (the ``codegen`` extra)."""
    try:
        return metadata.version(GENERATOR)
    except metadata.PackageNotFoundError:
        return None


def check_installed() -> None:
    """Refuse to generate unless ``GENERATOR_VERSION`` is installed: another version parses and names differently."""
    installed = installed_version()
    if installed is None:
        raise SwaggerError(
            f"{GENERATOR} is not installed: pip install 'bankscore[codegen]' (it carries {GENERATOR} "
            f"{GENERATOR_VERSION}, the version bankscore's templates are written for)"
        )
    if installed != GENERATOR_VERSION:
        raise SwaggerError(
            f"{GENERATOR} {installed} is installed, but bankscore generates with {GENERATOR_VERSION} "
            f"(another version parses and names differently): pip install 'bankscore[codegen]'"
        )


def build_package(
    spec: Document,
    package: Path,
    *,
    config_file: Path,
    templates: Path,
    record_class: str,
    prepare_env: Callable[[Any], None],
) -> Built:
    """Parse ``spec`` and write the package into ``package`` (its name is the package's import name).

    ``prepare_env`` gets the Jinja environment before anything renders (filters, globals). Raises
    ``UnreadableSpecError`` when the generator cannot parse ``spec``.
    """
    from openapi_python_client.parser import GeneratorData
    from openapi_python_client.parser.errors import ErrorLevel

    config = _config(config_file, package)
    data = GeneratorData.from_dict(spec, config=config)
    if not isinstance(data, GeneratorData):
        raise UnreadableSpecError(str(data.header), data.detail)
    project = _project_class()(openapi=data, config=config, custom_template_path=templates)
    project.record_class = record_class
    prepare_env(project.env)
    with contextlib.redirect_stdout(io.StringIO()):  # the generator prints "Generating <dir>"
        errors = project.build()
    problems = tuple(
        f"{e.header}: {e.detail or ''}".strip().rstrip(":")
        for e in errors
        if e.level is ErrorLevel.ERROR or e.level is ErrorLevel.WARNING
    )
    return Built(problems, tuple(_parsed(model) for model in data.models))


def missing_internals() -> list[str]:
    """What this module relies on that the installed openapi-python-client lacks (``[]`` when all is there).

    Names are written from the package (``Project._build_models``); a project's and a parsed model's
    attributes are looked up on a project built for a one-field spec, without writing anything.
    """
    import openapi_python_client

    missing = [name for name in (*_PUBLIC, *_PRIVATE) if _lookup(openapi_python_client, name) is _MISSING]
    if missing:
        return missing
    called = set(openapi_python_client.Project.build.__code__.co_names)
    missing += [
        f"Project.build() calling Project.{step}" for step in ("_build_models", "_build_api") if step not in called
    ]
    try:
        project = _probe_project()
    except Exception as exc:  # a changed signature or parse: the probe itself is what is missing
        return [*missing, f"a Project for a one-field spec ({type(exc).__name__}: {exc})"]
    missing += [f"Project().{name}" for name in _PROJECT_ATTRIBUTES if _lookup(project, name) is _MISSING]
    for model in project.openapi.models:
        missing += [f"ModelProperty.{name}" for name in _MODEL_ATTRIBUTES if _lookup(model, name) is _MISSING]
        for prop in (*(model.required_properties or []), *(model.optional_properties or [])):
            missing += [f"Property.{name}" for name in _PROPERTY_ATTRIBUTES if _lookup(prop, name) is _MISSING]
    return sorted(set(missing))


def _config(config_file: Path | None, package: Path) -> Any:
    from openapi_python_client.config import Config, ConfigFile, MetaType

    loaded = ConfigFile.load_from_path(config_file) if config_file is not None else ConfigFile()
    loaded.package_name_override = package.name
    return Config.from_sources(loaded, MetaType.NONE, package / "input.json", "utf-8", True, package)


def _parsed(model: Any) -> ParsedModel:
    props = (model.required_properties or []) + (model.optional_properties or [])
    return ParsedModel(
        str(model.class_info.name), str(model.class_info.module_name), tuple(str(p.python_name) for p in props)
    )


def _project_class() -> Any:
    from openapi_python_client import Project
    from openapi_python_client.parser import import_string_from_class

    class BankscoreProject(Project):  # type: ignore[misc]
        """openapi-python-client's project, writing the record model and bankscore's client modules only."""

        record_class: str

        def _build_models(self) -> None:
            # Categories are rendered inline as Literal types, so the generator's enum modules are not written.
            models_dir = self.package_dir / "models"
            models_dir.mkdir()
            template = self.env.get_template("model.py.jinja")
            imports, names = [], []
            for model in self.openapi.models:
                if model.class_info.name != self.record_class:
                    continue  # the request body around the records: the runtime builds it
                path = models_dir / f"{model.class_info.module_name}.py"
                path.write_text(template.render(model=model), encoding=self.config.file_encoding)
                imports.append(import_string_from_class(model.class_info))
                names.append(model.class_info.name)
            init = self.env.get_template("models_init.py.jinja").render(imports=imports, alls=names)
            (models_dir / "__init__.py").write_text(init, encoding=self.config.file_encoding)

        def _build_api(self) -> None:
            # The scoring operation is the Client's predict/predict_many, done by bankscore's runtime.
            for module in ("client", "errors", "spec"):
                text = self.env.get_template(f"{module}.py.jinja").render()
                (self.package_dir / f"{module}.py").write_text(text, encoding=self.config.file_encoding)

    return BankscoreProject


_MISSING: Final = object()


def _lookup(root: Any, dotted: str) -> Any:
    """``root.a.b.c`` for ``"a.b.c"``, importing submodules on the way; ``_MISSING`` where a part is absent."""
    value = root
    for part in dotted.split("."):
        if hasattr(value, part):
            value = getattr(value, part)
            continue
        if not hasattr(value, "__path__"):  # not a package: no submodule to import
            return _MISSING
        try:
            value = importlib.import_module(f"{value.__name__}.{part}")
        except ImportError:
            return _MISSING
    return value


def _probe_project() -> Any:
    """A project for a one-field record, constructed but not built: nothing is written."""
    from openapi_python_client import Project
    from openapi_python_client.parser import GeneratorData

    record = {"type": "object", "required": ["age"], "properties": {"age": {"type": "integer"}}}
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "probe", "version": "1.0"},
        "paths": {},
        "components": {"schemas": {"Probe": record}},
    }
    package = Path("probe_client")
    config = _config(None, package)
    data = GeneratorData.from_dict(spec, config=config)
    if not isinstance(data, GeneratorData):
        raise UnreadableSpecError(str(data.header), data.detail)
    return Project(openapi=data, config=config, custom_template_path=None)
