"""Every use of FLAML beyond its public API, in one place.

FLAML's public API fits a model and reports the best configuration per learner; bankscore also needs, per
trial, the metrics FLAML logged, a way to stop the search between trials, the fitted data transformer and
task (they go inside the registered model) and the learner classes (to refit a learner's best configuration
fold by fold for out-of-fold predictions). FLAML offers none of these publicly, so this module reaches into:

- ``AutoML._log_trial(search_state, estimator)``: called after every trial when ``log_type="all"``;
- ``AutoML._state.time_budget``: the search loop ends once the time used reaches it;
- ``AutoML._state.task`` and ``AutoML._transformer``: the task object and the fitted ``DataTransformer``;
- ``AutoML._state.learner_classes``: learner name to estimator class;
- ``flaml.automl.model.psutil``: the module-level handle FLAML uses to probe free memory.

The dependency pins FLAML to the minor version these were checked on (``TESTED_VERSIONS``);
``check_flaml()`` names the missing part and the installed version when an upgrade moves one of them, and a
test calls it, so an upgrade fails loudly instead of training differently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from flaml import AutoML

__all__ = [
    "TESTED_VERSIONS",
    "FlamlChangedError",
    "ReportingAutoML",
    "check_flaml",
    "learner_class",
    "no_memory_probe",
    "preprocess",
    "task_of",
    "transformer_of",
]

TESTED_VERSIONS = ("2.7",)  # major.minor releases whose internals are checked by check_flaml()


class FlamlChangedError(RuntimeError):
    """The installed FLAML no longer has an internal part bankscore relies on."""


class ReportingAutoML(AutoML):  # type: ignore[misc]  # FLAML ships no type information
    """FLAML's AutoML with a hook after every trial; ``stop()`` ends the search after the current trial."""

    def __init__(self, on_trial: Callable[[Any, str], None], should_stop: Callable[[], bool]) -> None:
        super().__init__()
        self._on_trial = on_trial
        self._should_stop = should_stop

    def _log_trial(self, search_state: Any, estimator: str) -> None:
        self._on_trial(search_state, estimator)
        if self._should_stop():
            # FLAML leaves its search loop when the time used reaches the budget; it then retrains the best.
            self._state.time_budget = 0


def task_of(automl: AutoML) -> Any:
    """The fitted search's task object (it preprocesses rows the way the learners saw them)."""
    return automl._state.task


def transformer_of(automl: AutoML) -> Any:
    """The fitted search's data transformer (category handling, column order)."""
    return automl._transformer


def preprocess(automl: AutoML, x: Any) -> Any:
    """Rows as the learners saw them during the search."""
    return automl._state.task.preprocess(x, automl._transformer)


def learner_class(automl: AutoML, learner: str) -> Any:
    """FLAML's estimator class for a learner name ("lgbm", "xgboost", ...)."""
    return automl._state.learner_classes[learner]


@contextlib.contextmanager
def no_memory_probe() -> Iterator[None]:
    """Keep FLAML from sizing tree ensembles by the machine's free memory.

    For learners without callbacks (random forest, extra trees) FLAML reads the system-wide available memory
    before and after a short fit and may cut ``n_estimators`` accordingly; another process allocating memory
    meanwhile then changes the trained model, which breaks same-seed reproducibility on a busy machine. FLAML
    skips the probe when its module-level ``psutil`` is None.
    """
    import flaml.automl.model as flaml_model

    saved = flaml_model.psutil
    flaml_model.psutil = None
    try:
        yield
    finally:
        flaml_model.psutil = saved


def check_flaml() -> None:
    """Raise FlamlChangedError naming what is missing when the installed FLAML lacks a part this module uses.

    It runs a two-trial search on 60 random rows (a second or so): FLAML creates most of these parts in ``fit``.
    """
    import warnings

    import flaml
    import flaml.automl.model as flaml_model
    import numpy as np

    version = str(flaml.__version__)
    problems: list[str] = []
    if not any(version == v or version.startswith(v + ".") for v in TESTED_VERSIONS):
        problems.append(f"version {version} is outside the tested {', '.join(TESTED_VERSIONS)}")
    seen: list[str] = []
    automl = ReportingAutoML(lambda state, learner: seen.append(learner), lambda: False)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)), np.arange(60) % 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            automl.fit(
                x,
                y,
                task="classification",
                estimator_list=["lgbm"],
                max_iter=2,  # one trial skips the search loop (and its hook) altogether
                time_budget=-1,
                verbose=0,
                log_type="all",
                log_file_name="",
                mlflow_logging=False,
            )
    except Exception as exc:  # any failure of the search is the finding
        problems.append(f"a two-trial search raised {exc!r}")
    if not hasattr(flaml_model, "psutil"):
        problems.append("flaml.automl.model.psutil is gone")
    if not seen:
        problems.append("AutoML._log_trial(search_state, estimator) is no longer called after a trial")
    state = getattr(automl, "_state", None)
    for name in ("time_budget", "task", "learner_classes"):
        if not hasattr(state, name):
            problems.append(f"AutoML._state.{name} is gone")
    if getattr(automl, "_transformer", None) is None:
        problems.append("AutoML._transformer is gone")
    elif not hasattr(task_of(automl), "preprocess"):
        problems.append("AutoML._state.task.preprocess is gone")
    if problems:
        raise FlamlChangedError(
            f"bankscore's AutoML relies on FLAML internals that changed in FLAML {version}: " + "; ".join(problems)
        )
