"""Traffic and mirror of a local endpoint, Azure's rules: parsing ``blue=90``, checking, and what changes them.

Pure: no process, file or network. ``_routing`` applies the result to a running gateway.

The rules, as an Azure managed online endpoint has them:

- traffic gives every deployment a whole percent; the percents sum to 100, or are all 0 (then only requests
  that name a deployment in the ``azureml-model-deployment`` header are served: the others get Azure's 404);
- a deployment the command does not name gets 0;
- a mirror copies a share of live requests (0 to ``MAX_MIRROR_PERCENT``) to one deployment, which must take
  no live traffic; a mirror of 0 is no mirror;
- a deployment added to an endpoint gets 0 (the first one 100), and one that takes live traffic or the
  mirror cannot be removed until ``deploy traffic`` has moved it away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bankscore.deploy._state import DeployError

__all__ = [
    "MAX_MIRROR_PERCENT",
    "Routing",
    "TrafficError",
    "check_mirror",
    "check_removable",
    "check_traffic",
    "describe",
    "parse_assignments",
    "with_deployment",
]

MAX_MIRROR_PERCENT = 50  # Azure's limit for mirror_traffic


class TrafficError(DeployError):
    """A traffic or mirror setting that breaks a rule (the command line exits 2, naming the value)."""


@dataclass(frozen=True)
class Routing:
    """Where the gateway sends requests: each deployment's backend port, the split and the mirror."""

    backends: dict[str, int]
    traffic: dict[str, int]
    mirror: dict[str, int] = field(default_factory=dict)


def describe(shares: Mapping[str, int]) -> str:
    """``blue=90 green=10``: shares as the command line takes them."""
    return " ".join(f"{name}={percent}" for name, percent in shares.items()) or "(none)"


def parse_assignments(items: Iterable[str], *, what: str) -> dict[str, int]:
    """``["blue=90", "green=10"]`` as ``{"blue": 90, "green": 10}``; ``what`` names the setting in errors."""
    shares: dict[str, int] = {}
    for item in items:
        for part in item.split():  # "blue=90 green=10" as one argument, as az ml takes it, works too
            name, sep, value = part.partition("=")
            if not sep or not name:
                raise TrafficError(f"{what}: {part!r} is not DEPLOYMENT=PERCENT (for example blue=90)")
            try:
                percent = int(value)
            except ValueError:
                raise TrafficError(f"{what}: {part!r}: the percent must be a whole number from 0 to 100") from None
            if not 0 <= percent <= 100:
                raise TrafficError(f"{what}: {part!r}: the percent must be a whole number from 0 to 100")
            if name in shares:
                raise TrafficError(f"{what}: {name!r} is given twice")
            shares[name] = percent
    return shares


def _check_names(shares: Mapping[str, int], deployments: Iterable[str], *, what: str, endpoint: str) -> None:
    known = sorted(deployments)
    for name in shares:
        if name not in known:
            raise TrafficError(
                f"{what}: {name!r} is not a deployment of endpoint {endpoint!r} (it has {', '.join(known)})"
            )


def check_traffic(traffic: Mapping[str, int], deployments: Iterable[str], *, endpoint: str) -> dict[str, int]:
    """Every deployment's share (0 for those not named), once ``traffic`` keeps the rules."""
    names = sorted(deployments)
    _check_names(traffic, names, what="traffic", endpoint=endpoint)
    total = sum(traffic.values())
    if total not in (0, 100):
        raise TrafficError(
            f"traffic {describe(traffic)}: the percents sum to {total}; they must sum to 100 (or all be 0)"
        )
    return {name: traffic.get(name, 0) for name in names}


def check_mirror(mirror: Mapping[str, int], traffic: Mapping[str, int], *, endpoint: str) -> dict[str, int]:
    """The mirror to keep (empty for none), once ``mirror`` keeps the rules against ``traffic``."""
    _check_names(mirror, traffic, what="mirror", endpoint=endpoint)
    kept = {name: percent for name, percent in mirror.items() if percent > 0}
    if len(kept) > 1:
        raise TrafficError(f"mirror {describe(mirror)}: traffic may be mirrored to one deployment only")
    for name, percent in kept.items():
        if percent > MAX_MIRROR_PERCENT:
            raise TrafficError(
                f"mirror {name}={percent}: at most {MAX_MIRROR_PERCENT} percent of traffic may be mirrored"
            )
        if traffic.get(name, 0) > 0:
            raise TrafficError(
                f"mirror {name}={percent}: {name!r} takes {traffic[name]}% of live traffic; a mirror must go to "
                "a deployment without live traffic"
            )
    return kept


def with_deployment(traffic: Mapping[str, int], deployment: str) -> dict[str, int]:
    """``traffic`` once ``deployment`` is deployed: kept if it was there, else 0 (100 for the first)."""
    if deployment in traffic:
        return dict(traffic)
    return {**traffic, deployment: 0 if traffic else 100}


def check_removable(traffic: Mapping[str, int], mirror: Mapping[str, int], deployment: str, *, endpoint: str) -> None:
    """A deployment that takes live traffic or the mirror stays until ``deploy traffic`` moves that away."""
    if deployment not in traffic:
        _check_names({deployment: 0}, traffic, what="--deployment", endpoint=endpoint)
    others = [name for name in traffic if name != deployment]
    if not others:
        return  # the last one: the endpoint goes with it
    if traffic[deployment] > 0:
        rest = " ".join(f"{name}={100 // len(others) + (i < 100 % len(others))}" for i, name in enumerate(others))
        raise TrafficError(
            f"--deployment {deployment}: it takes {traffic[deployment]}% of live traffic; move it first "
            f"(bankscore deploy traffic --name {endpoint} {rest})"
        )
    if mirror.get(deployment, 0) > 0:
        raise TrafficError(
            f"--deployment {deployment}: it receives the mirror ({mirror[deployment]}%); end it first "
            f"(bankscore deploy traffic --name {endpoint} --mirror {deployment}=0)"
        )
