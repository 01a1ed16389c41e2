"""The processes of a local deployment: started in a session of their own, stopped as a process group.

The server and the gateway outlive the command that starts them, so ``deploy stop`` (often another process)
finds them by pid and stops their whole group: gunicorn's and nginx's workers go with their master. A group
outlives its leader: after ``kill -9`` of nginx's master its worker runs on (and keeps the public port), so a
group's members are found by their process group id, never only through the leader.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import psutil
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

__all__ = ["alive", "group_members", "live_children", "spawn", "stop_group", "wait_until"]

# Exited but not yet reaped by its parent: the pid still answers, the process does nothing.
_GONE = frozenset({psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD})

# Children started by this process, kept referenced until stop_group reaps them: a Popen collected while its
# process runs warns (ResourceWarning), which matters when a long-lived process (a pipeline) deploys.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float) -> bool:
    """Call ``condition`` every ``interval`` seconds until it is true (True) or ``timeout`` has passed (False)."""
    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda done: not done),
        retry_error_callback=lambda _state: False,
    )
    return bool(retrying(condition))


def spawn(args: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``args`` in a new session (its own process group), its output appended to ``log``."""
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv built by bankscore
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    _CHILDREN[proc.pid] = proc
    return proc


def alive(pid: int | None) -> bool:
    """Whether ``pid`` runs (a zombie does not; a process of another user does)."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() not in _GONE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def live_children(pid: int) -> set[int]:
    """The running child processes of ``pid`` (nginx's workers under its master)."""
    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return set()
    return {child.pid for child in children if alive(child.pid)}


def group_members(pgid: int | None) -> list[int]:
    """The running processes of process group ``pgid``, its leader or not (orphans whose leader died too)."""
    if not pgid:
        return []
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() not in _GONE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
        except (PermissionError, psutil.AccessDenied):
            members.append(proc.pid)  # runs, and may be a member: better signalled in vain than left behind
    return members


def stop_group(pid: int | None, timeout: float = 15.0) -> None:
    """SIGTERM the process group ``pid`` leads (or led: its leader may be gone, its members not), SIGKILL
    what is left of it after ``timeout`` seconds, and wait until none of it runs."""
    if pid and group_members(pid):
        _signal_group(pid, signal.SIGTERM)
        _signal_group(pid, signal.SIGCONT)  # a stopped (hung) process acts on SIGTERM only once it runs again
        if not wait_until(lambda: not group_members(pid), timeout=timeout, interval=0.1):
            _signal_group(pid, signal.SIGKILL)
            wait_until(lambda: not group_members(pid), timeout=5, interval=0.05)
    child = _CHILDREN.pop(pid, None) if pid else None
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
