"""The scoring tests' shared helpers (scoring_helpers.py), loaded once under one name, and their fixtures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

_HELPERS = "bankscore_tests_scoring_helpers"
if _HELPERS not in sys.modules:  # the test modules beside this file import their helpers by this name
    _spec = importlib.util.spec_from_file_location(_HELPERS, Path(__file__).with_name("scoring_helpers.py"))
    assert _spec is not None and _spec.loader is not None
    sys.modules[_HELPERS] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_HELPERS])

from bankscore.deploy.bankscore_scoring import route  # noqa: E402 - after the helpers, as the tests import them
from bankscore.deploy.bankscore_scoring.model import Model  # noqa: E402

tiny_model = sys.modules[_HELPERS].tiny_model


@pytest.fixture
def roomy(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Route requests to a model of each generation that takes 1 MB bodies."""

    def install(generation: str) -> Model:
        model = tiny_model(generation, max_body_bytes=1 << 20)
        monkeypatch.setattr(route, "_MODEL", model)
        return model

    return install
