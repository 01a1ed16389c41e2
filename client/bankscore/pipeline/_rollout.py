"""A blue-green rollout's decisions, apart from any process: which deployment gets the new model, and what a
held rollout says.

An endpoint made by the pipeline holds ``blue`` and ``green``. The one that takes the live traffic keeps it
while the other (the idle one) gets the new model with no traffic; only once the comparison's gates pass does
the traffic move, and the old deployment keeps running so that going back is one ``deploy traffic``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bankscore._exceptions import BankscoreError

if TYPE_CHECKING:
    from bankscore._compare import Gate

__all__ = ["BLUE_GREEN", "RolloutError", "RolloutHeldError", "choose_deployments", "describe_gate", "held_reason"]

BLUE_GREEN = ("blue", "green")


class RolloutError(BankscoreError):
    """The endpoint is not in a state a blue-green rollout can start from; the message says how to get there."""


class RolloutHeldError(BankscoreError):
    """A gate failed: the live deployment keeps its traffic and the new one stays at 0% for inspection.

    ``failed`` holds the failed gates as ``{"name", "value", "limit", "detail"}``.
    """

    def __init__(self, message: str, failed: Sequence[Mapping[str, object]]) -> None:
        self.failed = [dict(gate) for gate in failed]
        super().__init__(message)


def choose_deployments(endpoint: str, traffic: Mapping[str, int] | None) -> tuple[str | None, str]:
    """``(live, new)`` for endpoint ``endpoint`` whose deployments take ``traffic`` (None: no endpoint yet).

    The first rollout of an endpoint has no live deployment and starts ``blue``. Otherwise exactly one of
    ``blue``/``green`` must take all the live traffic: a split (a canary under way) or a deployment with
    another name is a decision someone made by hand, and the pipeline does not overrule it.
    """
    if not traffic:
        return None, BLUE_GREEN[0]
    live = [name for name, percent in sorted(traffic.items()) if percent > 0]
    shares = " ".join(f"{name}={percent}" for name, percent in sorted(traffic.items()))
    if not live:
        raise RolloutError(
            f"endpoint {endpoint!r} has no live traffic ({shares}): give one of blue/green all of it first "
            f"(bankscore deploy traffic --name {endpoint} blue=100)"
        )
    if len(live) > 1:
        raise RolloutError(
            f"endpoint {endpoint!r} splits its traffic ({shares}); a blue-green rollout starts from one live "
            f"deployment: move the traffic first (bankscore deploy traffic --name {endpoint} {live[0]}=100)"
        )
    (current,) = live
    if current not in BLUE_GREEN:
        raise RolloutError(
            f"endpoint {endpoint!r} serves its traffic from {current!r}; a blue-green rollout alternates between "
            f"the deployments 'blue' and 'green': give one of them the traffic first (bankscore deploy local "
            f"--name {endpoint} --deployment blue --model MODEL, then bankscore deploy traffic --name {endpoint} "
            "blue=100)"
        )
    return current, BLUE_GREEN[1] if current == BLUE_GREEN[0] else BLUE_GREEN[0]


def describe_gate(gate: Gate) -> str:
    """``max_disagreement: 0.0831 > limit 0.05``, or why it could not be measured."""
    if gate.value is None:
        return f"{gate.name}: {gate.detail or 'not measured'} (limit {gate.limit:g})"
    relation = "<=" if gate.passed else ">"
    return f"{gate.name}: {gate.value:.4g} {relation} limit {gate.limit:g}"


def held_reason(failed: Sequence[Gate], *, endpoint: str, live: str, new: str) -> str:
    """What a held rollout reports: each failed gate with its value and limit, and what was left as it was."""
    gates = "; ".join(describe_gate(gate) for gate in failed)
    return (
        f"rollout held, {len(failed)} gate(s) failed: {gates}. The live deployment {live!r} keeps its traffic; "
        f"the new deployment {new!r} stays at 0% for inspection (roll it out anyway with "
        f"`bankscore deploy traffic --name {endpoint} {new}=100 {live}=0`, or remove it with "
        f"`bankscore deploy stop --name {endpoint} --deployment {new}`)"
    )
