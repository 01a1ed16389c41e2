"""Start ``azmlinfsrv`` bound to loopback: ``python -m bankscore.deploy._launch [azmlinfsrv flags]``.

The server hard-codes its bind address to 0.0.0.0 (right inside Azure's container, wrong on a workstation:
with a key-checking gateway in front, the server's own port would still take unauthenticated calls from the
network). This launcher changes only that address, then runs the server's own entry point unchanged.
"""

from __future__ import annotations

import os

from azureml_inference_server_http import amlserver


def main() -> None:
    amlserver.DEFAULT_HOST = os.environ.get("BANKSCORE_BIND_HOST", "127.0.0.1")
    amlserver.run()


if __name__ == "__main__":
    main()
