"""A loaded, checked Bank Marketing data set, held by column in plain Python lists."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bankscore.features import FEATURES, LABEL, Feature, FeatureKind

if TYPE_CHECKING:  # pandas is optional: only ``to_pandas`` needs it
    import pandas as pd

__all__ = ["Dataset", "Value", "contract_frame_columns"]

Value = int | float | str


@dataclass(frozen=True, eq=False)
class Dataset:
    """Rows that fit the feature contract. Every value is already typed (int, float or str).

    ``columns`` maps each wire name (and ``y`` when the label is present) to its values; ``sha256`` is the hash
    of the file's bytes as read, which identifies the content for dataset versioning.
    """

    columns: dict[str, list[Value]]
    source: str
    sha256: str
    features: tuple[Feature, ...] = FEATURES

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    @property
    def has_label(self) -> bool:
        return LABEL.name in self.columns

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.wire_name for f in self.features)

    @property
    def labels(self) -> list[str]:
        if not self.has_label:
            raise ValueError(f"{self.source} has no label column {LABEL.name!r}")
        return [str(v) for v in self.columns[LABEL.name]]

    def records(self, *, with_label: bool = False) -> Iterator[dict[str, Value]]:
        """Yield each row as a dict keyed by wire name, in file order (the label only when asked)."""
        names = list(self.feature_names) + ([LABEL.name] if with_label and self.has_label else [])
        cols = [self.columns[n] for n in names]
        for values in zip(*cols, strict=True):
            yield dict(zip(names, values, strict=True))

    def to_pandas(self, *, with_label: bool = True) -> pd.DataFrame:
        """A DataFrame with the contract's dtypes: int64, float64, and categoricals over all allowed categories.

        Categoricals list every category the contract allows (all twelve months, say), so that a model trained
        on one file and fed another sees the same category codes.
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("to_pandas() needs pandas: pip install 'bankscore[train]' or pip install pandas") from exc
        data = contract_frame_columns(self.features, self.columns)
        if with_label and self.has_label:
            data[LABEL.name] = pd.Categorical(self.columns[LABEL.name], categories=list(LABEL.classes))
        return pd.DataFrame(data)


def contract_frame_columns(features: tuple[Feature, ...], columns: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """pandas columns with the contract's dtypes: int64, float64, categoricals over every allowed category."""
    import pandas as pd

    data: dict[str, Any] = {}
    for feat in features:
        values = columns[feat.wire_name]
        if feat.kind is FeatureKind.CATEGORY:
            data[feat.wire_name] = pd.Categorical(values, categories=list(feat.categories))
        elif feat.kind is FeatureKind.INTEGER:
            data[feat.wire_name] = pd.array(values, dtype="int64")
        else:
            data[feat.wire_name] = pd.array(values, dtype="float64")
    return data
