"""Pins of installed distributions (``name==version``): what a registered model and a deployment need to load."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable

__all__ = ["installed_pins"]


def installed_pins(distributions: Iterable[str]) -> list[str]:
    """``name==version`` for each distribution installed here (the others are skipped)."""
    pins = []
    for dist in distributions:
        try:
            pins.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins
