"""The bookkeeping of one ``predict_many`` run, shared by ``Client`` and ``AsyncClient``.

Which records each batch covers, which record got which answer, which batch failed and why, and when a
failure means that no further batch should be sent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Final

from bankscore._exceptions import (
    AuthenticationError,
    BankscoreError,
    NotFoundError,
    PartialResultError,
    PayloadTooLargeError,
    PermissionDeniedError,
)
from bankscore._progress import ProgressCallback
from bankscore._results import Prediction, RecordFailure, ScoreResult

__all__ = ["Run", "batches", "outcome"]

# A batch failing with these fails every batch the same way (wrong key, wrong URI, too big): stop sending.
_STOPS_THE_RUN: Final = (AuthenticationError, PermissionDeniedError, NotFoundError, PayloadTooLargeError)


def batches(total: int, batch_size: int) -> list[tuple[int, int]]:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    return [(start, min(start + batch_size, total)) for start in range(0, total, batch_size)]


class Run:
    """One ``predict_many`` run: a slot per record, failures per batch, and whether to stop sending.

    Thread-safe, and frozen once finished: an answer that arrives after an interruption is dropped rather than
    changing a result the caller already holds.
    """

    def __init__(self, total: int, progress: ProgressCallback | None) -> None:
        self.predictions: list[Prediction | None] = [None] * total
        self.failures: list[RecordFailure] = []
        self.stopped_by: BankscoreError | None = None
        self._progress = progress
        self._done = 0
        self._finished = False
        self._lock = threading.Lock()

    def should_send(self, start: int, stop: int) -> bool:
        with self._lock:
            if self.stopped_by is None:
                return True
            self._fail(start, stop, f"not sent: an earlier batch failed with {self.stopped_by}", None)
            return False

    def succeeded(self, start: int, predictions: list[Prediction]) -> None:
        with self._lock:
            if self._finished:
                return
            self.predictions[start : start + len(predictions)] = predictions
            self._done += len(predictions)
            done = self._done
        if self._progress is not None:
            self._progress(done, len(self.predictions))

    def failed(self, start: int, stop: int, error: BankscoreError, *, stops_run: bool = True) -> None:
        """``stops_run=False``: the failure is this batch's own (a record too large to send), not the endpoint's."""
        with self._lock:
            self._fail(start, stop, str(error), error)
            if stops_run and isinstance(error, _STOPS_THE_RUN) and self.stopped_by is None:
                self.stopped_by = error

    def _fail(self, start: int, stop: int, reason: str, error: BaseException | None) -> None:
        if not self._finished:
            self.failures.append(RecordFailure(start, stop, reason, error))

    def finish(self, *, interrupted: bool = False) -> ScoreResult:
        with self._lock:
            if interrupted:
                covered = {i for f in self.failures for i in f.indices}
                for start, stop in _runs(i for i, p in enumerate(self.predictions) if p is None and i not in covered):
                    self.failures.append(RecordFailure(start, stop, "interrupted before it was scored"))
            self._finished = True
            failures = sorted(self.failures, key=lambda f: f.start)
            return ScoreResult(list(self.predictions), failures, interrupted=interrupted)


def outcome(result: ScoreResult, *, raise_on_error: bool) -> ScoreResult:
    """``result``, or the error that describes what it misses."""
    if result.ok or not raise_on_error:
        return result
    errors = [f.error for f in result.failures if isinstance(f.error, BankscoreError)]
    if result.scored_count == 0 and errors:
        raise errors[0]  # nothing was scored: the cause itself (a wrong key is an AuthenticationError)
    raise PartialResultError(result)


def _runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for i in indices:
        if spans and spans[-1][1] == i:
            spans[-1] = (spans[-1][0], i + 1)
        else:
            spans.append((i, i + 1))
    return spans
