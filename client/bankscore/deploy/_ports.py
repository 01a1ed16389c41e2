"""Ports of a local endpoint: free ones for backends, and whether the public one can be taken."""

from __future__ import annotations

import os
import socket

import psutil

from bankscore._facts import FIRST_UNPRIVILEGED_PORT
from bankscore.deploy._state import DeployError, LocalDeployment, load_state

__all__ = [
    "DEFAULT_PORT",
    "FIRST_UNPRIVILEGED_PORT",
    "can_take",
    "check_port",
    "check_privileged_port",
    "free_port",
    "port_free",
    "process_groups",
]

DEFAULT_PORT = 5001  # the server's own default


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_groups(state: LocalDeployment) -> set[int]:
    """The process groups of ``state`` (each recorded pid leads one, or led it)."""
    pids = (state.gateway_supervisor_pid, state.gateway_pid, state.supervisor_pid, state.server_pid)
    return {pid for pid in pids if pid}


def can_take(port: int, previous: LocalDeployment | None) -> bool:
    """Whether ``port`` is free, or held only by processes of ``previous`` (which a redeploy stops or keeps)."""
    if port_free(port):
        return True
    if previous is None:
        return False
    try:
        listening = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return False  # who holds it cannot be told: better refused than a running deployment stopped for nothing
    groups = process_groups(previous)
    for conn in listening:
        if conn.status != psutil.CONN_LISTEN or not conn.laddr or conn.laddr.port != port:
            continue
        if conn.pid is None:
            return False
        try:
            if os.getpgid(conn.pid) not in groups:
                return False
        except ProcessLookupError:
            continue
    return True


def check_privileged_port(port: int, *, allow_privileged: bool = False) -> None:
    """Refuse a port below 1024 unless ``allow_privileged``: it is a system service's port, and a typo there
    (``--port 22`` for 2222) would move a running deployment onto it."""
    if port < FIRST_UNPRIVILEGED_PORT and not allow_privileged:
        raise DeployError(
            f"port {port} is a privileged port (below {FIRST_UNPRIVILEGED_PORT}, where system services listen): "
            f"pick one from {FIRST_UNPRIVILEGED_PORT} up, or pass --allow-privileged-port to use it anyway"
        )


def check_port(name: str, port: int, *, allow_privileged: bool = False) -> None:
    """Refuse ``port`` for endpoint ``name`` as ``start_local`` would, before anything slow is done: building a
    release takes seconds (the model is loaded and checked), a port that cannot be taken is said at once."""
    check_privileged_port(port, allow_privileged=allow_privileged)
    previous = load_state(name)
    if not can_take(port, previous if previous is not None and previous.port == port else None):
        raise DeployError(f"port {port} on 127.0.0.1 is in use; stop what holds it or pick another with --port")
