"""Facts about endpoints that bankscore and bankscore_bench share, each defined here once.

The scoring package shipped to Azure (``bankscore.deploy.bankscore_scoring``) cannot import bankscore, so its
``facts`` module keeps its own copy of the deployment's limits; a test keeps the two equal.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEPLOYMENT_HEADER", "DEPLOYMENT_MAX_BODY_BYTES", "FIRST_UNPRIVILEGED_PORT", "MAX_RECORDS_PER_REQUEST"]

# The most records one scoring request may hold: the local deployment's limit and its spec's maxItems.
MAX_RECORDS_PER_REQUEST: Final = 10_000
# The largest body the local deployment's scoring script reads (it answers 413 above it).
DEPLOYMENT_MAX_BODY_BYTES: Final = 8 * 1024 * 1024
# The header that sends a request to one deployment of a managed online endpoint, past its traffic split.
DEPLOYMENT_HEADER: Final = "azureml-model-deployment"
# Ports below this are privileged: system services (ssh on 22, http on 80) live there and only root may bind them.
FIRST_UNPRIVILEGED_PORT: Final = 1024
