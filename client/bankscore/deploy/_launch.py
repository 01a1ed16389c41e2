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
"""

from __future__ import annotations

import logging
import os
import shlex
from pathlib import Path
from typing import Any

from azureml_inference_server_http import amlserver

__all__ = ["gunicorn_args", "main", "post_worker_init"]

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


def post_worker_init(worker: Any) -> None:
    """gunicorn hook, run in each worker once the app (and so the server's logging config) has loaded."""
    if not worker.log.access_log.isEnabledFor(logging.INFO):
        # Nothing would be written: stop gunicorn from formatting the line first. Only when the logging
        # config drops it, so a deployment that does want gunicorn's access log keeps it.
        worker.cfg.set("accesslog", None)


def main() -> None:
    amlserver.DEFAULT_HOST = os.environ.get("BANKSCORE_BIND_HOST", "127.0.0.1")
    os.environ["GUNICORN_CMD_ARGS"] = gunicorn_args(os.environ.get("GUNICORN_CMD_ARGS", ""))
    amlserver.run()


if __name__ == "__main__":
    main()
