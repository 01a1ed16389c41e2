"""The three wire generations of an Azure AutoML scoring endpoint, and what each one sends and answers.

Azure's AutoML scoring script changed its request and response bodies twice; deployments of every era are
still running, so bankscore speaks all three. The generation is a property of the deployed scoring script,
not of the model.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["WireGeneration"]


class WireGeneration(StrEnum):
    """Which body shapes a scoring endpoint speaks.

    ``A`` (2020 to mid-2021, ``scoring_file_v_1_0_0.py`` of azureml-defaults ~1.2x):
        request ``{"data": [record, ...]}``; a 200 response is a JSON *string* (double-encoded) holding
        ``{"result": ["no", "yes", ...]}``, and a failing ``run()`` still answers 200 with a string holding
        ``{"error": "<message>"}``.

    ``B`` (late 2021): request ``{"data": [record, ...], "method": "predict" | "predict_proba"}``, ``method``
        optional (``predict``); responses double-encoded as in A, with ``predict_proba`` giving
        ``{"result": [[P(no), P(yes)], ...]}``.

    ``C`` (2022 to now, ``scoring_file_v_2_0_0.py``): request
        ``{"Inputs": {"data": [record, ...]}, "GlobalParameters": {"method": "predict" | "predict_proba"}}``
        with ``GlobalParameters`` optional (left out means ``predict``; an empty object gives 500); a 200
        response is plain JSON ``{"Results": [...]}`` (labels, or ``[P(no), P(yes)]`` pairs), and a failing
        ``run()`` gives 500 ``{"message": ...}``.
    """

    A = "A"
    B = "B"
    C = "C"
