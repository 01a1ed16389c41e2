"""References to registered datasets and models: ``name`` (the latest version) or ``name:version``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from bankscore._exceptions import BankscoreError

__all__ = ["pick_version"]


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=_Versioned)


def pick_version(ref: str, list_versions: Callable[[str], Sequence[V]], *, what: str, hint: str) -> V:
    """Resolve ``name`` (the latest version) or ``name:version`` against ``list_versions(name)`` (oldest first)."""
    name, _, version = ref.partition(":")
    versions = list_versions(name)
    if not versions:
        raise BankscoreError(f"no {what} {name!r} is registered; {hint}")
    if not version:
        return versions[-1]
    for candidate in versions:
        if str(candidate.version) == version:
            return candidate
    known = ", ".join(str(v.version) for v in versions)
    raise BankscoreError(f"{what} {name!r} has no version {version!r} (versions: {known})")
