"""The trained Bank Marketing model: what the registry stores and the deployment loads.

A model knows its exact input features (wire names, in order) and the features it was trained without.
It scores a pandas DataFrame or a list of records (dicts keyed by wire or Python name) and returns
P(no), P(yes) per row, the classes in sorted order as Azure's predict_proba does.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bankscore.automl._pyfunc import pyfunc_module
from bankscore.data import Dataset
from bankscore.features import FEATURES, LABEL, Feature

__all__ = ["BankMarketingModel", "Member", "records_to_frame"]


@dataclass
class Member:
    """One fitted learner: FLAML's estimator with the data transform it was trained behind."""

    algorithm: str
    weight: float
    estimator: Any  # a fitted flaml.automl.model estimator
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class BankMarketingModel:
    features: tuple[str, ...]
    excluded: tuple[str, ...]
    members: list[Member]
    task: Any  # FLAML's task object: its preprocess applies the transformer
    transformer: Any  # FLAML's DataTransformer, fitted on the training rows
    algorithm: str
    classes: tuple[str, ...] = LABEL.classes

    def to_state(self) -> dict[str, Any]:
        """The model as plain values and FLAML's fitted objects: what the registered pyfunc pickles.

        No bankscore class is in it, so the pickle loads wherever FLAML and the learners are installed.
        """
        return {
            "features": list(self.features),
            "excluded": list(self.excluded),
            "classes": list(self.classes),
            "algorithm": self.algorithm,
            "task": self.task,
            "transformer": self.transformer,
            "members": [
                {"algorithm": m.algorithm, "weight": m.weight, "estimator": m.estimator, "config": dict(m.config)}
                for m in self.members
            ],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> BankMarketingModel:
        members = [
            Member(m["algorithm"], float(m["weight"]), m["estimator"], dict(m.get("config", {})))
            for m in state["members"]
        ]
        return cls(
            features=tuple(state["features"]),
            excluded=tuple(state["excluded"]),
            members=members,
            task=state["task"],
            transformer=state["transformer"],
            algorithm=state["algorithm"],
            classes=tuple(state["classes"]),
        )

    @property
    def contract(self) -> tuple[Feature, ...]:
        return tuple(f for f in FEATURES if f.wire_name in self.features)

    def frame(self, data: pd.DataFrame | Sequence[Mapping[str, Any]] | Dataset) -> pd.DataFrame:
        """The model's input frame: exactly its features, in order, with the contract's dtypes."""
        if isinstance(data, Dataset):
            data = data.to_pandas(with_label=False)
        if not isinstance(data, pd.DataFrame):
            data = records_to_frame(data, self.contract)
        missing = [name for name in self.features if name not in data.columns]
        if missing:
            raise ValueError(f"the model needs the features {', '.join(missing)}, which the data lacks")
        return data[list(self.features)]

    def predict_proba(self, data: pd.DataFrame | Sequence[Mapping[str, Any]] | Dataset) -> np.ndarray[Any, Any]:
        """``[[P(no), P(yes)], ...]`` in row order."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the learners' own deprecation chatter (see run_automl)
            members = [(m.weight, m.estimator) for m in self.members]
            p_yes = pyfunc_module().positive_probability(self.task, self.transformer, members, self.frame(data))
        return np.column_stack([1.0 - p_yes, p_yes])

    def predict(self, data: pd.DataFrame | Sequence[Mapping[str, Any]] | Dataset) -> list[str]:
        """Labels ``"no"``/``"yes"`` at the 0.5 threshold, as Azure's predict answers."""
        p_yes = self.predict_proba(data)[:, 1]
        threshold = pyfunc_module().THRESHOLD
        return [self.classes[1] if p >= threshold else self.classes[0] for p in p_yes]


def records_to_frame(records: Sequence[Mapping[str, Any]], contract: tuple[Feature, ...] = FEATURES) -> pd.DataFrame:
    """Records keyed by wire or Python name to a frame with the contract's dtypes (records are not checked here)."""
    from bankscore.data._dataset import contract_frame_columns

    columns = {
        feat.wire_name: [r[feat.wire_name] if feat.wire_name in r else r[feat.python_name] for r in records]
        for feat in contract
    }
    return pd.DataFrame(contract_frame_columns(contract, columns))
