"""How the long-running commands (a publisher, a Swagger UI server) take being stopped."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

__all__ = ["sigterm_as_interrupt"]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """`kill` (SIGTERM: a service manager, a CI step's cleanup) stops the command as cleanly as Ctrl-C does.

    Also the only way to stop it cleanly when it was started with SIGINT ignored (a shell's background job).
    """

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
