"""The pipeline's parameters: one frozen dataclass, checked when it is built.

REST ParameterAssignments and ``bankscore pipeline run``'s options use the field names. Every refusal is a
``PipelineParameterError`` naming the parameter and the value.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from bankscore._exceptions import BankscoreError
from bankscore._facts import FIRST_UNPRIVILEGED_PORT

__all__ = ["GENERATIONS", "ROLLOUTS", "PipelineParameterError", "PipelineParameters"]

GENERATIONS = ("A", "B", "C", "D")
# replace: the running deployment is replaced (zero downtime). blue-green: the new model goes to the endpoint's
# idle deployment with no traffic, is compared with the live one, and takes the traffic only if every gate passes.
ROLLOUTS = ("replace", "blue-green")


class PipelineParameterError(BankscoreError, ValueError):
    """A pipeline parameter with an unknown name or a value it cannot take; the message names both."""

    def __init__(self, message: str, *, name: str | None = None, why: str = "") -> None:
        self.name = name
        self.why = why
        super().__init__(message)


def _bad(name: str, value: object, why: str) -> PipelineParameterError:
    return PipelineParameterError(f"pipeline parameter {name}={value!r}: {why}", name=name, why=why)


@dataclasses.dataclass(frozen=True)
class PipelineParameters:
    """Everything a run can be told; REST ParameterAssignments use these names."""

    experiment: str = "bank-marketing"
    dataset: str | None = None  # CSV path; None = the shipped training data
    time_budget_s: float = 60.0
    exclude: tuple[str, ...] = ()  # features to leave out, e.g. ("duration",)
    deployment: str = "bank-marketing"  # the local endpoint (`bankscore deploy local --name`'s default)
    port: int | None = None  # None: the running deployment's port, else 5001
    generation: str = "C"
    workers: int = 1
    seed: int = 0
    rollout: str = "replace"
    # blue-green only: the records compared (shipped labelled rows, picked with ``seed``) and the gates.
    compare_sample: int = 2000
    max_disagreement: float = 0.05  # share of records the two models label differently
    max_auc_drop: float = 0.01  # AUC(live) - AUC(new) on the labelled sample
    max_latency_ratio: float = 2.0  # p90 latency new / live, per batch, both measured through the endpoint

    def __post_init__(self) -> None:
        from bankscore.features import FEATURE_NAMES

        if not self.experiment.strip():
            raise _bad("experiment", self.experiment, "must not be empty")
        if not self.deployment.strip() or "/" in self.deployment or self.deployment.startswith("."):
            raise _bad("deployment", self.deployment, "must be a plain name (no '/', not starting with '.')")
        if not math.isfinite(self.time_budget_s) or self.time_budget_s <= 0:
            raise _bad("time_budget_s", self.time_budget_s, "must be a positive number of seconds")
        unknown = [name for name in self.exclude if name not in FEATURE_NAMES]
        if unknown:
            raise _bad("exclude", ",".join(self.exclude), f"{', '.join(unknown)} is not a Bank Marketing feature")
        # A caller of a published pipeline cannot move a deployment onto a system service's port: a port below
        # 1024 is for `bankscore deploy local --allow-privileged-port`, a decision made at the machine.
        if self.port is not None and not FIRST_UNPRIVILEGED_PORT <= self.port <= 65535:
            raise _bad(
                "port",
                self.port,
                f"must be between {FIRST_UNPRIVILEGED_PORT} and 65535 (a port below {FIRST_UNPRIVILEGED_PORT} "
                "is a system service's)",
            )
        if self.generation not in GENERATIONS:
            raise _bad("generation", self.generation, f"must be one of {', '.join(GENERATIONS)}")
        if self.workers < 1:
            raise _bad("workers", self.workers, "must be at least 1")
        if self.rollout not in ROLLOUTS:
            raise _bad("rollout", self.rollout, f"must be one of {', '.join(ROLLOUTS)}")
        if self.compare_sample < 1:
            raise _bad("compare_sample", self.compare_sample, "must be at least 1 record")
        for name in ("max_disagreement", "max_auc_drop"):
            value = getattr(self, name)
            if not math.isfinite(value) or not 0 <= value <= 1:
                raise _bad(name, value, "must be a number from 0 to 1")
        if not math.isfinite(self.max_latency_ratio) or self.max_latency_ratio <= 0:
            raise _bad("max_latency_ratio", self.max_latency_ratio, "must be a positive number")

    @classmethod
    def from_assignments(cls, assignments: Mapping[str, object]) -> PipelineParameters:
        """Parameters from Azure-style ParameterAssignments: names as the fields, values usually strings.

        ``exclude`` takes ``"duration,age"`` or a list; ``dataset`` and ``port`` take ``""`` for none.
        Raises ``PipelineParameterError`` naming the unknown parameter or the bad value.
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, value in assignments.items():
            if name not in fields:
                raise PipelineParameterError(
                    f"unknown pipeline parameter {name!r}; the parameters are {', '.join(sorted(fields))}"
                )
            values[name] = _parse(name, value)
        try:
            return cls(**values)
        except PipelineParameterError as exc:  # name the value as it was sent ("-5"), not as parsed (-5.0)
            if exc.name is None or exc.name not in assignments:
                raise
            raise _bad(exc.name, assignments[exc.name], exc.why) from None


_FLOATS = ("time_budget_s", "max_disagreement", "max_auc_drop", "max_latency_ratio")


def _parse(name: str, value: object) -> object:
    """One assignment as its field's type."""
    if name in ("experiment", "deployment", "generation", "rollout"):
        if not isinstance(value, str):
            raise _bad(name, value, "must be a string")
        return value.strip()
    if name == "dataset":
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise _bad(name, value, "must be a CSV path")
        return value
    if name == "exclude":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise _bad(name, value, "must be feature names, comma-separated or as a list")
        return tuple(i.strip() for i in items if i.strip())
    if name == "port" and (value is None or (isinstance(value, str) and not value.strip())):
        return None
    number = _number(name, value)
    if name in _FLOATS:
        return number
    if not number.is_integer():
        raise _bad(name, value, "must be a whole number")
    return int(number)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad(name, value, "must be a number")
    try:
        number = float(value)
    except ValueError:
        raise _bad(name, value, "must be a number") from None
    if not math.isfinite(number):
        raise _bad(name, value, "must be a finite number")
    return number
