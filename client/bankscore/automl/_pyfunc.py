"""The self-contained pyfunc module that every registered model folder carries in MLflow's ``code/``.

``mlflow_code/bank_marketing_pyfunc.py`` is loaded here under its own top-level name, so that the model MLflow
pickles refers to ``bank_marketing_pyfunc``, the module its folder brings, and never to bankscore.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Final

__all__ = ["MODULE_NAME", "module_file", "pyfunc_module"]

MODULE_NAME: Final = "bank_marketing_pyfunc"


def module_file() -> Path:
    """The module's source file, shipped inside the package (what ``code_paths`` copies into a model folder)."""
    return Path(__file__).with_name("mlflow_code") / f"{MODULE_NAME}.py"


def pyfunc_module() -> ModuleType:
    """The module, imported once per process under ``MODULE_NAME`` (MLflow may already have imported a model's copy)."""
    loaded = sys.modules.get(MODULE_NAME)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(MODULE_NAME, module_file())
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with the package
        raise ImportError(f"cannot load {module_file()}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module  # before exec: pickle looks classes up by module name
    try:
        # MLflow asks every PythonModel subclass for type hints on predict; the module leaves them out on purpose
        # (MLflow would read them as a schema). MLflow resets the warning filters around that advice, so it is
        # recorded here and dropped rather than filtered.
        with warnings.catch_warnings(record=True):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(MODULE_NAME, None)
        raise
    return module
