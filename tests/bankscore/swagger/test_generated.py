"""CI's golden-record check: the pinned spec comes from the contract, the shipped client from the pinned spec."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from bankscore.cli import main
from bankscore.swagger import GENERATED_DIR, PINNED_SPEC, SwaggerError, build_pinned_spec, generate_client

REAL_C = Path(__file__).parent / "data" / "Nikhil-Bansal19__MLE-Project2__swagger.json"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_pinned_spec_is_exactly_what_the_contract_builds() -> None:
    assert PINNED_SPEC.read_bytes() == build_pinned_spec(), "run `bankscore swagger export -o swagger/openapi3.json`"
    extension = json.loads(PINNED_SPEC.read_bytes())["x-bankscore"]
    assert extension["generation"] == "C"
    assert len(extension["features"]) == 20


def test_export_command_writes_the_pinned_spec() -> None:
    result = CliRunner().invoke(main, ["swagger", "export"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == PINNED_SPEC.read_bytes()


def test_regenerating_gives_the_committed_client_byte_for_byte(tmp_path: Path) -> None:
    fresh = generate_client(PINNED_SPEC, tmp_path / "_generated")
    committed, regenerated = _tree(GENERATED_DIR), _tree(fresh)
    assert sorted(regenerated) == sorted(committed), "run `bankscore swagger generate` and commit the result"
    changed = [name for name in committed if committed[name] != regenerated[name]]
    assert not changed, f"{changed} differ from a fresh generation: run `bankscore swagger generate`"


def test_generated_models_speak_wire_names() -> None:
    from bankscore._generated.models import BankRecord, ServiceInput

    example = json.loads(PINNED_SPEC.read_bytes())["components"]["schemas"]["ServiceInput"]["example"]
    body = ServiceInput.from_dict(example)
    record = body.inputs.data[0]
    assert isinstance(record, BankRecord)
    assert record.emp_var_rate == example["Inputs"]["data"][0]["emp.var.rate"]
    assert body.to_dict() == example


def test_generate_makes_a_separate_package_from_a_swagger2_spec(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["swagger", "generate", "--spec", str(REAL_C), "--output", str(tmp_path / "other_endpoint")]
    )
    assert result.exit_code == 0, result.output
    sys.path.insert(0, str(tmp_path))
    try:
        from other_endpoint.models import BankRecord, ServiceInput  # type: ignore[import-not-found]

        assert "emp_var_rate" in attrs.fields_dict(BankRecord)
        # Nikhil-Bansal19's deployment is generation C: Inputs and GlobalParameters, records without enums.
        assert {"inputs", "global_parameters"} <= set(attrs.fields_dict(ServiceInput))
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "other_endpoint" or m.startswith("other_endpoint.")]:
            del sys.modules[name]


def test_generate_refuses_to_replace_a_directory_that_is_not_a_generated_client(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SwaggerError, match="refusing to replace"):
        generate_client(PINNED_SPEC, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_generate_with_a_missing_spec_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["swagger", "generate", "--spec", str(tmp_path / "nope.json")])
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "Traceback" not in result.output
