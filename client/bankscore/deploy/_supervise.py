"""Keep a deployment's process running: ``python -m bankscore.deploy._supervise --port N -- <command>``.

Azure restarts a scoring container whose process dies or whose liveness probe fails; this does the same for
a local deployment. The supervisor starts the server (gunicorn's master, in a process group of its own, with
the supervisor's environment and output), then watches it:

- the master exits (a crash, ``kill -9``): its orphaned workers are killed (they still hold the backend port),
  and the same command starts again on the same port, so the gateway's configuration stays right;
- ``GET /`` fails ``FAILURE_THRESHOLD`` times in a row, ``PROBE_PERIOD_S`` apart, once it has answered: a hung
  server, killed and started again the same way.

The gateway (nginx's master, ``--gateway``) is supervised the same way by a supervisor of its own: a killed
master is replaced once its orphaned worker (which keeps the public port, and the keys it had) is killed,
and the new master reads the deployment's current ``nginx.conf``. Its liveness probe is a TCP connection to
the public port (an HTTP probe would be logged as a request, and would go through to a hung server).

Every restart is logged to the server's log and counted in ``supervisor-<pid>.json`` beside ``state.json``
(``deploy status`` shows the count, the current server pid and the probes that failed in a row; for the
gateway's supervisor, ``server_pid`` is nginx's master). A server that fails before it ever answers is
not restarted: the supervisor exits with the server's code, and the deploy reports the server's log. SIGTERM
(``deploy stop``, a redeploy) stops the server gracefully, then the supervisor.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bankscore.deploy._gateway import GATEWAY_SECRET_HEADER, read_secret
from bankscore.deploy._health import HEALTHY, health
from bankscore.deploy._processes import group_members, wait_until
from bankscore.deploy._state import SupervisorStatus, status_file

__all__ = ["FAILURE_THRESHOLD", "PROBE_PERIOD_S", "SupervisorStatus", "main", "status_file"]

# As Azure's liveness probe: every 10 s, 2 s to answer. Six failures in a row (a minute) before a restart:
# a sync worker busy with a large batch misses a probe or two without being hung.
PROBE_PERIOD_S = 10.0
PROBE_TIMEOUT_S = 2.0
FAILURE_THRESHOLD = 6
MAX_BACKOFF_S = 30.0  # between restarts of a server that keeps dying soon after it starts
STOP_TIMEOUT_S = 12.0  # gunicorn's graceful stop, before its group is killed (deploy stop waits 15 s)
_WATCH_S = 0.25  # how often the master's exit is noticed

log = logging.getLogger("bankscore.supervisor")


def _write_status(path: Path, status: SupervisorStatus) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(status)) + "\n")
    partial.replace(path)  # whole, for `deploy status` reading it at any moment


def _describe(code: int | None) -> str:
    if code is None:
        return "stopped answering GET /"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _accepts(port: int) -> bool:
    """Whether 127.0.0.1:``port`` takes a TCP connection (the gateway's liveness)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


class Supervisor:
    def __init__(self, command: list[str], port: int, status_path: Path, *, gateway: bool = False) -> None:
        self.command, self.port, self.status_path, self.gateway = command, port, status_path, gateway
        secret = read_secret()  # the server's check wants it from the probe too
        self.probe_headers = {GATEWAY_SECRET_HEADER: secret} if secret else {}
        self.stopping = False
        self.answered_once = False  # by any server started here: after that, a death is a crash
        self.status = SupervisorStatus(server_pid=0)

    def _start(self) -> None:
        # Its own process group: killing it takes its workers too, never the supervisor.
        self.server = subprocess.Popen(self.command, process_group=0)  # noqa: S603 - argv from bankscore deploy
        self.status.server_pid = self.server.pid
        _write_status(self.status_path, self.status)

    def _signal_server(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.server.pid, signum)

    def _stop_requested(self) -> bool:
        return self.stopping  # a call, not the attribute: the signal handler changes it between two reads

    def stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        if hasattr(self, "server"):
            self._signal_server(signal.SIGTERM)

    def _probe(self) -> bool:
        if self.gateway:
            return _accepts(self.port)
        return health(self.port, timeout=PROBE_TIMEOUT_S, headers=self.probe_headers) == HEALTHY

    def _count_failures(self, failures: int) -> None:
        if failures != self.status.failed_probes:
            self.status.failed_probes = failures
            _write_status(self.status_path, self.status)

    def _watch(self) -> int | None:
        """Wait until the server exits (its code) or stops answering (None), or the supervisor is stopped."""
        answered, failures = False, 0
        while not self._stop_requested():
            next_probe = time.monotonic() + (PROBE_PERIOD_S if answered else 1.0)
            while time.monotonic() < next_probe and not self._stop_requested():
                code = self.server.poll()
                if code is not None:
                    return code
                time.sleep(_WATCH_S)
            if self._stop_requested():
                break
            if self._probe():
                answered, failures, self.answered_once = True, 0, True
            elif answered:
                failures += 1
            self._count_failures(failures)
            if failures >= FAILURE_THRESHOLD:
                return None
        return self.server.poll()

    def run(self) -> int:
        self._start()
        started, backoff = time.monotonic(), 0.0
        while True:
            code = self._watch()
            if self._stop_requested():
                return self._finish()
            if not self.answered_once:
                # Never healthy: a broken release, not a crash. The deploy shows the server's own log.
                self._signal_server(signal.SIGKILL)
                return code if code is not None and code > 0 else 1
            self._signal_server(signal.SIGKILL)  # the orphaned workers, which still hold the port
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.server.wait(timeout=5)
            # Its whole group gone (the leader may have died long before its workers): the port is free again.
            wait_until(lambda: not group_members(self.server.pid), timeout=10, interval=0.05)
            self.status.failed_probes = 0
            backoff = 0.0 if time.monotonic() - started > 60 else min(MAX_BACKOFF_S, max(1.0, backoff * 2))
            self.status.restarts += 1
            self.status.last_exit = _describe(code)
            self.status.last_restart = datetime.now(UTC).isoformat(timespec="seconds")
            _write_status(self.status_path, self.status)  # at once: `deploy status` counts it while it waits
            log.warning(
                "the %s (pid %d) %s; restarting it (restart %d)",
                "gateway (nginx's master)" if self.gateway else "server",
                self.server.pid,
                self.status.last_exit,
                self.status.restarts,
            )
            if backoff:
                time.sleep(backoff)
            if self._stop_requested():
                return self._finish()
            self._start()
            started = time.monotonic()

    def _finish(self) -> int:
        self._signal_server(signal.SIGTERM)  # again: the server may have started after the first one
        self._signal_server(signal.SIGCONT)  # a hung (stopped) server acts on it only once it runs again
        try:
            self.server.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._signal_server(signal.SIGKILL)
            self.server.wait()
        self.status_path.unlink(missing_ok=True)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bankscore.deploy._supervise")
    parser.add_argument("--port", type=int, required=True, help="the server's port, for the liveness probe")
    parser.add_argument("--gateway", action="store_true", help="nginx's master on the public port, not the server")
    parser.add_argument("--run-dir", type=Path, required=True, help="where supervisor-<pid>.json goes")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the server's command line")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no server command after --")
    # The server's own log format, so `deploy logs` shows restarts among the server's messages.
    logging.basicConfig(
        format="%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s", stream=sys.stderr, level="INFO"
    )
    supervisor = Supervisor(command, args.port, status_file(args.run_dir, os.getpid()), gateway=args.gateway)
    signal.signal(signal.SIGTERM, supervisor.stop)  # before the server starts: a stop never orphans it
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
