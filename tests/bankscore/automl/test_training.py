"""Training options: threads per learner follow the cores other work leaves free, one for a reproducible run."""

from __future__ import annotations

import pytest

from bankscore.automl._training import TrainOptions, threads_resolved


@pytest.mark.parametrize(
    ("cores", "busy", "threads"),
    [(2, 0.03, 2), (2, 0.5, 1), (2, 1.0, 1), (8, 0.25, 6), (8, 0.0, 8), (1, 0.0, 1)],
)
def test_every_core_means_the_free_ones(monkeypatch: pytest.MonkeyPatch, cores: int, busy: float, threads: int) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    resolved = threads_resolved(TrainOptions(), lambda: busy)
    assert resolved.n_jobs == threads
    assert resolved.time_budget == TrainOptions().time_budget  # nothing else changes


def test_a_chosen_thread_count_stays_and_a_reproducible_run_gets_one_thread() -> None:
    def never() -> float:
        raise AssertionError("the CPU was sampled")

    assert threads_resolved(TrainOptions(n_jobs=3), never).n_jobs == 3
    for chosen in (-1, 1, 4):
        reproducible = TrainOptions(time_budget=None, max_trials=5, n_jobs=chosen)
        resolved = threads_resolved(reproducible, never)
        assert resolved.n_jobs == 1 and resolved.max_trials == 5 and resolved.time_budget is None


def test_the_cpu_is_really_sampled() -> None:
    resolved = threads_resolved(TrainOptions())
    assert resolved.n_jobs >= 1
