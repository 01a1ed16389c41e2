"""The load engine: a ``LoadPlan`` run on Locust with every request recorded into a ``SampleLog``.

``run_load`` drives Locust as a library (headless ``LocalRunner``, one Locust ``User`` per concurrent request).
Locust monkey-patches the standard library with gevent when it is imported, so importing this package imports
neither: ``import bankscore_bench`` and the CLI stay clean, and only the process that calls ``run_load`` (or a
distributed runner) is patched: the CLI's own process, or a child process of its own
(``python -m bankscore_bench.engine._child``).

Inside, one way: ``_loadplan`` (the plan) <- ``_http`` (one request on the wire) <- ``_tickets`` (ab's ``-n``),
``_events`` (Locust's request events), ``_recorder`` (the sample log) <- the two cores, ``_mux`` (epoll) and
``_greenlet`` (a gevent socket per user), both shaped as ``_core.Core`` <- ``_run`` (one run's parts wired
together) <- ``_locust`` (a local Locust runner) and ``_distributed`` (Locust's master and workers).
"""

from collections.abc import Callable

from bankscore_bench._samples import RunInfo, SampleLog
from bankscore_bench.engine._distributed import run_local_workers, run_master, run_worker
from bankscore_bench.engine._loadplan import PRECISE_RATE, LoadPlan, arrival_offsets, users_for_rate

# The plan's other names (ARRIVALS, CORES, METHODS, ...) are imported from ``_loadplan``, their home.
__all__ = [
    "PRECISE_RATE",
    "LoadPlan",
    "arrival_offsets",
    "run_load",
    "run_local_workers",
    "run_master",
    "run_worker",
    "users_for_rate",
]


def run_load(plan: LoadPlan, *, on_progress: Callable[[int], None] | None = None) -> tuple[RunInfo, SampleLog]:
    """Run ``plan`` with Locust in this process and return the run's facts and every recorded request.

    Imports Locust (which gevent-patches this process). Ctrl-C, the time limit and ``max_time_s`` stop the run
    cleanly: what was recorded comes back with ``RunInfo.interrupted=True``.
    """
    from bankscore_bench.engine._locust import execute

    return execute(plan, on_progress)
