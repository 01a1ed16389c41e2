"""The Bank Marketing feature contract: the one place that states what a scoring record is.

Every other part of bankscore derives from this module: the CSV loader's checks, the record models, the
deployment's Swagger spec and scoring-script checks, and the load test's payloads. It is pure Python
(no pandas, no numpy) so that the base client install can import it.

Sources: the UCI data dictionary (``bank-additional-names.txt``, Moro, Cortez and Rita 2014) for meanings and
allowed categories; the Azure AutoML Swagger files for wire types (five integer fields, five doubles, ten
strings). Categories follow the dictionary, not the training rows: ``month`` allows all twelve months although
the training set holds ten, and ``unknown`` is a real category wherever the dictionary lists it.

Numeric ranges are plausibility bounds (what a real record can hold), deliberately wider than what the
training rows show, so that a valid new record is never refused; the observed range is in the data profile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "LABEL",
    "Feature",
    "FeatureKind",
    "Label",
    "ValueProblem",
    "check_record",
    "feature",
    "number_from_text",
    "parse_value",
]


class FeatureKind(StrEnum):
    """Wire type of a feature, as Azure's Swagger files declare it."""

    INTEGER = "integer"  # JSON integer, int64 in Swagger
    NUMBER = "number"  # JSON number, double in Swagger
    CATEGORY = "category"  # JSON string restricted to a fixed set


@dataclass(frozen=True, slots=True)
class Feature:
    """One input column: its names on the wire and in Python, its type, what it may hold and what it means."""

    wire_name: str
    python_name: str
    kind: FeatureKind
    description: str
    group: str
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    example: str | int | float = ""
    leaks_label: bool = False
    note: str = ""

    @property
    def is_numeric(self) -> bool:
        return self.kind is not FeatureKind.CATEGORY


@dataclass(frozen=True, slots=True)
class Label:
    """The target column: has the client subscribed a term deposit?"""

    name: str
    classes: tuple[str, ...]  # sorted, as scikit-learn orders predict_proba columns
    positive: str
    description: str


@dataclass(frozen=True, slots=True)
class ValueProblem:
    """Why one value does not fit its feature. ``value`` is the raw value as given."""

    field: str
    value: object
    reason: str

    def __str__(self) -> str:
        return f"{self.field}={self.value!r}: {self.reason}"


_YES_NO_UNKNOWN = ("no", "yes", "unknown")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

_DURATION_NOTE = (
    "The duration of the call is only known after the call, when the outcome y is known too, so it leaks "
    "the label: the data dictionary says to keep it for benchmarks only and to drop it for a realistic "
    "model (train with --exclude duration)."
)

FEATURES: Final[tuple[Feature, ...]] = (
    # bank client data
    Feature("age", "age", FeatureKind.INTEGER, "Age of the client, in years.", "client",
            minimum=17, maximum=120, example=57),
    Feature("job", "job", FeatureKind.CATEGORY, "Type of job.", "client",
            categories=("admin.", "blue-collar", "entrepreneur", "housemaid", "management", "retired",
                        "self-employed", "services", "student", "technician", "unemployed", "unknown"),
            example="technician"),
    Feature("marital", "marital", FeatureKind.CATEGORY,
            "Marital status ('divorced' means divorced or widowed).", "client",
            categories=("divorced", "married", "single", "unknown"), example="married"),
    Feature("education", "education", FeatureKind.CATEGORY, "Highest education.", "client",
            categories=("basic.4y", "basic.6y", "basic.9y", "high.school", "illiterate",
                        "professional.course", "university.degree", "unknown"),
            example="high.school"),
    Feature("default", "default", FeatureKind.CATEGORY, "Has credit in default?", "client",
            categories=_YES_NO_UNKNOWN, example="no"),
    Feature("housing", "housing", FeatureKind.CATEGORY, "Has a housing loan?", "client",
            categories=_YES_NO_UNKNOWN, example="no"),
    Feature("loan", "loan", FeatureKind.CATEGORY, "Has a personal loan?", "client",
            categories=_YES_NO_UNKNOWN, example="yes"),
    # the last contact of the current campaign
    Feature("contact", "contact", FeatureKind.CATEGORY, "Contact communication type.", "last contact",
            categories=("cellular", "telephone"), example="cellular"),
    Feature("month", "month", FeatureKind.CATEGORY, "Month of the year of the last contact.", "last contact",
            categories=_MONTHS, example="may"),
    Feature("day_of_week", "day_of_week", FeatureKind.CATEGORY, "Weekday of the last contact.",
            "last contact", categories=("mon", "tue", "wed", "thu", "fri"), example="mon"),
    Feature("duration", "duration", FeatureKind.INTEGER, "Duration of the last contact, in seconds.",
            "last contact", minimum=0, maximum=36_000, example=371, leaks_label=True, note=_DURATION_NOTE),
    # other attributes
    Feature("campaign", "campaign", FeatureKind.INTEGER,
            "Contacts made during this campaign for this client, the last one included.", "campaign",
            minimum=1, maximum=1_000, example=1),
    Feature("pdays", "pdays", FeatureKind.INTEGER,
            "Days since the client was last contacted in a previous campaign (999: never contacted).",
            "campaign", minimum=0, maximum=999, example=999),
    Feature("previous", "previous", FeatureKind.INTEGER,
            "Contacts made before this campaign for this client.", "campaign",
            minimum=0, maximum=1_000, example=1),
    Feature("poutcome", "poutcome", FeatureKind.CATEGORY, "Outcome of the previous marketing campaign.",
            "campaign", categories=("failure", "nonexistent", "success"), example="failure"),
    # social and economic context
    Feature("emp.var.rate", "emp_var_rate", FeatureKind.NUMBER,
            "Employment variation rate, quarterly indicator.", "economic context",
            minimum=-10, maximum=10, example=-1.8),
    Feature("cons.price.idx", "cons_price_idx", FeatureKind.NUMBER,
            "Consumer price index, monthly indicator.", "economic context",
            minimum=50, maximum=150, example=92.893),
    Feature("cons.conf.idx", "cons_conf_idx", FeatureKind.NUMBER,
            "Consumer confidence index, monthly indicator.", "economic context",
            minimum=-100, maximum=100, example=-46.2),
    Feature("euribor3m", "euribor3m", FeatureKind.NUMBER, "Euribor 3-month rate, daily indicator.",
            "economic context", minimum=-5, maximum=25, example=1.299),
    Feature("nr.employed", "nr_employed", FeatureKind.NUMBER,
            "Number of employees (thousands), quarterly indicator.", "economic context",
            minimum=1_000, maximum=10_000, example=5099.1),
)  # fmt: skip

FEATURE_NAMES: Final[tuple[str, ...]] = tuple(f.wire_name for f in FEATURES)

LABEL: Final = Label(
    name="y",
    classes=("no", "yes"),
    positive="yes",
    description="Has the client subscribed a term deposit?",
)

_BY_NAME: Final[Mapping[str, Feature]] = {
    **{f.wire_name: f for f in FEATURES},
    **{f.python_name: f for f in FEATURES},
}


def feature(name: str) -> Feature:
    """Look a feature up by wire name (``emp.var.rate``) or Python name (``emp_var_rate``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"{name!r} is not a Bank Marketing feature; the features are {', '.join(FEATURE_NAMES)}"
        ) from None


def parse_value(feat: Feature, raw: object) -> int | float | str | ValueProblem:
    """Check one value against its feature and return it typed, or the problem with it.

    Accepts what a CSV cell or a JSON value can hold: strings are parsed (``"41"`` is a valid age), JSON
    numbers are taken as they are. Booleans are refused for numeric features although Python counts them as
    ints, because ``true`` is never a valid age.
    """
    if feat.kind is FeatureKind.CATEGORY:
        if not isinstance(raw, str):
            return ValueProblem(feat.wire_name, raw, "must be a string")
        if raw not in feat.categories:
            return ValueProblem(feat.wire_name, raw, f"is not one of {', '.join(feat.categories)}")
        return raw
    number = _parse_number(feat, raw)
    if isinstance(number, ValueProblem):
        return number
    if (feat.minimum is not None and number < feat.minimum) or (feat.maximum is not None and number > feat.maximum):
        return ValueProblem(feat.wire_name, raw, f"is outside the range {_fmt(feat.minimum)}..{_fmt(feat.maximum)}")
    return number


def number_from_text(text: str) -> int | float | None:
    """The number a CSV cell or a text field holds (``"41"``, ``" 1.1 "``), or None when it holds none."""
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        try:
            return float(stripped)
        except ValueError:
            return None


def _parse_number(feat: Feature, raw: object) -> int | float | ValueProblem:
    expected = "an integer" if feat.kind is FeatureKind.INTEGER else "a number"
    value: int | float
    if isinstance(raw, bool) or raw is None:
        return ValueProblem(feat.wire_name, raw, f"must be {expected}")
    if isinstance(raw, int | float):
        value = raw
    elif isinstance(raw, str):
        parsed = number_from_text(raw)
        if parsed is None:
            return ValueProblem(feat.wire_name, raw, f"must be {expected}")
        value = parsed
    else:
        return ValueProblem(feat.wire_name, raw, f"must be {expected}")
    if isinstance(value, float) and not math.isfinite(value):
        return ValueProblem(feat.wire_name, raw, f"must be a finite {expected.removeprefix('a').strip()}")
    if feat.kind is FeatureKind.INTEGER:
        if isinstance(value, float):
            if not value.is_integer():
                return ValueProblem(feat.wire_name, raw, "must be an integer")
            value = int(value)
        return value
    return float(value)


def _fmt(bound: float | None) -> str:
    if bound is None:
        return ""
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def check_record(
    record: Mapping[str, object],
    features: tuple[Feature, ...] = FEATURES,
    *,
    allow_label: bool = False,
) -> tuple[dict[str, int | float | str], list[ValueProblem]]:
    """Check one record (keys as wire or Python names) and return it typed, keyed by wire name.

    Returns the typed record and every problem found (missing, unknown and bad fields), so that a caller can
    report them all at once. The record is only usable when the list of problems is empty.
    """
    typed: dict[str, int | float | str] = {}
    problems: list[ValueProblem] = []
    wanted = {f.wire_name for f in features}
    for key, raw in record.items():
        feat = _BY_NAME.get(key)
        if feat is None or feat.wire_name not in wanted:
            if allow_label and key == LABEL.name:
                if raw not in LABEL.classes:
                    problems.append(ValueProblem(key, raw, f"is not one of {', '.join(LABEL.classes)}"))
                else:
                    typed[key] = str(raw)
                continue
            problems.append(ValueProblem(key, raw, "is not an input feature"))
            continue
        if feat.wire_name in typed:
            problems.append(ValueProblem(key, raw, f"repeats {feat.wire_name}"))
            continue
        parsed = parse_value(feat, raw)
        if isinstance(parsed, ValueProblem):
            problems.append(parsed)
        else:
            typed[feat.wire_name] = parsed
    for feat in features:
        if feat.wire_name not in typed and not any(p.field in (feat.wire_name, feat.python_name) for p in problems):
            problems.append(ValueProblem(feat.wire_name, None, "is missing"))
    return typed, problems
