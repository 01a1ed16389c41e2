"""The wire generations of an Azure ML scoring endpoint, and what each one sends and answers.

Azure's AutoML scoring script changed its request and response bodies twice in the ACI era (A, B, C), and
today's managed online endpoints serve MLflow models without a script (D). Deployments of every era are still
running, so bankscore speaks all four. The generation is a property of the deployed scoring script, not of the
model.
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

    ``D`` (managed online endpoints, an MLflow model deployed without a scoring script): request
        ``{"input_data": {"columns": [...], "index": [...], "data": [[...], ...]}, "params": {...}}`` (a pandas
        "split" frame; ``params`` optional, ``{"predict_method": "predict_proba"}`` asks bankscore's registered
        model for probabilities); a 200 response is a bare JSON array: labels, ``[P(no), P(yes)]`` pairs,
        ``{"no": .., "yes": ..}`` records or P(yes) values, depending on how the model was logged. Every script
        error is a generic 500 from the container, which Azure's front end turns into 424.
    """

    A = "A"
    B = "B"
    C = "C"
    D = "D"
