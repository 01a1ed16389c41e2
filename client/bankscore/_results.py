"""What scoring returns: one ``Prediction`` per record, and a ``ScoreResult`` that loses no record.

A ``ScoreResult`` has a slot per input record, in input order: the prediction, or ``None`` with a
``RecordFailure`` that says why the record was not scored (retries ran out, the server refused the batch, the
run was interrupted).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

__all__ = ["Prediction", "RecordFailure", "ScoreResult"]


@dataclass(frozen=True, slots=True)
class Prediction:
    """The endpoint's answer for one record: the label (``"no"``/``"yes"``) and P(yes) when it can give one."""

    label: str
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """Records ``start`` to ``stop - 1`` (one batch) were not scored, and why."""

    start: int
    stop: int
    reason: str
    error: BaseException | None = field(default=None, compare=False, repr=False)

    @property
    def indices(self) -> range:
        return range(self.start, self.stop)

    def __str__(self) -> str:
        which = f"record {self.start}" if self.stop - self.start == 1 else f"records {self.start}-{self.stop - 1}"
        return f"{which}: {self.reason}"


@dataclass(eq=False)
class ScoreResult(Sequence[Prediction | None]):
    """Predictions in input order (``None`` where a record was not scored) and the failures that explain them."""

    predictions: list[Prediction | None]
    failures: list[RecordFailure] = field(default_factory=list)
    interrupted: bool = False

    @overload
    def __getitem__(self, index: int) -> Prediction | None: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Prediction | None]: ...
    def __getitem__(self, index: int | slice) -> Prediction | Sequence[Prediction | None] | None:
        return self.predictions[index]

    def __len__(self) -> int:
        return len(self.predictions)

    def __iter__(self) -> Iterator[Prediction | None]:
        return iter(self.predictions)

    @property
    def ok(self) -> bool:
        """Every record was scored."""
        return not self.failures and all(p is not None for p in self.predictions)

    @property
    def scored_count(self) -> int:
        return sum(p is not None for p in self.predictions)

    @property
    def labels(self) -> list[str | None]:
        return [p.label if p is not None else None for p in self.predictions]

    @property
    def probabilities(self) -> list[float | None]:
        return [p.probability if p is not None else None for p in self.predictions]

    def failed_indices(self) -> list[int]:
        return [i for failure in self.failures for i in failure.indices]

    def describe_failures(self) -> str:
        total = len(self.predictions)
        missing = total - self.scored_count
        what = "interrupted: " if self.interrupted else ""
        lines = [f"{what}{missing} of {total} records were not scored ({self.scored_count} were):"]
        lines.extend(f"  - {failure}" for failure in self.failures[:10])
        if len(self.failures) > 10:
            lines.append(f"  ... and {len(self.failures) - 10} more failed batches")
        return "\n".join(lines)
