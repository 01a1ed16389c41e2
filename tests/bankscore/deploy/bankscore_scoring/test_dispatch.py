"""One body to one answer: each generation's 200, and generation D's promise of Microsoft's numbers."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from bankscore_tests_scoring_helpers import (
    GOOD,
    LONG_CALL,
    body,
    frame,
    frame_body,
    tiny_model,
)

from bankscore.deploy.bankscore_scoring.dispatch import score_body
from bankscore.deploy.bankscore_scoring.encode import render_result
from bankscore.deploy.bankscore_scoring.facts import SMALL_BATCH
from bankscore.deploy.bankscore_scoring.model import Model


def test_generation_a_and_b_double_encode_labels() -> None:
    for generation in ("A", "B"):
        rendered = render_result(tiny_model(generation), "predict", np.array([0.75, 0.25, 0.5]))
        assert rendered == '{"result": ["yes", "no", "yes"]}'  # a str: the server encodes it once more
        assert json.dumps(rendered).encode() == rb'"{\"result\": [\"yes\", \"no\", \"yes\"]}"'


def test_generation_c_is_plain_json() -> None:
    assert render_result(tiny_model("C"), "predict", np.array([0.75, 0.25])) == {"Results": ["yes", "no"]}


def test_predict_proba_gives_no_then_yes() -> None:
    assert render_result(tiny_model("C"), "predict_proba", np.array([0.75, 0.25])) == {
        "Results": [[0.25, 0.75], [0.75, 0.25]]
    }
    assert json.loads(render_result(tiny_model("B"), "predict_proba", np.array([0.75]))) == {"result": [[0.25, 0.75]]}


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_score_body_end_to_end(generation: str) -> None:
    model = tiny_model(generation)
    result, records = score_body(model, body(generation, [LONG_CALL, GOOD]))
    assert records == 2
    expected = {"Results": ["yes", "no"]} if generation == "C" else '{"result": ["yes", "no"]}'
    assert result == expected


def test_d_answers_a_bare_array_of_labels_or_probability_records() -> None:
    model = tiny_model("D")
    rows = [GOOD, LONG_CALL]
    labels, count = score_body(model, frame_body(frame(rows)))
    assert (labels, count) == (["no", "yes"], 2)
    # index is optional and other top-level keys are ignored, as Microsoft's script does
    no_index = {k: v for k, v in frame(rows).items() if k != "index"}
    assert score_body(model, frame_body(no_index, other={"x": 1}))[0] == ["no", "yes"]
    proba, _ = score_body(model, frame_body(frame(rows), {"predict_method": "predict_proba"}))
    p = [1 / (1 + math.exp(-(0.01 * r["duration"] - 6.0))) for r in rows]
    assert proba == [{"no": pytest.approx(1 - q), "yes": pytest.approx(q)} for q in p]
    assert [list(item) for item in proba] == [["no", "yes"], ["no", "yes"]]  # the model's DataFrame columns
    # Python's json spacing, as the inference server writes any run() result
    assert json.dumps(labels) == '["no", "yes"]'


def test_d_many_rows_score_like_the_same_rows_one_by_one() -> None:
    model = tiny_model("D", max_records=100)
    rows = [{**GOOD, "duration": d} for d in range(0, 1200, 30)]
    assert len(rows) > SMALL_BATCH
    body_many = frame_body(frame(rows), {"predict_method": "predict_proba"})
    one_by_one = [score_body(model, frame_body(frame([r]), {"predict_method": "predict_proba"}))[0][0] for r in rows]
    assert score_body(model, body_many)[0] == one_by_one


def test_d_uses_the_libraries_where_the_tree_walk_is_not_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """D promises Microsoft's bytes: probabilities come from the exact path unless the walk is exact."""
    model = tiny_model("D")  # a linear learner: its Python path may differ from scikit-learn by an ulp
    assert not model.small_is_exact
    calls: list[bool] = []
    real = Model.p_yes

    def spy(self: Model, columns: Any, n: int, *, exact: bool = False) -> Any:
        calls.append(exact)
        return real(self, columns, n, exact=exact)

    monkeypatch.setattr(Model, "p_yes", spy)
    score_body(model, frame_body(frame([GOOD]), {"predict_method": "predict_proba"}))
    score_body(model, frame_body(frame([GOOD])))  # P(yes) far from 0.5: the fast walk's label stands
    score_body(model, frame_body(frame([{**GOOD, "duration": 600}])))  # exactly 0.5: scored again, exactly
    assert calls == [True, False, False, True]
    calls.clear()
    score_body(tiny_model("C"), body("C", [GOOD], "predict_proba"))  # A, B and C keep their paths
    assert calls == [False]
