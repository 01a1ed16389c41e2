"""The ``bankscore-bench`` command line: ab's flags in, ab's report out, then what ab cannot tell you.

stdout carries exactly what ab prints (banner, "Benchmarking ...", the report), then, unless ``--ab-strict``,
the "bankscore-bench summary" block (exact percentiles, records/s, the open-loop corrected view, thresholds).
stderr carries ab's progress lines and our warnings. Files: ``-e`` / ``-g`` as ab writes them, ``--json``,
``--csv PREFIX`` (``PREFIX_requests.csv``, ``PREFIX_timeline.csv``, ``PREFIX_sweep.csv``), ``--html``.

Exit codes: 0 done; 1 the run could not start, no request got a response or a local worker was lost (the report
covers what ran); 22 a usage error (ab's);
99 a ``--threshold`` / ``--slo`` failed (k6's); 130 interrupted by Ctrl-C (the partial report is still written).
The argument parsing is getopt's grammar, as ab's is, so this is not a click command.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from bankscore._version import __version__
from bankscore_bench._abargs import parse_ab_args
from bankscore_bench._aboptions import AbOptions, AbUsageError, format_usage
from bankscore_bench._completion import COMPLETE_VARIABLE, SHELLS, completion_script

if TYPE_CHECKING:
    from collections.abc import Callable

    from bankscore_bench._plan import BenchTarget
    from bankscore_bench._samples import RunInfo, SampleLog
    from bankscore_bench._sweep import SweepPoint, SweepResult, SweepSpec
    from bankscore_bench._thresholds import Threshold, ThresholdResult
    from bankscore_bench.engine import LoadPlan

__all__ = ["BENCH_EXTRA_HINT", "main", "run_cli"]

PROG: Final = "bankscore-bench"
BENCH_EXTRA_HINT: Final = "bankscore-bench needs Locust: pip install 'bankscore[bench]'"
EXIT_FAILED: Final = 1
EXIT_INTERRUPTED: Final = 130


def main(argv: Sequence[str] | None = None) -> None:
    completion = os.environ.get(COMPLETE_VARIABLE)
    if completion is not None:
        raise SystemExit(_print_completion(completion))
    raise SystemExit(run_cli(sys.argv[1:] if argv is None else argv))


def _print_completion(request: str) -> int:
    """``_BANKSCORE_BENCH_COMPLETE=bash_source`` (or zsh_source, fish_source): print the completion script."""
    shell = request.removesuffix("_source")
    if shell not in SHELLS:
        choices = ", ".join(f"{name}_source" for name in SHELLS)
        sys.stderr.write(f"{PROG}: {COMPLETE_VARIABLE}={request!r}: choose {choices}\n")
        return 2
    sys.stdout.write(completion_script(shell))
    return 0


def run_cli(argv: Sequence[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        options = parse_ab_args(argv, prog=PROG)
    except AbUsageError as exc:
        err.write(f"{exc.message}\n{exc.usage}")
        return exc.exit_code
    if options.show_help:
        out.write(format_usage(PROG))
        return 0
    if options.show_version:
        out.write(f"{PROG} {__version__}: ab's command line and report, on Locust\n")
        return 0
    if options.show_locustfile:  # for `locust -f "$(bankscore-bench --locustfile)"`
        out.write(f"{Path(__file__).parent / 'locustfiles' / 'bank_marketing.py'}\n")
        return 0
    if importlib.util.find_spec("locust") is None or importlib.util.find_spec("numpy") is None:
        err.write(f"{PROG}: {BENCH_EXTRA_HINT}\n")
        return EXIT_FAILED
    return _Run(options, out, err).execute()


class _Run:
    """One invocation: resolve the target, run once or sweep, print and write the reports."""

    def __init__(self, options: AbOptions, out: TextIO, err: TextIO) -> None:
        self.options = options
        self.out = out
        self.err = err

    def fail(self, message: str) -> int:
        self.err.write(f"{PROG}: {message}\n")
        return EXIT_FAILED

    def execute(self) -> int:
        from bankscore._exceptions import BankscoreError
        from bankscore_bench._plan import PlanError, build_plan, resolve_target
        from bankscore_bench._sweep import SweepError, parse_sweep
        from bankscore_bench._thresholds import ThresholdError, parse_thresholds, with_run_checks

        options = self.options
        unwritable = _unwritable_output(options)
        if unwritable is not None:  # before the run, so a typo in a path does not waste it
            return self.fail(unwritable)
        try:
            # Any threshold brings the checks no failed run may pass: some request succeeded, errors limited.
            thresholds = with_run_checks(parse_thresholds(list(options.thresholds)))
            slo = parse_thresholds(options.slo) if options.slo else []
            sweep = parse_sweep(options.sweep) if options.sweep else None
            target = resolve_target(options)
            plan, described = build_plan(options, target)
        except (PlanError, ThresholdError, SweepError, BankscoreError) as exc:
            return self.fail(str(exc))
        if options.worker:
            return self.worker(plan)
        if sweep is not None:
            return self.sweep(plan, sweep, slo + thresholds, target, described)
        return self.once(plan, thresholds + slo, target, described)

    # -------------------------------------------------------------------------------------------- one run

    def once(self, plan: LoadPlan, thresholds: list[Threshold], target: BenchTarget, described: str) -> int:
        from bankscore_bench._aboptions import parse_ab_url
        from bankscore_bench._abreport import (
            AbReportSettings,
            banner,
            benchmarking_line,
            done_line,
            finished_line,
            format_csv,
            format_gnuplot,
            format_report,
            progress_line,
        )

        options = self.options
        settings = AbReportSettings.from_options(options)
        if plan.accept_variable_length:  # generated records: "Document Length: Variable", as with -l
            settings = dataclasses.replace(settings, variable_length=True)
        host = parse_ab_url(target.url, prog=PROG).host
        # What is sent goes first, so on a terminal it does not land inside ab's "(be patient)..." line.
        self.err.write(f"{PROG}: {described}; {_load_words(options)}\n")
        self.err.flush()
        self.out.write(banner() + benchmarking_line(host, settings))  # banner() ends with ab's blank line
        self.out.flush()

        def on_progress(done: int) -> None:
            line = progress_line(done, settings.heartbeat)
            if line:
                self.err.write(line)
                self.err.flush()

        try:
            info, log = self.run_engine(plan, on_progress)
        except (ValueError, OSError) as exc:
            self.out.write("\n")
            return self.fail(str(exc))
        finished = finished_line(len(log), settings.heartbeat)
        if finished:
            self.err.write(finished)
        self.out.write(done_line(settings))
        self.out.write(format_report(info, log, settings))
        try:
            for path, text in ((options.csv_file, format_csv(log)), (options.gnuplot_file, format_gnuplot(log))):
                if path is not None and text is not None:
                    Path(path).write_text(text)
            results = self.reports(info, log, thresholds, sweep=None)
        except OSError as exc:  # checked before the run; this is the disk filling up or a folder vanishing
            return self.fail(f"cannot write {exc.filename}: {exc.strerror}")
        return self.exit_code(info, log, results)

    def run_engine(self, plan: LoadPlan, on_progress: Callable[[int], None] | None) -> tuple[RunInfo, SampleLog]:
        from bankscore_bench.engine import run_load

        options = self.options
        if options.master:
            from bankscore_bench.engine import run_master

            expected = options.expect_workers or options.workers or 1
            # The master listens on --master-host (loopback unless told otherwise, e.g. 0.0.0.0 across machines).
            self.err.write(
                f"{PROG}: master waiting for {expected} worker(s) on {options.master_host}:{options.master_port}\n"
            )
            return run_master(
                plan, expected, bind_host=options.master_host, bind_port=options.master_port, on_progress=on_progress
            )
        if options.workers is not None and options.workers > 1:
            from bankscore_bench.engine import run_local_workers

            return run_local_workers(plan, options.workers, on_progress=on_progress)
        return run_load(plan, on_progress=on_progress)

    def reports(
        self, info: RunInfo, log: SampleLog, thresholds: list[Threshold], sweep: SweepResult | None
    ) -> list[ThresholdResult]:
        """The summary block, the timeline and the JSON/CSV/HTML files; returns the thresholds' results."""
        from bankscore_bench._html import report_html
        from bankscore_bench._outputs import (
            GENERATOR_CPU_WARNING_PERCENT,
            render_summary_text,
            render_timeline_text,
            report_dict,
            write_csv_files,
            write_json,
        )
        from bankscore_bench._stats import summarize, timeline
        from bankscore_bench._thresholds import evaluate, required_percentiles

        options = self.options
        if options.model_deployment is not None:  # which deployment of the endpoint answered (JSON, HTML)
            info.extra.setdefault("model_deployment", options.model_deployment)
        summary = summarize(info, log, extra_percentiles=required_percentiles(thresholds))
        results = evaluate(thresholds, summary)
        seconds = timeline(info, log)
        if not options.ab_strict:
            self.out.write("\n" + render_summary_text(summary, thresholds=results))
        if options.timeline:
            self.out.write("\n" + render_timeline_text(seconds))
        cpu = info.generator_cpu_percent
        if cpu is not None and cpu >= GENERATOR_CPU_WARNING_PERCENT:
            self.err.write(
                f"{PROG}: WARNING: the load generator used {cpu:.0f}% of a core: it may be the bottleneck, "
                "not the endpoint (add --workers, or run the generator on another machine)\n"
            )
        if options.json_file:
            write_json(
                Path(options.json_file), report_dict(info, summary, timeline=seconds, thresholds=results, sweep=sweep)
            )
        if options.csv_prefix:
            write_csv_files(options.csv_prefix, log, seconds, sweep)
        if options.html_file:
            html = report_html(info, log, summary, timeline=seconds, thresholds=results, sweep=sweep)
            Path(options.html_file).write_text(html, encoding="utf-8")
        return results

    def exit_code(self, info: RunInfo, log: SampleLog, results: list[ThresholdResult]) -> int:
        from bankscore_bench._samples import Failure
        from bankscore_bench._thresholds import THRESHOLDS_FAILED_EXIT_CODE, failure_reasons

        if info.interrupted and info.extra.get("stopped_by") == "ctrl-c":
            return EXIT_INTERRUPTED
        if info.extra.get("stopped_by") == "lost worker":  # fewer than -n sent, and not by the user's choice
            return self.fail(f"the run ended early: {info.extra['warning']} (the report covers what ran)")
        if len(log) and all(code in (Failure.CONNECT, Failure.RECEIVE, Failure.EXCEPTION) for code in log.failure):
            return self.fail(f"no request to {info.url} got a response (see Failed requests above)")
        if results and not all(r.passed for r in results):
            for reason in failure_reasons(results):
                self.err.write(f"{PROG}: threshold failed: {reason}\n")
            return THRESHOLDS_FAILED_EXIT_CODE
        return 0

    def worker(self, plan: LoadPlan) -> int:
        """``--worker``: run the shares a master hands out until it quits; the master prints the report."""
        from bankscore_bench.engine import run_worker

        options = self.options
        self.err.write(f"{PROG}: worker connecting to the master at {options.master_host}:{options.master_port}\n")
        try:
            run_worker(plan, options.master_host, options.master_port)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        return 0

    # ---------------------------------------------------------------------------------------------- sweep

    def sweep(self, plan: LoadPlan, spec: SweepSpec, slo: list[Threshold], target: BenchTarget, described: str) -> int:
        from bankscore_bench._outputs import render_sweep_point, render_sweep_text
        from bankscore_bench._sweep import SweepError, run_sweep
        from bankscore_bench._thresholds import THRESHOLDS_FAILED_EXIT_CODE

        self.err.write(f"{PROG}: sweep {spec.text} against {target.url}: {described}\n")
        last: list[tuple[RunInfo, SampleLog]] = []

        def run_level(level: float) -> tuple[RunInfo, SampleLog]:
            if spec.dimension == "concurrency":
                users = int(level)
                shaped = dataclasses.replace(plan, concurrency=users, requests=max(plan.requests, users), rate=None)
            else:
                shaped = dataclasses.replace(plan, rate=float(level), concurrency=None)
            result = self.run_engine(shaped, None)
            last[:] = [result]
            return result

        def on_point(point: SweepPoint) -> None:
            self.err.write(render_sweep_point(point, spec.dimension) + "\n")
            self.err.flush()

        try:
            result = run_sweep(spec, run_level, slo, on_point=on_point)
        except SweepError as exc:
            return self.fail(str(exc))
        self.out.write(render_sweep_text(result))
        if last:
            info, log = last[0]
            if result.points and not self.options.ab_strict:
                level = result.points[-1].level
                self.out.write(f"\nThe summary below is the sweep's last run ({spec.dimension} {level:g}).\n")
            try:
                self.reports(info, log, [], sweep=result)
            except OSError as exc:
                return self.fail(f"cannot write {exc.filename}: {exc.strerror}")
        if slo and result.best is None:
            self.err.write(f"{PROG}: no level of the sweep met the SLO\n")
            return THRESHOLDS_FAILED_EXIT_CODE
        return 0


def _unwritable_output(options: AbOptions) -> str | None:
    """A message naming the first output option whose file cannot be written, else None."""
    import os

    outputs = [
        ("-e", options.csv_file, ""),
        ("-g", options.gnuplot_file, ""),
        ("--json", options.json_file, ""),
        ("--html", options.html_file, ""),
        ("--csv", options.csv_prefix, "_requests.csv"),  # a prefix: its files are PREFIX_requests.csv, ...
    ]
    for flag, given, suffix in outputs:
        if not given:
            continue
        path = Path(given + suffix)
        folder = path.parent
        if not folder.is_dir():
            return f"{flag} {given!r}: the folder {str(folder)!r} does not exist"
        if path.is_dir():
            return f"{flag} {given!r}: is a folder, not a file"
        if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            return f"{flag} {given!r}: not writable"
    return None


def _load_words(options: AbOptions) -> str:
    if options.rate is not None:
        return f"open loop at {options.rate:g} requests/s ({options.arrivals} arrivals)"
    bound = f"{options.requests} requests"
    if options.time_limit_s is not None:
        bound += f" or {options.time_limit_s:g} s"
    return f"{options.concurrency} concurrent, {bound}{', keep-alive' if options.keepalive else ''}"
