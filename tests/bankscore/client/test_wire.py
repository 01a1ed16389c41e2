"""Bodies of the three wire generations, and the generation of every real and generated spec sample."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bankscore import Prediction, ScoringError, WireGeneration
from bankscore._spec import detect_generation
from bankscore._wire import PREDICT, PREDICT_PROBA, DecodeError, decode_predictions, encode_body
from bankscore.swagger import load_document

SAMPLES = Path(os.environ.get("BANKSCORE_SWAGGER_SAMPLES") or "/nonexistent")  # set by ./dev.sh when present
REPO_SAMPLES = Path(__file__).resolve().parents[1] / "swagger" / "data"
RECORDS = b'[{"age":41},{"age":60}]'


def test_encode_each_generation() -> None:
    assert json.loads(encode_body(WireGeneration.A, RECORDS, PREDICT)) == {"data": [{"age": 41}, {"age": 60}]}
    assert json.loads(encode_body(WireGeneration.B, RECORDS, PREDICT_PROBA)) == {
        "data": [{"age": 41}, {"age": 60}],
        "method": "predict_proba",
    }
    assert json.loads(encode_body(WireGeneration.C, RECORDS, PREDICT)) == {
        "Inputs": {"data": [{"age": 41}, {"age": 60}]}
    }
    assert json.loads(encode_body(WireGeneration.C, RECORDS, PREDICT_PROBA))["GlobalParameters"] == {
        "method": "predict_proba"
    }
    with pytest.raises(ValueError, match="cannot predict_proba"):
        encode_body(WireGeneration.A, RECORDS, PREDICT_PROBA)


def test_decode_double_encoded_and_plain() -> None:
    double = json.dumps(json.dumps({"result": ["yes", "no"]})).encode()
    assert decode_predictions(double, PREDICT, 2) == [Prediction("yes"), Prediction("no")]
    proba = json.dumps(json.dumps({"result": [[0.25, 0.75], [0.9, 0.1]]})).encode()
    assert decode_predictions(proba, PREDICT_PROBA, 2) == [Prediction("yes", 0.75), Prediction("no", 0.1)]
    plain = json.dumps({"Results": [[0.5, 0.5]]}).encode()
    assert decode_predictions(plain, PREDICT_PROBA, 1) == [Prediction("yes", 0.5)]  # the script's >= 0.5 rule


def test_decode_errors() -> None:
    with pytest.raises(ScoringError, match="bad input"):
        decode_predictions(json.dumps(json.dumps({"error": "bad input"})).encode(), PREDICT, 1)
    with pytest.raises(DecodeError, match="expected 2 results"):
        decode_predictions(b'{"Results": ["no"]}', PREDICT, 2)
    with pytest.raises(DecodeError, match="not JSON"):
        decode_predictions(b"Healthy", PREDICT, 1)


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared Azure samples are not on this machine")
def test_every_shared_sample_has_its_generation_detected() -> None:
    expected = {"genA": "A", "genB": "B", "genC": "C"}
    for sample in sorted(SAMPLES.glob("*.json")):
        generation = detect_generation(load_document(sample))
        for marker, value in expected.items():
            if marker in sample.name:
                assert generation == value, sample.name


def test_repository_samples() -> None:
    found = {p.name.split("__")[0]: detect_generation(load_document(p)) for p in REPO_SAMPLES.glob("*__swagger.json")}
    assert found["Nikhil-Bansal19"] is WireGeneration.C
    assert found["thanasisvax"] is WireGeneration.A
    assert found["JPSvdW"] is WireGeneration.B
