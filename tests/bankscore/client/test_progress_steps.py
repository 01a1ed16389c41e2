"""The steps of a long operation on stderr: each named when it starts, a long one timed, none left silent."""

from __future__ import annotations

import io
import threading

from bankscore._progress import StderrSteps


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty
        self.wrote = threading.Condition()

    def isatty(self) -> bool:
        return self._tty

    def write(self, text: str) -> int:
        with self.wrote:
            written = super().write(text)
            self.wrote.notify_all()
        return written

    def wait_for(self, text: str) -> bool:
        with self.wrote:
            return self.wrote.wait_for(lambda: text in self.getvalue(), timeout=10)


def test_steps_are_named_at_once_and_quick_ones_stay_one_line() -> None:
    stream = _Stream(tty=False)
    with StderrSteps(stream, quiet_for=60) as steps:
        steps("loading the model")
        steps("writing the folder")
    assert stream.getvalue() == "  loading the model ...\n  writing the folder ...\n"


def test_a_long_step_reports_while_it_runs_and_when_it_ends() -> None:
    stream = _Stream(tty=False)
    steps = StderrSteps(stream, quiet_for=0, heartbeat=0.01)
    steps("waiting for the server")
    assert stream.wait_for("  waiting for the server: still going after")
    steps.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "  waiting for the server ..."
    assert lines[-1].startswith("  waiting for the server: done in ") and lines[-1].endswith(" s")
    ticker = steps._thread
    assert ticker is not None and not ticker.is_alive()  # closed: nothing writes after the last line


def test_on_a_terminal_each_step_ends_on_its_own_line_with_its_time() -> None:
    stream = _Stream(tty=True)
    with StderrSteps(stream, quiet_for=60) as steps:
        steps("building")
        steps("starting")
    text = stream.getvalue()
    assert text.startswith("  building ...\r  building ... ") and "\n  starting ...\r  starting ... " in text
    assert text.endswith(" s\n")
