"""The FLAML adapter: the internals bankscore relies on are present in the installed FLAML, and a missing one
is named."""

from __future__ import annotations

import flaml
import flaml.automl.model as flaml_model
import pytest

from bankscore.automl import _flaml
from bankscore.automl._flaml import FlamlChangedError, check_flaml


def test_the_installed_flaml_has_every_internal_part_bankscore_uses() -> None:
    check_flaml()


def test_a_missing_internal_is_named_with_the_installed_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(flaml_model, "psutil")
    with pytest.raises(FlamlChangedError, match=r"flaml\.automl\.model\.psutil is gone") as raised:
        check_flaml()
    assert f"FLAML {flaml.__version__}" in str(raised.value)


def test_a_hook_that_is_never_called_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_flaml.ReportingAutoML, "_log_trial", lambda self, *args: None)
    with pytest.raises(FlamlChangedError, match=r"_log_trial\(search_state, estimator\) is no longer called"):
        check_flaml()


def test_a_version_outside_the_tested_ones_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flaml, "__version__", "2.9.1")
    with pytest.raises(FlamlChangedError, match=r"version 2\.9\.1 is outside the tested 2\.7"):
        check_flaml()
