"""Which failures are retried, and how long to wait: tenacity, honouring ``Retry-After``.

Retried: connection errors, timeouts, 408, 429 and 5xx (openai-python's set, less 409 which a scoring
endpoint never sends). Never another 4xx, nor a ``ModelError`` (a managed endpoint's 424): the same body
would be refused again. The wait is the server's
``Retry-After`` (seconds or an HTTP date, capped) when it sent one, else exponential backoff with jitter.
A retried request carries the same batch, and only a successful attempt's answer is kept, so a batch is
never scored twice into a result.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

import tenacity

from bankscore._exceptions import APIConnectionError, APIStatusError, ModelError

__all__ = ["RETRY_STATUSES", "RetryPolicy", "is_retryable", "parse_retry_after"]

RETRY_STATUSES: Final = frozenset({408, 429})  # and every 5xx
logger = logging.getLogger("bankscore")


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, APIConnectionError):  # APITimeoutError included
        return True
    if isinstance(exc, ModelError):  # the container failed on this body: it would fail on it again
        return False
    return isinstance(exc, APIStatusError) and (exc.status in RETRY_STATUSES or exc.status >= 500)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: ``"3"``, ``"1.5"`` or an HTTP date; None if unusable."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


async def _async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _call_sleep(seconds: float) -> None:
    _sleep(seconds)


async def _call_async_sleep(seconds: float) -> None:
    await _async_sleep(seconds)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """At most ``max_retries`` retries after the first attempt; waits ``backoff * 2**n`` plus up to ``jitter``
    seconds, capped at ``max_backoff``, or the server's ``Retry-After`` capped at ``max_retry_after``."""

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")

    def wait_seconds(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, APIStatusError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_after)
        backoff = tenacity.wait_exponential_jitter(multiplier=self.backoff, max=self.max_backoff, jitter=self.jitter)
        return float(backoff(state))

    def _common(self) -> dict[str, object]:
        return {
            "stop": tenacity.stop_after_attempt(self.max_retries + 1),
            "retry": tenacity.retry_if_exception(is_retryable),
            "wait": self.wait_seconds,
            "before_sleep": _log_retry,
            "reraise": True,  # the last attempt's own error, not tenacity's RetryError
        }

    def retrying(self, sleep: Callable[[float], None] | None = None) -> tenacity.Retrying:
        # Looked up at call time (not bound here), so tests can replace the module's sleep functions.
        return tenacity.Retrying(sleep=sleep or _call_sleep, **self._common())  # type: ignore[arg-type]

    def async_retrying(self) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(sleep=_call_async_sleep, **self._common())  # type: ignore[arg-type]


def _log_retry(state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    # The error's text, never the request: it holds no key (messages are scrubbed where they are made).
    logger.warning("attempt %d failed (%s); retrying in %.2f s", state.attempt_number, exc, wait)
