"""Run a pickled ``LoadPlan`` in a process of its own: ``python -m bankscore_bench.engine._child PLAN OUT``.

Locust gevent-patches the process that imports it, so a caller that must stay unpatched (pytest, whose
other tests use real threads; a benchmark comparing tools) runs the engine here. PLAN is a pickle of
``LoadPlan`` written by the caller itself (never from the network); OUT receives a pickle of
``(RunInfo, SampleLog.to_columns())``. Each progress callback
prints ``progress N`` on stdout, so a caller can tell the run is under way (and, say, send Ctrl-C).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bankscore_bench.engine._child PLAN.pickle OUT.pickle", file=sys.stderr)
        return 2
    plan_path, out_path = (Path(arg) for arg in argv)
    plan = pickle.loads(plan_path.read_bytes())  # noqa: S301 - written by our own caller, a local file

    from bankscore_bench.engine import run_load

    def progress(done: int) -> None:
        print(f"progress {done}", flush=True)

    info, log = run_load(plan, on_progress=progress)
    out_path.write_bytes(pickle.dumps((info, log.to_columns())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
