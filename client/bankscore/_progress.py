"""Progress of a long ``predict_many`` (a callable ``(done, total)``, or a line on stderr when asked with True),
and of the named steps of a long operation such as a deployment (``StderrSteps``)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressCallback", "StderrProgress", "StderrSteps", "StepCallback", "make_progress"]

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


StepCallback = Callable[[str], None]


class StderrSteps:
    """The steps of a long operation on stderr, so that no step runs in silence.

    Calling it with a step's name ends the step before (with its time, when it took over ``quiet_for`` seconds)
    and starts the next. A step that runs past ``quiet_for`` seconds shows its elapsed time: rewritten in place
    every second on a terminal, else one line every ``heartbeat`` seconds (logs stay short). ``close()`` (or
    leaving the ``with`` block) ends the last step.
    """

    def __init__(self, stream: TextIO | None = None, *, quiet_for: float = 2.0, heartbeat: float = 10.0) -> None:
        self._stream = stream or sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._quiet_for = quiet_for
        self._heartbeat = heartbeat
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._step: str | None = None
        self._started = 0.0
        self._thread: threading.Thread | None = None

    def __call__(self, step: str) -> None:
        with self._lock:
            self._end_step()
            self._step, self._started = step, time.monotonic()
            self._write(f"  {step} ..." + ("" if self._tty else "\n"))
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, name="bankscore-steps", daemon=True)
            self._thread.start()

    def close(self) -> None:
        with self._lock:
            self._end_step()
            self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> StderrSteps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def _end_step(self) -> None:  # with the lock held
        if self._step is None:
            return
        took = time.monotonic() - self._started
        if self._tty:
            self._write(f"\r  {self._step} ... {took:.1f} s\n")
        elif took > self._quiet_for:
            self._write(f"  {self._step}: done in {took:.1f} s\n")
        self._step = None

    def _tick(self) -> None:
        interval = 1.0 if self._tty else self._heartbeat
        while not self._wake.wait(interval):
            with self._lock:
                if self._closed:
                    return
                took = time.monotonic() - self._started
                if self._step is None or took <= self._quiet_for:
                    continue
                if self._tty:
                    self._write(f"\r  {self._step} ... {took:.0f} s")
                else:
                    self._write(f"  {self._step}: still going after {took:.0f} s\n")
