"""`bankscore swagger generate`: one generator, a typed package for any scoring spec, the shipped record golden."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from bankscore import SchemaDriftError, WireGeneration
from bankscore._spec import record_schema_of
from bankscore.cli import main
from bankscore.data import load_training_data
from bankscore.features import FEATURES
from bankscore.swagger import (
    SwaggerError,
    build_pinned_spec,
    dump_document,
    generate_package,
    load_document,
    render_record_module,
    request_shape,
    to_openapi3,
)
from bankscore.swagger._serve import PINNED_SPEC

ROOT = Path(__file__).resolve().parents[3]
SHIPPED_RECORD = ROOT / "client" / "bankscore" / "_bank_marketing_record.py"
DATA = Path(__file__).parent / "data"
_SHARED = os.environ.get("BANKSCORE_SWAGGER_SAMPLES") or str(ROOT.parent / "shared" / "azure" / "swagger-samples")
# Every real and locally generated Azure spec we have (the shared research folder has all 11), and ours.
SAMPLES = sorted(Path(_SHARED).glob("*.json")) if Path(_SHARED).is_dir() else sorted(DATA.glob("*__swagger.json"))
SPECS = [*SAMPLES, PINNED_SPEC]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def customers() -> list[dict[str, Any]]:
    """Eight shipped records: wire names, typed values, no label."""
    return list(islice(load_training_data().records(), 8))


def test_pinned_spec_is_exactly_what_the_contract_builds() -> None:
    assert PINNED_SPEC.read_bytes() == build_pinned_spec(), "run `bankscore swagger export -o swagger/openapi3.json`"
    extension = json.loads(PINNED_SPEC.read_bytes())["x-bankscore"]
    assert extension["generation"] == "C"
    assert len(extension["features"]) == 20


def test_export_command_writes_the_pinned_spec() -> None:
    result = CliRunner().invoke(main, ["swagger", "export"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == PINNED_SPEC.read_bytes()


def test_the_shipped_record_is_the_generators_output_byte_for_byte() -> None:
    fresh = render_record_module(load_document(PINNED_SPEC), record_class="BankMarketingRecord")
    assert fresh == SHIPPED_RECORD.read_text(encoding="utf-8"), (
        "regenerate it: `python swagger/update_shipped_record.py` (see swagger/README.md)"
    )


@pytest.mark.parametrize("spec_path", SPECS, ids=lambda p: p.name.split("__")[0] + "/" + p.name[-30:])
def test_every_spec_generates_a_package_that_scores_on_a_loopback_endpoint(
    spec_path: Path,
    tmp_path: Path,
    importer: Callable[[str], Any],
    scoring_server: Callable[[dict[str, Any]], Any],
    customers: list[dict[str, Any]],
) -> None:
    document = load_document(spec_path)
    shape = request_shape(document)
    wire_fields = [path.removeprefix("record.") for path in shape.fields if path.startswith("record.")]
    generated = generate_package(document, tmp_path / "sample_client", source=spec_path.name)
    package = importer("sample_client")

    assert package.GENERATION == shape.generation == generated.generation.value
    record_fields = package.Record.model_fields
    assert [info.serialization_alias or name for name, info in record_fields.items()] == wire_fields
    required = {info.serialization_alias or name for name, info in record_fields.items() if info.is_required()}
    assert required == set(record_schema_of(document).get("required") or [])
    assert package.load_spec() == to_openapi3(document)

    server = scoring_server(document)
    with package.Client(server.scoring_uri, max_retries=0) as client:
        assert client.generation is WireGeneration(shape.generation)
        result = client.predict_many(customers, batch_size=3)
        one = client.predict(package.Record(**customers[0]))
    expected = ["yes" if (r["age"] - 20) / 80 >= 0.5 else "no" for r in customers]
    assert result.labels == expected
    assert one.label == expected[0]
    with_proba = shape.generation != "A"
    assert all((p.probability is not None) == with_proba for p in result.predictions if p is not None)
    # The client never asked for the spec: the package fixed the generation and the record.
    assert all("Inputs" in body or "data" in body for body in server.bodies)


def _d_specs() -> list[tuple[str, dict[str, Any]]]:
    from bankscore.deploy._swagger import build_openapi3
    from bankscore.features import FEATURES

    specs = [("bankscore-deploy-D", build_openapi3("D", FEATURES, title="bank-marketing", model_version="1"))]
    wire = Path(os.environ.get("BANKSCORE_GEN_D_WIRE") or "/nonexistent")  # Microsoft's, set by ./dev.sh
    if wire.is_dir():
        specs += [(f"microsoft-{n}", load_document(wire / n)) for n in ("swagger3.json", "swagger3_pandas3.json")]
    return specs


@pytest.mark.parametrize(("name", "document"), _d_specs(), ids=[name for name, _ in _d_specs()])
def test_a_no_code_spec_generates_a_d_package_that_scores(
    name: str,
    document: dict[str, Any],
    tmp_path: Path,
    importer: Callable[[str], Any],
    scoring_server: Callable[[dict[str, Any]], Any],
    customers: list[dict[str, Any]],
) -> None:
    generate_package(document, tmp_path / "nocode_client", source=name)
    package = importer("nocode_client")
    assert package.GENERATION == "D"
    wire_names = [info.serialization_alias or n for n, info in package.Record.model_fields.items()]
    assert wire_names == [f.wire_name for f in FEATURES]
    if name.startswith("bankscore"):  # x-bankscore.record: categories and ranges checked before sending
        with pytest.raises(ValidationError, match="job"):
            package.Record(**dict(customers[0], job="astronaut"))
    server = scoring_server(document)
    with package.Client(server.scoring_uri, max_retries=0) as client:
        result = client.predict_many(customers, batch_size=4)
    assert result.labels == ["yes" if (r["age"] - 20) / 80 >= 0.5 else "no" for r in customers]
    assert all(p is not None and p.probability is not None for p in result.predictions)
    assert all(body["params"] == {"predict_method": "predict_proba"} for body in server.bodies)
    assert all(body["input_data"]["columns"] == wire_names for body in server.bodies)


def test_a_package_from_the_aci_spec_names_the_regeneration_when_the_endpoint_moves_to_d(
    tmp_path: Path, importer: Callable[[str], Any], scoring_server: Callable[[dict[str, Any]], Any]
) -> None:
    from bankscore.deploy._swagger import build_openapi3

    generate_package(load_document(PINNED_SPEC), tmp_path / "aci_client", source="openapi3.json")
    package = importer("aci_client")
    assert package.GENERATION == "C"
    server = scoring_server(build_openapi3("D", FEATURES, title="bank-marketing", model_version="2"))
    with pytest.raises(SchemaDriftError) as raised:
        package.Client(server.scoring_uri, check_schema=True)
    message = str(raised.value)
    assert "BREAKING generation changed: C -> D" in message
    assert f"bankscore swagger generate --spec {server.url}/swagger.json --output aci_client" in message


def test_the_same_spec_gives_the_same_package_byte_for_byte(tmp_path: Path) -> None:
    document = load_document(SAMPLES[0])
    first = generate_package(document, tmp_path / "one" / "same_client", source="a").path
    second = generate_package(document, tmp_path / "two" / "same_client", source="b").path
    assert _tree(first) == _tree(second)
    assert {"__init__.py", "client.py", "models/record.py", "spec.json", "py.typed"} <= set(_tree(first))


def test_a_record_that_does_not_fit_is_refused_before_anything_is_sent(
    tmp_path: Path,
    importer: Callable[[str], Any],
    scoring_server: Callable[[dict[str, Any]], Any],
    customers: list[dict[str, Any]],
) -> None:
    from bankscore import ValidationError

    generate_package(load_document(PINNED_SPEC), tmp_path / "strict_client", source="pinned")
    package = importer("strict_client")
    server = scoring_server(load_document(PINNED_SPEC))
    bad = dict(customers[0], job="astronaut")
    with package.Client(server.scoring_uri) as client, pytest.raises(ValidationError) as raised:
        client.predict_many([customers[1], bad])
    assert "record 1: job='astronaut'" in str(raised.value)
    assert server.bodies == []


def test_check_schema_compares_the_live_spec_with_the_packages_own(
    tmp_path: Path, importer: Callable[[str], Any], scoring_server: Callable[[dict[str, Any]], Any]
) -> None:
    document = load_document(PINNED_SPEC)
    generate_package(document, tmp_path / "drift_client", source="pinned")
    package = importer("drift_client")
    same = scoring_server(document)
    with package.Client(same.scoring_uri, check_schema=True) as client:
        assert client.check_schema() == []

    changed = json.loads(build_pinned_spec("C"))
    record = changed["components"]["schemas"]["ServiceInput"]["properties"]["Inputs"]["properties"]["data"]["items"]
    del record["properties"]["duration"]
    record["required"].remove("duration")
    server = scoring_server(changed)
    with pytest.raises(SchemaDriftError) as raised:
        package.Client(server.scoring_uri, check_schema=True)
    assert "record.duration removed" in str(raised.value)
    assert f"bankscore swagger generate --spec {server.url}/swagger.json --output drift_client" in str(raised.value)


def test_generate_command_pulls_a_url_with_the_key_and_names_the_package_after_the_title(
    tmp_path: Path, spec_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = spec_server(swagger2=SAMPLES[0].read_bytes(), key="s3cret-key")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["swagger", "generate", "--spec", server.url + "/score", "--key", "s3cret-key"])
    assert result.exit_code == 0, result.output
    title = json.loads(SAMPLES[0].read_bytes())["info"]["title"]
    assert title and (tmp_path / f"{title.replace('-', '_').lower()}_client" / "client.py").is_file()
    assert "s3cret-key" not in result.output
    assert all(auth == "Bearer s3cret-key" for _, auth in server.requests)


def test_generate_without_spec_and_without_a_local_deployment_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BANKSCORE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(main, ["swagger", "generate"])
    assert result.exit_code == 1
    assert "no local deployment 'bank-marketing'" in result.output and "--spec FILE|URL" in result.output
    assert "Traceback" not in result.output


def test_generate_refuses_to_replace_a_directory_that_is_not_a_generated_client(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(SwaggerError, match="refusing to replace"):
        generate_package(load_document(PINNED_SPEC), target, source="pinned")
    assert (target / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["my-client", "2fast", "class"])
def test_a_package_name_that_is_not_an_identifier_is_refused(name: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["swagger", "generate", "--spec", str(PINNED_SPEC), "--output", str(tmp_path / name)]
    )
    assert result.exit_code == 2
    assert "is not a Python identifier" in result.output


def test_generate_with_a_missing_spec_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["swagger", "generate", "--spec", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "nope.json" in result.output
    assert "Traceback" not in result.output


def test_without_the_generator_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    real = metadata.version

    def version(name: str) -> str:
        if name == "openapi-python-client":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "version", version)
    with pytest.raises(SwaggerError, match=r"pip install 'bankscore\[codegen\]'"):
        generate_package(load_document(PINNED_SPEC), tmp_path / "x_client", source="pinned")


@pytest.mark.slow
def test_a_generated_package_passes_mypy_strict(tmp_path: Path) -> None:
    document = load_document(SAMPLES[0])
    generate_package(document, tmp_path / "typed_client", source="sample")
    usage = tmp_path / "usage.py"
    usage.write_text(
        "from typed_client import Client, Record, Prediction\n"
        "def score(client: Client, record: Record) -> Prediction:\n"
        "    return client.predict(record)\n"
        "def wrong(client: Client) -> None:\n"
        "    client.predict(42)\n"
    )
    mypy = Path(sys.executable).parent / "mypy"
    proc = subprocess.run(
        [mypy, "--strict", "--no-incremental", "-p", "typed_client"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    misuse = subprocess.run(
        [mypy, "--strict", "--no-incremental", "usage.py"], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert misuse.returncode == 1 and 'incompatible type "int"' in misuse.stdout, misuse.stdout
    assert misuse.stdout.count("error:") == 1, misuse.stdout  # the right call type-checks


def test_dump_is_what_the_package_ships(tmp_path: Path) -> None:
    document = load_document(SAMPLES[0])
    path = generate_package(document, tmp_path / "shipped_client", source="sample").path
    assert (path / "spec.json").read_bytes() == dump_document(to_openapi3(document))
