"""What ``bankscore.compare`` returns: a frozen tree of figures, its JSON form, and the rollout gates.

Side ``a`` is the model in service (the old one), side ``b`` the candidate: differences are ``b - a``, and an
AUC *drop* is ``auc_a - auc_b``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bankscore._compare._concentration import Hotspot

__all__ = ["CompareResult", "DeltaP", "Gate", "Latency", "Paired", "Samples", "Side"]


@dataclass(frozen=True, slots=True)
class Latency:
    """Request latency in milliseconds (nearest rank) over the ``requests`` that were answered."""

    p50: float | None
    p90: float | None
    p99: float | None
    requests: int


@dataclass(frozen=True, slots=True)
class Side:
    """One side's own figures: AUC and accuracy on the labelled records both sides scored."""

    name: str
    uri: str
    generation: str
    auc: float | None
    accuracy: float | None
    latency_ms: Latency
    errors: int  # records this side did not score
    failures: tuple[str, ...] = ()  # the first few reasons


@dataclass(frozen=True, slots=True)
class DeltaP:
    """``|p_b - p_a|`` of P(yes) over the records both sides gave a probability for."""

    n: int
    p50: float
    p90: float
    p99: float
    max: float
    over_0_05: float  # the share of records whose P(yes) moved by more than 0.05
    over_0_10: float


@dataclass(frozen=True, slots=True)
class Paired:
    """The paired tests on the labelled records: DeLong for AUC, exact McNemar for accuracy."""

    labelled: int
    auc_diff: float | None
    auc_diff_ci: tuple[float, float] | None
    auc_p: float | None
    accuracy_diff: float
    mcnemar_p: float
    right_by_a_only: int
    right_by_b_only: int


@dataclass(frozen=True, slots=True)
class Gate:
    """A rollout condition: ``value`` must not exceed ``limit``; ``value`` is ``None`` when it could not be
    measured (then the gate fails, and ``detail`` says why)."""

    name: str
    limit: float
    value: float | None
    passed: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Samples:
    """The per-record arrays behind the figures (NaN where a side gave no probability), for the plots."""

    p_a: npt.NDArray[np.float64]
    p_b: npt.NDArray[np.float64]
    latency_a_ms: npt.NDArray[np.float64]
    latency_b_ms: npt.NDArray[np.float64]


@dataclass(frozen=True)
class CompareResult:
    """The comparison of two models on the same records (``n``: the records both sides scored)."""

    records: int
    n: int
    agreement: float | None
    agreement_ci: tuple[float, float]
    crosstab: dict[str, dict[str, int]]  # label_a -> label_b -> count
    delta_p: DeltaP | None
    a: Side
    b: Side
    paired: Paired | None
    hotspots: tuple[Hotspot, ...]
    gates: tuple[Gate, ...] = ()
    interrupted: bool = False
    samples: Samples | None = field(default=None, repr=False, compare=False)

    @property
    def sides(self) -> dict[str, Side]:
        return {"a": self.a, "b": self.b}

    @property
    def passed(self) -> bool:
        """Every gate passed (true when no gate was set)."""
        return all(g.passed for g in self.gates)

    @property
    def failed_gates(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``bankscore compare --json``): plain numbers, ``null`` where nothing was measured."""
        return {
            "records": self.records,
            "n": self.n,
            "agreement": _num(self.agreement),
            "agreement_ci": [_num(v) for v in self.agreement_ci],
            "crosstab": self.crosstab,
            "delta_p": _plain(self.delta_p),
            "sides": {key: _side(side) for key, side in self.sides.items()},
            "paired": _plain(self.paired),
            "disagreement_hotspots": [
                {
                    "feature": h.feature,
                    "value": h.value,
                    "count": h.count,
                    "disagreements": h.disagreements,
                    "rate": _num(h.rate),
                }
                for h in self.hotspots
            ],
            "gates": {
                g.name: {"limit": g.limit, "value": _num(g.value), "passed": g.passed, "detail": g.detail}
                for g in self.gates
            },
            "passed": self.passed,
            "interrupted": self.interrupted,
        }


def _side(side: Side) -> dict[str, Any]:
    out = _plain(side)
    assert out is not None
    out["failures"] = list(side.failures)
    return out


def _plain(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = {}
    for name in value.__dataclass_fields__:
        item = getattr(value, name)
        if hasattr(item, "__dataclass_fields__"):
            out[name] = _plain(item)
        elif isinstance(item, tuple):
            out[name] = [_num(v) if isinstance(v, float) else v for v in item]
        else:
            out[name] = _num(item) if isinstance(item, float) else item
    return out


def _num(value: float | None) -> float | None:
    """JSON has no NaN: an unmeasured figure is ``null``."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
