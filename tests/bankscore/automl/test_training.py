"""Training options: threads per learner follow the cores other work leaves free."""

from __future__ import annotations

import pytest

from bankscore.automl._training import TrainOptions, with_free_cores


@pytest.mark.parametrize(
    ("cores", "busy", "threads"),
    [(2, 0.03, 2), (2, 0.5, 1), (2, 1.0, 1), (8, 0.25, 6), (8, 0.0, 8), (1, 0.0, 1)],
)
def test_every_core_means_the_free_ones(monkeypatch: pytest.MonkeyPatch, cores: int, busy: float, threads: int) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    resolved = with_free_cores(TrainOptions(), lambda: busy)
    assert resolved.n_jobs == threads
    assert resolved.time_budget == TrainOptions().time_budget  # nothing else changes


def test_a_chosen_thread_count_and_a_reproducible_run_are_left_alone() -> None:
    def never() -> float:
        raise AssertionError("the CPU was sampled")

    assert with_free_cores(TrainOptions(n_jobs=3), never).n_jobs == 3
    reproducible = TrainOptions(time_budget=None, max_trials=5)
    assert with_free_cores(reproducible, never) is reproducible


def test_the_cpu_is_really_sampled() -> None:
    resolved = with_free_cores(TrainOptions())
    assert resolved.n_jobs >= 1
