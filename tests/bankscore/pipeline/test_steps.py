"""The pipeline's step functions, one at a time (the whole run, on real parts: test_run.py)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bankscore.pipeline import PipelineParameters
from bankscore.pipeline._steps import CanceledError, PipelineContext, automl


def test_a_cancel_after_the_searchs_last_check_still_cancels_the_automl_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The budget can end the search right after the trial whose progress the cancel followed; the search then
    # returns normally, and the step must not hand its model on to registration.
    cancel = threading.Event()

    def search_that_ends_as_the_cancel_arrives(data: Any, options: Any, progress: Any) -> SimpleNamespace:
        cancel.set()
        return SimpleNamespace(interrupted=False, trials=[object()])

    monkeypatch.setattr("bankscore.automl.run_automl", search_that_ends_as_the_cancel_arrives)
    context = PipelineContext(
        params=PipelineParameters(dataset="train.csv"),
        run_dir=tmp_path,
        cancel=cancel,
        dataset=SimpleNamespace(load=lambda: None),  # type: ignore[arg-type]
    )

    with pytest.raises(CanceledError, match=r"canceled during AutoML, after its last trial \(trial 1\)"):
        automl(context, progress=lambda message: None)
    assert context.training is None and not any(tmp_path.iterdir())
