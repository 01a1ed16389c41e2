"""The client against Microsoft's own no-code scoring script (the generation-D oracle) serving our model.

The oracle is Microsoft's ``mlflow_score_script.py``, unmodified, on the real inference server on 127.0.0.1
(``tests/no_code_oracle.py``), serving the session's registered model exactly as a managed online endpoint's
no-code deployment would. The client must detect D from that endpoint's own spec and return what the model
returns in process.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bankscore import AsyncClient, BankMarketingRecord, Client, ModelError, WireGeneration

pytestmark = pytest.mark.slow


Expected = tuple[list[str], list[float]]


def test_the_client_detects_d_and_returns_the_models_own_answers(
    no_code_oracle: Any, shipped: list[dict[str, Any]], expected: Expected
) -> None:
    labels, p_yes = expected
    with Client(no_code_oracle.scoring_uri) as client:
        assert client.generation is WireGeneration.D
        assert client.record_model is BankMarketingRecord  # the spec's example names and types the 20 columns
        assert [c for c in client.check_schema() if c.breaking] == []
        one = client.predict(shipped[0])
        result = client.predict_many(shipped[:600], batch_size=150, concurrency=2)
    assert one.label == labels[0] and one.probability is not None
    assert math.isclose(one.probability, p_yes[0], abs_tol=1e-9)
    assert result.ok and result.labels == labels[:600]
    assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(result.probabilities, p_yes[:600], strict=True))
    with Client(no_code_oracle.scoring_uri, probabilities=False) as client:
        labels_only = client.predict_many(shipped[:200], batch_size=100)
    assert labels_only.labels == labels[:200] and set(labels_only.probabilities) == {None}


def test_the_async_client_too(no_code_oracle: Any, shipped: list[dict[str, Any]], expected: Expected) -> None:
    import asyncio

    async def main() -> Any:
        async with AsyncClient(no_code_oracle.scoring_uri) as client:
            return await client.predict_many(shipped[:300], batch_size=100, concurrency=3)

    result = asyncio.run(main())
    assert result.labels == expected[0][:300]


def test_a_script_failure_is_a_model_error_not_retried(no_code_oracle: Any, shipped: list[dict[str, Any]]) -> None:
    # The live record model is bypassed on purpose: a null age passes no validation of ours, so the body reaches
    # the script, which answers its generic 500 (the cloud turns it into a 424).
    from dataclasses import replace

    from bankscore._spec import record_fields, record_model

    with Client(no_code_oracle.scoring_uri) as client:
        fields = record_fields(client.fetch_spec())
    untyped = record_model([replace(f, type="any", required=False) for f in fields])
    with (
        Client(no_code_oracle.scoring_uri, record_model=untyped, generation="D") as client,
        pytest.raises(ModelError) as raised,
    ):
        client.predict(dict(shipped[0], age=None))
    assert raised.value.status == 500 and "container's log has the cause" in str(raised.value)


def test_bankscore_score_against_the_oracle(
    no_code_oracle: Any, trained: Any, shipped: list[dict[str, Any]], expected: Expected, tmp_path: Path
) -> None:
    source = tmp_path / "customers.json"
    source.write_text(json.dumps(shipped[:50]))
    done = trained.cli("score", str(source), "--uri", no_code_oracle.scoring_uri, "--proba", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["label"] for r in rows] == expected[0][:50]
    assert all(math.isclose(r["probability"], p, abs_tol=1e-9) for r, p in zip(rows, expected[1][:50], strict=True))
