"""Start ``azmlinfsrv`` bound to loopback: ``python -m bankscore.deploy._launch [azmlinfsrv flags]``.

The server hard-codes its bind address to 0.0.0.0 (right inside Azure's container, wrong on a workstation:
with a key-checking gateway in front, the server's own port would still take unauthenticated calls from the
network). This launcher changes that address, then runs the server's own entry point unchanged.

It also hands gunicorn, through its documented ``GUNICORN_CMD_ARGS`` channel, two settings the server leaves
at gunicorn's defaults; the server's own command line still wins for everything it sets. Both only remove
per-request work that nobody sees (found by profiling a worker under load):

- ``--worker-tmp-dir /dev/shm``: every worker touches its heartbeat file once per request, on disk by default
  (gunicorn's documentation recommends a memory file system);
- this module as gunicorn's config module, for its ``post_worker_init`` hook below: the server asks for an
  access log on stdout, but the deployment's ``logging.json`` keeps ``gunicorn.access`` at WARNING, so every
  access line is dropped after gunicorn has built it, a noticeable share of a one-record request's time.

With keys, the same hook puts a check in front of the server's app: only the gateway may call it. The
deployment names the file that holds the gateway's secret (``gateway.secret``, mode 0600) in
``SECRET_FILE_ENV``; the launcher reads it and takes the variable out of the environment at once (the scoring
script, and anything it starts, is not pointed at it). The secret itself is never in an environment, so
``/proc/<pid>/environ`` shows no secret, unlike a variable that a process removes from its own copy of the
environment (the kernel keeps showing what the process was started with). Every worker answers 403 to a
request without the secret in ``GATEWAY_SECRET_HEADER``, which it removes before the app sees the request. A
deployment on Azure never runs this launcher: there the front end is the only way in.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from azureml_inference_server_http import amlserver

from bankscore.deploy._gateway import GATEWAY_SECRET_HEADER, SECRET_FILE_ENV, read_secret

__all__ = ["gunicorn_args", "main", "post_worker_init", "require_gateway"]

_WSGI_HEADER = "HTTP_" + GATEWAY_SECRET_HEADER.upper().replace("-", "_")
_FORBIDDEN = json.dumps({"message": "Forbidden: this port only answers the deployment's gateway"}).encode()

# Set in the master by main() (workers inherit it when gunicorn forks them); empty: no check.
_gateway_secret = ""

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

CONFIG_MODULE = "bankscore.deploy._launch"  # this module, by name: it also runs as __main__

# gunicorn creates its heartbeat file there with mkstemp and unlinks it at once: nothing to predict or hijack.
MEMORY_TMP_DIR = "/dev/shm"  # noqa: S108


def gunicorn_args(existing: str) -> str:
    """``GUNICORN_CMD_ARGS`` with this launcher's settings added, unless the caller already chose them."""
    args = shlex.split(existing)  # as gunicorn reads it
    if not any(a in {"-c", "--config"} or a.startswith("--config=") for a in args):
        args += ["--config", f"python:{CONFIG_MODULE}"]
    chosen_tmp_dir = any(a == "--worker-tmp-dir" or a.startswith("--worker-tmp-dir=") for a in args)
    if not chosen_tmp_dir and Path(MEMORY_TMP_DIR).is_dir():
        args += ["--worker-tmp-dir", MEMORY_TMP_DIR]
    return shlex.join(args)


def require_gateway(app: WSGIApp, secret: str) -> WSGIApp:
    """``app`` behind a check: 403 unless the request carries ``secret`` in ``GATEWAY_SECRET_HEADER``."""
    expected = secret.encode()

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sent = str(environ.pop(_WSGI_HEADER, "")).encode("latin-1", errors="replace")
        if hmac.compare_digest(sent, expected):  # in constant time: the answer's timing tells nothing
            return app(environ, start_response)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(_FORBIDDEN)))]
        start_response("403 FORBIDDEN", headers)
        return [_FORBIDDEN]

    return guarded


def post_worker_init(worker: Any) -> None:
    """gunicorn hook, run in each worker once the app (and so the server's logging config) has loaded."""
    if not worker.log.access_log.isEnabledFor(logging.INFO):
        # Nothing would be written: stop gunicorn from formatting the line first. Only when the logging
        # config drops it, so a deployment that does want gunicorn's access log keeps it.
        worker.cfg.set("accesslog", None)
    if _gateway_secret:
        worker.wsgi = require_gateway(worker.wsgi, _gateway_secret)


def _take_secret() -> None:
    """Read the secret from its file into the config module gunicorn loads.

    That is this file imported by its name, a module apart from the ``__main__`` this function runs in.
    """
    from bankscore.deploy import _launch as config  # noqa: PLW0406 - on purpose: see the docstring

    config._gateway_secret = read_secret()
    os.environ.pop(SECRET_FILE_ENV, None)


def main() -> None:
    _take_secret()
    amlserver.DEFAULT_HOST = os.environ.get("BANKSCORE_BIND_HOST", "127.0.0.1")
    os.environ["GUNICORN_CMD_ARGS"] = gunicorn_args(os.environ.get("GUNICORN_CMD_ARGS", ""))
    amlserver.run()


if __name__ == "__main__":
    main()
