"""The inference server's health check: ``GET /`` answers ``Healthy`` once the model is loaded."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import httpx
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_fixed
from tenacity.stop import stop_base

__all__ = ["HEALTHY", "health", "wait_healthy"]

HEALTHY = "Healthy"


def health(port: int, timeout: float = 2.0, headers: dict[str, str] | None = None) -> str | None:
    """The body of ``GET /`` on 127.0.0.1:``port`` (``Healthy``), or None if nothing answers with success.

    ``headers``: the gateway's secret, for a server that only answers its gateway.
    """
    try:
        # trust_env=False: a proxy from the environment must not stand between us and 127.0.0.1.
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=timeout, trust_env=False, headers=headers)
    except httpx.HTTPError:
        return None
    return response.text if response.is_success else None


class _any_exited(stop_base):  # noqa: N801 - named like tenacity's own stop conditions
    """Stop polling once one of ``processes`` has exited: it will never answer."""

    def __init__(self, processes: Sequence[subprocess.Popen[bytes]]) -> None:
        self.processes = processes

    def __call__(self, retry_state: RetryCallState) -> bool:
        return any(p.poll() is not None for p in self.processes)


def wait_healthy(
    port: int,
    processes: Sequence[subprocess.Popen[bytes]],
    timeout: float,
    headers: dict[str, str] | None = None,
) -> bool:
    """Poll ``GET /`` until it answers ``Healthy``: False after ``timeout`` s, or as soon as a process exits."""
    retrying = Retrying(
        stop=stop_after_delay(timeout) | _any_exited(processes),
        wait=wait_fixed(0.25),
        retry=retry_if_result(lambda answer: answer != HEALTHY),
        retry_error_callback=lambda _state: None,
    )
    return retrying(health, port, timeout=1.0, headers=headers) == HEALTHY
