"""Progress of a long ``predict_many``: a callable ``(done, total)``, or a line on stderr when asked with True."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressCallback", "StderrProgress", "make_progress"]

ProgressCallback = Callable[[int, int], None]


class StderrProgress:
    """``scored 1,200 / 32,950 records`` rewritten in place, at most ten times a second, and once at the end."""

    def __init__(self, stream: TextIO | None = None, interval: float = 0.1) -> None:
        self._stream = stream or sys.stderr
        self._interval = interval
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < self._interval:
            return
        self._last = now
        end = "\n" if done >= total else ""
        self._stream.write(f"\rscored {done:,} / {total:,} records{end}")
        self._stream.flush()


def make_progress(progress: bool | ProgressCallback) -> ProgressCallback | None:
    if progress is True:
        return StderrProgress()
    if progress is False:
        return None
    return progress
