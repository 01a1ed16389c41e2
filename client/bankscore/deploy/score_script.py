"""Scoring script for a Bank Marketing model on the Azure ML inference server (``azmlinfsrv``).

bankscore copies this file unchanged into every deployment folder as ``score.py``; the same file runs
locally and on Azure ML. It is self-contained on purpose: it needs only the standard library, numpy and the
model's own learner libraries (LightGBM, XGBoost, scikit-learn), never bankscore, so the folder deploys to
Azure as it is. bankscore imports it too, for its pure functions: that is how a release is checked to score
exactly what the trained model scores before its folder is written.

The model folder holds ``scorer.pkl`` (learners reduced to boosters, trees or coefficients, plus category
codes) and ``contract.json`` (the features with their types, categories and ranges, the wire generation,
the model version and the limits), both written by ``bankscore deploy``.

Per request: the raw body is read with a size bound (``@rawhttp``), parsed once, checked column by column
without pandas, encoded and scored. A caller's mistake is a 400 (or 413, 415) with ``{"message": ...}``
naming the record, field and value; never a 500. One JSON line per request goes to the log (request id,
status, latency, record count, model version; never features or keys).

Generation D (an MLflow model on a managed online endpoint, which Azure serves with Microsoft's no-code
``mlflow_score_script.py``): the request is ``{"input_data": {"columns", "index", "data"}, "params":
{"predict_method": "predict" | "predict_proba"}}``, a pandas "split" frame whose columns may come in any order
(columns the model does not use are ignored, ``index`` may be left out, other top-level keys are ignored); a
200 is a bare array, labels or ``{"no": P(no), "yes": P(yes)}`` per row, the same bytes Microsoft's script
answers for the same model (Python's ``json.dumps`` spacing, the model's own doubles). Where that script
fails or guesses, this one says what is wrong, on purpose:

* a missing column, a value of the wrong type (``"age": "x"``, a null), an empty ``data``, an ``index`` of
  another length, an ``input_data`` that is not a split frame, an unknown ``predict_method``: 400 naming the
  field and value, where Microsoft's script answers the generic 500 "An unexpected error occurred in scoring
  script" (and Azure's front end turns that into 424);
* a short (ragged) row: 400, where pandas fills the gap with NaN and the row is scored;
* values the feature contract refuses but MLflow casts: ``"age": "57"`` and ``57.5`` (cast to 57), an unknown
  category or a category sent as a number (scored anyway), a number outside the contract's range: 400, as
  in generations A, B and C;
* ``params`` that is not an object: 400 (MLflow ignores it for a model without a params schema);
* more than 10,000 rows, or a body over the size limit: 400 or 413 (Microsoft's script has no limit).

The server's own answers stay the server's: 400 for a body that is not a JSON object or lacks ``input_data``
(with its words), 415 for another Content-Type. Swagger 2.0 is served for D as well: Microsoft's script has
none for this model under pandas 2 (its example rows mix types, which inference-schema's Swagger 2 refuses)
and serves a document without example rows under pandas 3; one that tools fetching ``GET /swagger.json``
(version 2, the server's default) can use is worth more than copying an accident.

Where the time goes: a one-record request is mostly the server's own work, so the script keeps its share
small: up to SMALL_BATCH rows are scored by every learner's trees in Python (each library's predict call
costs more set-up than walking the trees), and the checks loop without numpy. A request of many records is
mostly parsing, checking and freeing the body, so the body is read in one piece and each column is converted
to floats once and reused for scoring.
"""

from __future__ import annotations

import gc
import io
import json
import math
import os
import pickle
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

# One thread per worker: the server scales with worker processes, and OpenMP threads in every worker fight
# each other for the cores, which costs far more throughput than the threads gain.
# Read when the learner libraries load their OpenMP runtime, i.e. when init() unpickles the model.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # (after the thread setting above)

try:  # orjson parses a large body several times faster than json
    import orjson

    def _loads(raw: bytes) -> Any:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            # Python's json also reads NaN, Infinity, huge numbers, UTF-16/32 and a byte-order mark, which the
            # checks then name precisely; a body neither can read gets json's message, which says where it broke.
            return _loads_slowly(raw)

except ImportError:

    def _loads(raw: bytes) -> Any:
        return _loads_slowly(raw)


try:  # the inference server aliases these modules to its own; outside it they are absent
    from azureml.contrib.services.aml_request import rawhttp
    from azureml.contrib.services.aml_response import AMLResponse
except ImportError:  # imported by bankscore for the pure functions below
    rawhttp = None
    AMLResponse = None

request_globals: Any = None  # inside the server: Flask's per-request globals, which hold the request id
if rawhttp is not None:
    import flask

    request_globals = flask.g

__all__ = [
    "ARTIFACT_FILE",
    "CONTRACT_FILE",
    "InputError",
    "Model",
    "check_columns",
    "check_frame",
    "init",
    "load_model",
    "parse_body",
    "parse_frame",
    "render_result",
    "run",
    "score_body",
]

ARTIFACT_FILE = "scorer.pkl"
CONTRACT_FILE = "contract.json"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_RECORDS = 10_000
METHODS = ("predict", "predict_proba")
MAX_PROBLEMS_SHOWN = 5


class InputError(Exception):
    """A caller's mistake: answered with ``status`` and ``{"message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# Rows, one list of floats per record, in the artifact's column order.
Rows = list[list[float]]
# A learner's small-batch path: P(yes) per row, from the rows as float64 (False) or rounded to float32 (True).
SmallPath = tuple[bool, Callable[[Rows], list[float]]]
# A checked column: a list (few records), a tuple of categories or a float64 array of numbers (many).
Column = Sequence[Any] | np.ndarray[Any, Any]
# A feature's check as plain values: (wire name, kind, allowed categories, lowest, highest).
Check = tuple[str, str, frozenset[str], float, float]

SMALL_BATCH = 16  # up to this many rows, walking the trees in Python beats the libraries' per-call cost
_NEAR_THRESHOLD = 1e-6  # the most a small-batch walk was seen to differ from the library (see _scorer_artifact)
_FLOAT_MAX = sys.float_info.max  # the bound of a number without a range: a larger JSON integer is refused


class Model:
    """The loaded scorer: checks rows against the contract, encodes them and blends the learners."""

    def __init__(self, artifact: Mapping[str, Any], contract: Mapping[str, Any]) -> None:
        self.generation: str = contract["generation"]
        self.model_version: str = str(contract["model_version"])
        self.model_name: str = contract.get("model_name", "bank-marketing")
        # "_allowed": each category list as a frozenset, for the per-value membership test.
        self.features: list[dict[str, Any]] = [
            {**f, "_allowed": frozenset(f.get("categories") or ())} for f in contract["features"]
        ]
        # The same facts as plain tuples for the per-request checks: (name, kind, allowed, low, high).
        self.checks: list[Check] = [
            (
                f["wire_name"],
                f["kind"],
                f["_allowed"],
                -_FLOAT_MAX if f.get("minimum") is None else f["minimum"],
                _FLOAT_MAX if f.get("maximum") is None else f["maximum"],
            )
            for f in self.features
        ]
        names = [f["wire_name"] for f in self.features]
        # One C-level call per record picks every feature in contract order (KeyError if one is missing).
        self.pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            itemgetter(*names) if len(names) > 1 else lambda record: (record[names[0]],)
        )
        self.classes: list[str] = list(contract.get("classes", ["no", "yes"]))
        self.max_records: int = int(contract.get("max_records", DEFAULT_MAX_RECORDS))
        self.max_body_bytes: int = int(contract.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES))
        self.feature_names = frozenset(names)
        self.columns: list[str] = list(artifact["columns"])
        self.codes: list[dict[str, int] | None] = list(artifact["codes"])
        self.members: list[dict[str, Any]] = list(artifact["members"])
        for member in self.members:
            if member["kind"] == "xgboost":
                member["model"].set_param({"nthread": 1})  # see OMP_NUM_THREADS above
        self._total_weight = float(sum(m["weight"] for m in self.members))
        missing = [c for c in self.columns if c not in self.feature_names]
        if missing:
            raise ValueError(f"the scorer needs columns the contract lacks: {missing}")
        small = [(float(m["weight"]), _small_path(m)) for m in self.members]
        # Only when every learner has one: a mixed blend would pay the per-call costs anyway.
        self._small: list[tuple[float, SmallPath]] | None = (
            [(w, path) for w, path in small if path is not None] if all(p is not None for _, p in small) else None
        )
        self._small_needs_float32 = any(path[0] for _, path in self._small or ())
        # LightGBM's and the forests' trees walked in Python add the same doubles in the same order as the
        # libraries, so they agree to the last bit; XGBoost sums in float32 and the linear path may differ from
        # scikit-learn's expit by an ulp. Generation D promises Microsoft's bytes, so it asks for the libraries'
        # own numbers where the walk is not exact (see p_yes's ``exact``).
        self.small_is_exact: bool = all(m["kind"] in ("lightgbm", "forest") for m in self.members)
        # The log line's fixed tail, encoded once.
        self.log_tail: str = json.dumps(
            {"model": self.model_name, "model_version": self.model_version, "generation": self.generation}
        )[1:]

    def p_yes(self, columns: Mapping[str, Column], n: int, *, exact: bool = False) -> np.ndarray[Any, Any]:
        """P(yes) per record, from checked columns keyed by wire name.

        ``exact``: the very doubles the model's libraries give (the small-batch walk only where it is exact).
        """
        if n <= SMALL_BATCH and self._small is not None and (self.small_is_exact or not exact):
            return self._p_yes_small(columns, n)
        z = np.empty((n, len(self.columns)), dtype=np.float64)
        for j, (name, codes) in enumerate(zip(self.columns, self.codes, strict=True)):
            values = columns[name]
            z[:, j] = values if codes is None else list(map(codes.__getitem__, values))
        blended = np.zeros(n, dtype=np.float64)
        for member in self.members:
            blended += member["weight"] * _member_p_yes(member, z)
        return blended / self._total_weight

    def _p_yes_small(self, columns: Mapping[str, Column], n: int) -> np.ndarray[Any, Any]:
        encoded = [
            columns[name] if codes is None else [codes[v] for v in columns[name]]
            for name, codes in zip(self.columns, self.codes, strict=True)
        ]
        rows64: Rows = [[float(v) for v in row] for row in zip(*encoded, strict=True)]
        # XGBoost and scikit-learn compare float32 values, so their rows are rounded as the libraries do.
        rows32: Rows = np.array(rows64, dtype=np.float32).tolist() if self._small_needs_float32 else rows64
        blended = [0.0] * n
        for weight, (float32, path) in self._small or ():
            for i, p in enumerate(path(rows32 if float32 else rows64)):
                blended[i] += weight * p
        return np.array(blended, dtype=np.float64) / self._total_weight


def _member_p_yes(member: Mapping[str, Any], z: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    kind, model = member["kind"], member["model"]
    if kind == "lightgbm":
        # One thread: OpenMP start-up and spinning cost far more than scoring a request's rows.
        return np.asarray(model.predict(z, num_iteration=member.get("num_iteration"), num_threads=1))
    if kind == "xgboost":
        trees = member.get("trees")
        if trees is not None and len(z) <= SMALL_BATCH:
            return np.asarray(_xgboost_small(trees, float(member["base_margin"]), z.astype(np.float32).tolist()))
        return np.asarray(model.inplace_predict(z))
    if kind == "forest":
        # scikit-learn's predict_proba validates and starts joblib on every call; the trees' own predict is
        # far cheaper. Same arithmetic: the mean of the per-tree class fractions.
        z32 = np.ascontiguousarray(z, dtype=np.float32)
        total = np.zeros(len(z), dtype=np.float64)
        for tree in model:
            values = tree.predict(z32)
            total += values[:, 1] / values.sum(axis=1)
        return total / len(model)
    if kind == "linear":
        coef, intercept = model
        return np.asarray(1.0 / (1.0 + np.exp(-(z @ coef + intercept))))
    raise ValueError(f"unknown learner kind {kind!r}")


# ------------------------------------------------------------------------------------- small-batch learners


def _small_path(member: Mapping[str, Any]) -> SmallPath | None:
    """The member's Python path for a few rows, or None where only the library's own predict applies.

    Each learner's trees become one generated Python function (``_compile_*``) when they are small enough to
    compile; otherwise the ``_*_small`` functions walk the same trees from lists. Both add the trees' values
    in the same order, so they agree to the last bit.
    """
    kind, model = member["kind"], member["model"]
    if kind == "xgboost" and member.get("trees") is not None:
        trees, base_margin = member["trees"], float(member["base_margin"])
        margin = _compile_xgboost(trees, base_margin)
        if margin is not None:
            return True, lambda rows: [1.0 / (1.0 + math.exp(-margin(x))) for x in rows]
        return True, lambda rows: _xgboost_small(trees, base_margin, rows)
    if kind == "lightgbm":
        lightgbm = _lightgbm_trees(model, member.get("num_iteration"))
        if lightgbm is None:
            return None
        raw, sigmoid = _compile_lightgbm(lightgbm[0], lightgbm[1]), lightgbm[2]
        if raw is not None:
            return False, lambda rows: [1.0 / (1.0 + math.exp(-sigmoid * raw(x))) for x in rows]
        return False, lambda rows: _lightgbm_small(*lightgbm, rows)
    if kind == "forest":
        forest = _forest_trees(model)
        if forest is None:
            return None
        total, count = _compile_forest(forest), len(forest)
        if total is not None:
            return True, lambda rows: [total(x) / count for x in rows]
        return True, lambda rows: _forest_small(forest, rows)
    if kind == "linear":
        coef, intercept = model
        return False, lambda rows: (1.0 / (1.0 + np.exp(-(np.array(rows) @ coef + intercept)))).tolist()
    return None


# ------------------------------------------------------------------------------------ trees as Python code
#
# A tree walked from lists costs several list lookups per node; the same tree as nested if/else statements
# with its thresholds as constants costs one comparison, so a few rows score in a fraction of the time. The
# code is generated from the model's own numbers only (floats written with repr, which reads back exactly),
# once per worker in init().

# Python's parser takes at most 100 nested indented blocks; deep or huge forests (scikit-learn grows trees
# without a depth limit) keep the list walk.
CODEGEN_MAX_DEPTH = 60
CODEGEN_MAX_NODES = 20_000  # compiling costs time and memory for every split: bounds a worker's start-up


class _NotCompilableError(Exception):
    """The trees cannot become code (too deep, too many nodes, a number repr cannot write)."""


def _number(value: float) -> str:
    value = float(value)
    if not math.isfinite(value):  # repr gives "inf"/"nan", names the generated code does not have
        raise _NotCompilableError
    return repr(value)


# One tree as the generated code reads it: its root node; a node's leaf value (None for a split); and for a
# split, the condition that sends a row left, then the left and right children.
TreeShape = tuple[int, Callable[[int], float | None], Callable[[int], tuple[str, int, int]]]


class _TreeCode:
    """Source lines of one function that adds one value per tree to an accumulator ``acc``."""

    def __init__(self, name: str, start: float) -> None:
        self.name = name
        self.lines = [f"def {name}(x):", f"    acc = {_number(start)}"]
        self.nodes = 0

    def add_tree(self, shape: TreeShape) -> None:
        root, leaf, split = shape

        def emit(node: int, depth: int) -> None:
            indent = "    " * depth
            value = leaf(node)
            if value is not None:
                self.lines.append(f"{indent}acc += {_number(value)}")
                return
            self.nodes += 1
            if depth > CODEGEN_MAX_DEPTH or self.nodes > CODEGEN_MAX_NODES:
                raise _NotCompilableError
            condition, left, right = split(node)
            self.lines.append(f"{indent}if {condition}:")
            emit(left, depth + 1)
            self.lines.append(f"{indent}else:")
            emit(right, depth + 1)

        emit(root, 1)

    def compile(self) -> Callable[[list[float]], float] | None:
        self.lines.append("    return acc")
        try:
            code = compile("\n".join(self.lines), f"<{self.name}>", "exec")
        except (SyntaxError, RecursionError, MemoryError):
            return None
        namespace: dict[str, Any] = {}
        exec(code, namespace)  # noqa: S102 - source generated above from the model's numbers only
        function: Callable[[list[float]], float] = namespace[self.name]
        return function


def _compile_trees(name: str, start: float, shapes: Iterable[TreeShape]) -> Callable[[list[float]], float] | None:
    """One function adding up every tree's leaf for a row, or None when the trees cannot become code."""
    try:
        code = _TreeCode(name, start)
        for shape in shapes:
            code.add_tree(shape)
    except _NotCompilableError:
        return None
    return code.compile()


def _compile_xgboost(trees: Sequence[Sequence[Any]], base_margin: float) -> Callable[[list[float]], float] | None:
    """XGBoost's margin for one float32 row (``x < threshold`` goes left), as in ``_xgboost_small``."""

    def shape(tree: Sequence[Any]) -> TreeShape:
        left, right, feature, threshold, leaf = tree
        return (
            0,
            lambda node: threshold[node] if leaf[node] else None,  # a leaf's value is in threshold
            lambda node: (f"x[{int(feature[node])}] < {_number(threshold[node])}", left[node], right[node]),
        )

    return _compile_trees("xgboost_margin", base_margin, map(shape, trees))


def _compile_lightgbm(trees: list[LightGBMTree], leaves: list[list[float]]) -> Callable[[list[float]], float] | None:
    """LightGBM's raw score for one row, with its categorical and zero-as-missing splits (``_lightgbm_small``)."""

    def shape(tree: LightGBMTree, values: list[float]) -> TreeShape:
        feature, threshold, left, right, categories, zero_left = tree

        def split(node: int) -> tuple[str, int, int]:
            x = f"x[{int(feature[node])}]"
            allowed, zero = categories[node], zero_left[node]
            if allowed is not None:  # a set display of constants after `in` compiles to one frozenset constant
                condition = f"{x} >= 0 and int({x}) in {{{', '.join(str(int(c)) for c in sorted(allowed))}}}"
            elif zero is not None:  # |x| <= kZeroThreshold goes the zero's way, anything else by the threshold
                is_zero = f"{-_LIGHTGBM_ZERO!r} <= {x} <= {_LIGHTGBM_ZERO!r}"
                below = f"{x} <= {_number(threshold[node])}"
                condition = f"{is_zero} or {below}" if zero else f"not ({is_zero}) and {below}"
            else:
                condition = f"{x} <= {_number(threshold[node])}"
            return condition, left[node], right[node]

        # a child below 0 is the leaf ~child; a tree of one leaf has no splits (its root is leaf 0, i.e. -1)
        return (0 if feature else -1), lambda node: values[~node] if node < 0 else None, split

    return _compile_trees("lightgbm_raw", 0.0, (shape(t, v) for t, v in zip(trees, leaves, strict=True)))


def _compile_forest(trees: list[ForestTree]) -> Callable[[list[float]], float] | None:
    """The sum of the trees' P(yes) for one float32 row (``x <= threshold`` goes left), as in ``_forest_small``."""

    def shape(tree: ForestTree) -> TreeShape:
        left, right, feature, threshold, p = tree
        return (
            0,
            lambda node: p[node] if left[node] == -1 else None,
            lambda node: (f"x[{int(feature[node])}] <= {_number(threshold[node])}", left[node], right[node]),
        )

    return _compile_trees("forest_total", 0.0, map(shape, trees))


def _xgboost_small(trees: Sequence[Sequence[Any]], base_margin: float, rows: Rows) -> list[float]:
    """XGBoost's binary:logistic prediction for a few float32 rows, walking the trees in Python.

    Each tree is (left, right, feature, threshold, is_leaf) lists; a leaf's value is in threshold, as XGBoost
    stores it. XGBoost compares float32 values (``x < threshold`` goes left), so both sides are float32.
    """
    out = []
    for x in rows:
        margin = base_margin
        for left, right, feature, threshold, leaf in trees:
            node = 0
            while not leaf[node]:
                node = left[node] if x[feature[node]] < threshold[node] else right[node]
            margin += threshold[node]
        out.append(1.0 / (1.0 + math.exp(-margin)))
    return out


LightGBMTree = tuple[list[int], list[float], list[int], list[int], list[frozenset[int] | None], list[bool | None]]
_LIGHTGBM_ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| at most this is "zero" for missing_type Zero


def _lightgbm_trees(
    booster: Any, num_iteration: int | None
) -> tuple[list[LightGBMTree], list[list[float]], float] | None:
    """A binary LightGBM booster's trees from its public JSON dump, or None for anything else.

    ``dump_model`` chooses the trees exactly as ``predict`` does (``num_iteration``, else the best iteration).
    Each tree: (feature, threshold, left, right, categories, zero_goes_left) per split; a child below 0 is
    the leaf ``~child`` in the tree's leaf values.
    """
    document = booster.dump_model(num_iteration=num_iteration)
    objective = str(document.get("objective", "")).split()
    if document.get("num_tree_per_iteration") != 1 or document.get("average_output") or objective[:1] != ["binary"]:
        return None
    sigmoid = next((float(part.split(":", 1)[1]) for part in objective if part.startswith("sigmoid:")), 1.0)
    trees, leaves = [], []
    for info in document["tree_info"]:
        flat = _flatten_lightgbm(info["tree_structure"])
        if flat is None:
            return None
        trees.append(flat[0])
        leaves.append(flat[1])
    return trees, leaves, sigmoid


def _flatten_lightgbm(root: Mapping[str, Any]) -> tuple[LightGBMTree, list[float]] | None:
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    categories: list[frozenset[int] | None] = []
    zero_left: list[bool | None] = []
    leaves: list[float] = []
    # Iterative, not recursive: an unbounded num_leaves can grow a chain deeper than Python's recursion limit.
    pending: list[tuple[Mapping[str, Any], list[int] | None, int]] = [(root, None, 0)]
    while pending:
        node, parent_side, parent = pending.pop()
        if "split_feature" not in node:
            if "leaf_coeff" in node:  # a linear tree: its leaves are models, not values
                return None
            leaves.append(float(node["leaf_value"]))
            index = ~(len(leaves) - 1)
        else:
            index = len(feature)
            feature.append(int(node["split_feature"]))
            left.append(0)
            right.append(0)
            if node["decision_type"] == "==":  # categories that go left, as "1||4||7"
                categories.append(frozenset(int(c) for c in str(node["threshold"]).split("||")))
                threshold.append(0.0)
                zero_left.append(None)
            elif node["decision_type"] == "<=":
                categories.append(None)
                threshold.append(float(node["threshold"]))
                zero_left.append(bool(node["default_left"]) if node["missing_type"] == "Zero" else None)
            else:
                return None
            pending.append((node["left_child"], left, index))
            pending.append((node["right_child"], right, index))
        if parent_side is not None:
            parent_side[parent] = index
    return (feature, threshold, left, right, categories, zero_left), leaves


def _lightgbm_small(trees: list[LightGBMTree], leaves: list[list[float]], sigmoid: float, rows: Rows) -> list[float]:
    """LightGBM's binary prediction for a few rows, walking the trees as its C++ does (values are finite here)."""
    out = []
    for x in rows:
        raw = 0.0
        for (feature, threshold, left, right, categories, zero_left), values in zip(trees, leaves, strict=True):
            node = 0 if feature else -1  # a tree of one leaf has no splits
            while node >= 0:
                value = x[feature[node]]
                allowed = categories[node]
                if allowed is not None:
                    go_left = value >= 0 and int(value) in allowed
                elif zero_left[node] is not None and -_LIGHTGBM_ZERO <= value <= _LIGHTGBM_ZERO:
                    go_left = bool(zero_left[node])
                else:
                    go_left = value <= threshold[node]
                node = left[node] if go_left else right[node]
            raw += values[~node]
        out.append(1.0 / (1.0 + math.exp(-sigmoid * raw)))
    return out


ForestTree = tuple[list[int], list[int], list[int], list[float], list[float]]


def _forest_trees(trees: Sequence[Any]) -> list[ForestTree] | None:
    """scikit-learn trees as (left, right, feature, threshold, P(yes) per node) lists, or None if not binary."""
    flat = []
    for tree in trees:
        values = np.asarray(tree.value)
        if values.ndim != 3 or values.shape[1:] != (1, 2):
            return None
        counts = values[:, 0, :]
        p = (counts[:, 1] / counts.sum(axis=1)).tolist()  # the same division as the batch path
        flat.append(
            (
                tree.children_left.tolist(),
                tree.children_right.tolist(),
                tree.feature.tolist(),
                tree.threshold.tolist(),
                p,
            )
        )
    return flat


def _forest_small(trees: list[ForestTree], rows: Rows) -> list[float]:
    """The forest's mean P(yes) for a few float32 rows (``x <= threshold`` goes left; -1 marks a leaf)."""
    out = []
    for x in rows:
        total = 0.0
        for left, right, feature, threshold, p in trees:
            node = 0
            while left[node] != -1:
                node = left[node] if x[feature[node]] <= threshold[node] else right[node]
            total += p[node]
        out.append(total / len(trees))
    return out


# ---------------------------------------------------------------------------------------------- request body

# A JSON string, escapes included: left out when counting brackets, as text may hold any.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


class _Unreadable(str):
    """A JSON number Python cannot hold, kept as the caller wrote it so that a message can show it.

    An integer longer than ``int()`` converts (4,300 digits) or a number beyond float range (``1e999``):
    int() would raise ValueError with advice meant for the server's programmer, float() would give an infinity
    the caller never wrote. A str subclass fails every type check, so the record is refused by name.
    """


def _int_or_unreadable(text: str) -> int | _Unreadable:
    try:
        return int(text)
    except ValueError:  # over sys.get_int_max_str_digits()
        return _Unreadable(text)


def _float_or_unreadable(text: str) -> float | _Unreadable:
    number = float(text)
    return number if math.isfinite(number) else _Unreadable(text)


def _deepest(raw: bytes) -> int:
    """How deep arrays and objects nest in ``raw``, counted on its bytes without parsing."""
    codes = np.frombuffer(_JSON_STRING.sub(b"", raw), dtype=np.uint8)
    steps = (codes == ord("[")).astype(np.int32) + (codes == ord("{")) - (codes == ord("]")) - (codes == ord("}"))
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def _loads_slowly(raw: bytes) -> Any:
    """Python's json, for a body orjson refused, with every number kept however large."""
    try:
        # The number hooks cost a tenth of the parse, only on this path: orjson reads the bodies that are right.
        return json.loads(raw, parse_int=_int_or_unreadable, parse_float=_float_or_unreadable)
    except RecursionError:
        # json recurses once per level: past Python's recursion limit (1,000 frames, less the server's own
        # stack) it overflows, where orjson refused at 1,024 levels. Only such a body pays for counting them.
        depth = _deepest(raw)
        raise ValueError(f"arrays and objects nest {depth} levels deep, more than this server reads") from None


def _load_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or the server's own 400s for anything else."""
    try:
        body = _loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(400, f"POST body could not be decoded as JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InputError(400, "POST body should be a JSON dictionary.")
    return body


def parse_body(raw: bytes, generation: str) -> tuple[list[Any], str]:
    """The records and the method a body asks for, in the deployment's wire generation (A, B or C).

    Generation D sends a frame, not records: see ``parse_frame``.
    """
    body = _load_object(raw)
    method = "predict"
    if generation == "C":
        inputs = body.get("Inputs")
        if inputs is None:
            raise InputError(400, "A value is not provided for the 'Inputs' parameter.")
        if not isinstance(inputs, dict) or "data" not in inputs:
            raise InputError(400, 'Inputs must be an object holding "data": [records]')
        data = inputs["data"]
        if "GlobalParameters" in body:
            params = body["GlobalParameters"]
            if not isinstance(params, dict) or "method" not in params:
                raise InputError(
                    400, 'GlobalParameters must be an object holding "method": "predict" or "predict_proba"'
                )
            method = params["method"]
    else:
        if "data" not in body:
            raise InputError(400, "A value is not provided for the 'data' parameter.")
        data = body["data"]
        if generation == "B" and "method" in body:
            method = body["method"]
    if method not in METHODS:
        raise InputError(400, f"method={_shown(method, as_python=True)} is not one of predict, predict_proba")
    if not isinstance(data, list):
        kind = "number" if type(data) is _Unreadable else type(data).__name__
        raise InputError(400, f"data must be a list of records, not {kind}")
    if not data:
        raise InputError(400, "data is empty: send at least one record")
    return data, method


def check_columns(model: Model, rows: list[Any]) -> dict[str, Column]:
    """Check every record against the contract and return the values by column.

    The common case (every record valid) runs column by column; only when something is wrong does the slow
    path walk the records to name each problem's record index, field and value. Up to SMALL_BATCH records
    the columns are lists; beyond, a number column comes back as the float64 array its check built (so
    scoring does not convert it again) and a category column as a tuple.
    """
    if len(rows) > model.max_records:
        raise InputError(400, f"data holds {len(rows)} records; this deployment takes at most {model.max_records}")
    columns: dict[str, Column] = {}
    try:
        width = len(model.checks)
        if not all(type(r) is dict and len(r) == width for r in rows):
            raise LookupError
        if len(rows) <= SMALL_BATCH:
            for check in model.checks:
                few = [r[check[0]] for r in rows]  # KeyError if a record lacks it
                if not _few_ok(check, few):
                    raise LookupError
                columns[check[0]] = few
        else:
            # Transposed in two C-level passes instead of one Python loop per column.
            for check, values in zip(model.checks, zip(*map(model.pick, rows), strict=True), strict=True):
                checked = _many_checked(check, values)
                if checked is None:
                    raise LookupError
                columns[check[0]] = checked
    except LookupError:
        raise InputError(400, _describe_problems(model, rows)) from None
    return columns


# ------------------------------------------------------------------------------ generation D: a split frame

_SPLIT_SHAPE = '{"columns": [...], "index": [...], "data": [[...], ...]}'


def parse_frame(raw: bytes) -> tuple[list[str], list[list[Any]], str]:
    """Generation D: the column names, the rows and the ``predict_method`` a body asks for.

    Only the frame's shape is checked here (a pandas "split" frame whose rows are as wide as its columns);
    ``check_frame`` checks the values against the model. Other top-level keys are ignored, as on Azure.
    """
    body = _load_object(raw)
    if "input_data" not in body:
        raise InputError(400, "A value is not provided for the 'input_data' parameter.")
    frame = body["input_data"]
    if type(frame) is not dict:
        raise InputError(400, f"input_data must be a pandas split frame {_SPLIT_SHAPE}, not {_json_kind(frame)}")
    method = _predict_method(body.get("params"))
    for key in ("columns", "data"):
        if key not in frame:
            raise InputError(400, f"input_data lacks {key!r}: send a pandas split frame {_SPLIT_SHAPE}")
    names, rows = frame["columns"], frame["data"]
    if type(names) is not list:
        raise InputError(400, f"input_data.columns must be an array of column names, not {_json_kind(names)}")
    if not all(type(n) is str for n in names):
        j, name = next((j, n) for j, n in enumerate(names) if type(n) is not str)
        raise InputError(400, f"input_data.columns[{j}]={_shown(name)} must be a string (a column name)")
    if len(set(names)) != len(names):
        seen: set[str] = set()  # a set, not names[:j]: a body may hold a million column names
        for name in names:
            if name in seen:
                raise InputError(400, f"input_data.columns names {_shown(name)} more than once")
            seen.add(name)
    if type(rows) is not list:
        raise InputError(400, f"input_data.data must be an array of rows, not {_json_kind(rows)}")
    if not rows:
        raise InputError(400, "input_data.data is empty: send at least one row")
    width = len(names)
    if not all(type(r) is list and len(r) == width for r in rows):
        i, row = next((i, r) for i, r in enumerate(rows) if type(r) is not list or len(r) != width)
        if type(row) is not list:
            raise InputError(
                400, f"input_data.data[{i}] must be an array of {width} values (one per column), not {_shown(row)}"
            )
        # pandas would fill a short row with NaN and score it; a value missing is a mistake to name instead.
        raise InputError(400, f"input_data.data[{i}] holds {len(row)} values; input_data.columns names {width}")
    if "index" in frame:  # optional: the rows' labels, which the answer does not carry
        index = frame["index"]
        if type(index) is not list:
            raise InputError(400, f"input_data.index must be an array of row labels, not {_json_kind(index)}")
        if len(index) != len(rows):
            raise InputError(
                400,
                f"input_data.index holds {len(index)} labels for {len(rows)} "
                f"row{'s' if len(rows) != 1 else ''} in input_data.data",
            )
    return names, rows, method


def _predict_method(params: Any) -> str:
    """``params.predict_method``; ``params`` left out or null means predict, and its other keys are ignored."""
    if params is None:
        return METHODS[0]
    if type(params) is not dict:
        raise InputError(
            400, f'params must be an object such as {{"predict_method": "predict_proba"}}, not {_shown(params)}'
        )
    method = params.get("predict_method", METHODS[0])
    if type(method) is not str or method not in METHODS:
        raise InputError(400, f"params.predict_method={_shown(method)} is not one of {', '.join(METHODS)}")
    return method


def _json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words (a message must not speak Python to an HTTP caller)."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "a boolean"
    if type(value) in (int, float, _Unreadable):
        return "a number"
    if type(value) is str:
        return "a string"
    return "an array" if type(value) is list else "an object"


def check_frame(model: Model, names: list[str], rows: list[list[Any]]) -> dict[str, Column]:
    """``check_columns`` for a split frame: the model's columns, checked, by name; other columns are ignored.

    The frame is already column-shaped, so many rows are transposed in one C-level pass; only when a value is
    wrong are the rows walked to name each problem's row, field and value.
    """
    if len(rows) > model.max_records:
        raise InputError(
            400, f"input_data.data holds {len(rows)} rows; this deployment takes at most {model.max_records}"
        )
    position = {name: j for j, name in enumerate(names)}
    missing = [check[0] for check in model.checks if check[0] not in position]
    if missing:
        raise InputError(
            400, f"input_data.columns lacks {', '.join(missing)}: the model needs every feature it was trained on"
        )
    columns: dict[str, Column] = {}
    try:
        if len(rows) <= SMALL_BATCH:
            for check in model.checks:
                j = position[check[0]]
                few = [r[j] for r in rows]
                if not _few_ok(check, few):
                    raise LookupError
                columns[check[0]] = few
        else:
            transposed = list(zip(*rows, strict=True))
            for check in model.checks:
                checked = _many_checked(check, transposed[position[check[0]]])
                if checked is None:
                    raise LookupError
                columns[check[0]] = checked
    except LookupError:
        wanted = [(f["wire_name"], position[f["wire_name"]]) for f in model.features]
        records = [{name: row[j] for name, j in wanted} for row in rows]
        raise InputError(400, _describe_problems(model, records, "input_data.data[{}]")) from None
    return columns


def _few_ok(check: Check, values: list[Any]) -> bool:
    """Whether a few values fit the feature, as plain loops (numpy's per-call cost exceeds the work)."""
    _, kind, allowed, low, high = check
    if kind == "category":
        return all(type(v) is str and v in allowed for v in values)
    for v in values:
        if type(v) is float:
            # is_integer() is False for NaN and infinities too; math.isfinite would overflow on a huge int.
            if not (v.is_integer() if kind == "integer" else math.isfinite(v)):
                return False
        elif type(v) is not int:  # bool is its own type, so true/false are refused here too
            return False
        if v < low or v > high:
            return False
    return True


def _many_checked(check: Check, values: Sequence[Any]) -> Column | None:
    """The same test as _few_ok with set and numpy operations: the column ready to score, or None."""
    _, kind, allowed, low, high = check
    types = set(map(type, values))
    if kind == "category":
        return values if types == {str} and allowed.issuperset(values) else None
    if not types <= {int, float}:
        return None
    try:
        array = np.fromiter(values, dtype=np.float64, count=len(values))
    except OverflowError:  # an integer beyond float range
        return None
    if float in types:
        if not np.isfinite(array).all():
            return None
        if kind == "integer" and not np.array_equal(array, np.floor(array)):
            return None
    if array.min() < low or array.max() > high:
        return None
    return array


def _value_problem(feature: Mapping[str, Any], value: Any) -> str | None:
    kind, name = feature["kind"], feature["wire_name"]
    if kind == "category":
        if type(value) is not str:
            return f"{name}={_shown(value)} must be a string"
        if value not in feature["_allowed"]:
            return f"{name}={_shown(value)} is not one of {', '.join(feature['categories'])}"
        return None
    expected = "an integer" if kind == "integer" else "a number"
    shown = _shown(value)
    low, high = feature.get("minimum"), feature.get("maximum")
    if type(value) is _Unreadable:  # a number, only too long or too large for any feature
        if low is None and high is None:
            return f"{name}={shown} is too large for {expected}"
        return f"{name}={shown} is outside the range {_fmt(low)}..{_fmt(high)}"
    if type(value) is not int and (type(value) is not float or not math.isfinite(value)):
        return f"{name}={shown} must be {expected}"
    if kind == "integer" and type(value) is float and not value.is_integer():
        return f"{name}={shown} must be an integer"
    if (low is not None and value < low) or (high is not None and value > high):
        return f"{name}={shown} is outside the range {_fmt(low)}..{_fmt(high)}"
    return None


def _shown(value: Any, limit: int = 60, *, as_python: bool = False) -> str:
    """The value as JSON (or Python's repr), cut short: a long number, string or list stays readable.

    Written without recursion and only as far as ``limit``: a value nested a thousand levels deep (orjson reads
    1,024) would overflow json.dumps or repr, and a megabyte string need not be encoded to show 60 characters.
    """
    scalar = _python_scalar if as_python else _json_scalar
    pieces: list[str] = []
    size = 0
    # Each open array or object: an iterator of (text before the item, item), and the text that closes it.
    open_: list[tuple[Iterator[tuple[str, Any]], str]] = [(iter((("", value),)), "")]
    while open_ and size <= limit:
        items, close = open_[-1]
        before, item = next(items, ("", _DONE))
        if item is _DONE:
            open_.pop()
            piece = close
        elif isinstance(item, list):
            open_.append(((("" if i == 0 else ", ", v) for i, v in enumerate(item)), "]"))
            piece = before + "["
        elif isinstance(item, dict):
            keyed = (("" if i == 0 else ", ") + scalar(k[: limit + 1]) + ": " for i, k in enumerate(item))
            open_.append((zip(keyed, item.values(), strict=True), "}"))
            piece = before + "{"
        else:
            piece = before + scalar(item)
        pieces.append(piece)
        size += len(piece)
    text = "".join(pieces)
    return text if len(text) <= limit else text[:limit] + "..."


_DONE = object()  # marks the end of an array or object in _shown


def _json_scalar(value: Any) -> str:
    if type(value) is _Unreadable:
        return str.__str__(value)  # the number as written
    if isinstance(value, str) and len(value) > 200:
        value = value[:200]  # enough for any limit; cut before encoding, not after
    return json.dumps(value)  # as the caller wrote it: NaN and Infinity included


def _python_scalar(value: Any) -> str:
    if type(value) is _Unreadable:
        return str.__str__(value)
    return repr(value[:200] if isinstance(value, str) else value)


def _fmt(bound: float | None) -> str:
    return "" if bound is None else (str(int(bound)) if float(bound).is_integer() else str(bound))


def _describe_problems(model: Model, rows: list[Any], where: str = "record {}") -> str:
    problems: list[str] = []
    for index, row in enumerate(rows):
        # Lazily: a record with a hundred thousand unknown keys costs no more than five problems.
        problems.extend(islice(_record_problems(model, where.format(index), row), MAX_PROBLEMS_SHOWN - len(problems)))
        if len(problems) >= MAX_PROBLEMS_SHOWN:
            break
    return "; ".join(problems) or "the records do not fit the model's features"


def _record_problems(model: Model, where: str, row: Any) -> Iterator[str]:
    if type(row) is not dict:
        yield f"{where}: must be an object of feature: value, not {_shown(row, 80)}"
        return
    for name in row:
        if name not in model.feature_names:
            shown = name if len(name) <= 60 else name[:60] + "..."
            yield f"{where}: {shown} is not an input feature of this model"
    for feature in model.features:
        if feature["wire_name"] not in row:
            yield f"{where}: {feature['wire_name']} is missing"
            continue
        problem = _value_problem(feature, row[feature["wire_name"]])
        if problem:
            yield f"{where}: {problem}"


def render_result(model: Model, method: str, p_yes: np.ndarray[Any, Any]) -> Any:
    """The 200 body in the deployment's generation: A/B double-encode (a JSON string), C and D are plain JSON.

    D answers a bare array, as MLflow's pyfunc output reaches the wire: labels, or with predict_proba one
    ``{"no": P(no), "yes": P(yes)}`` object per row (the model's DataFrame as records).
    """
    no, yes = model.classes
    if method == "predict_proba":
        if model.generation == "D":
            return [{no: 1.0 - p, yes: p} for p in p_yes.tolist()]
        result: list[Any] = [[1.0 - p, p] for p in p_yes.tolist()]
    else:
        result = [yes if p >= 0.5 else no for p in p_yes.tolist()]
    if model.generation == "D":
        return result
    if model.generation == "C":
        return {"Results": result}
    return json.dumps({"result": result})  # the server JSON-encodes this string again, as AutoML's scripts did


def score_body(model: Model, raw: bytes) -> tuple[Any, int]:
    """Parse, check and score one body; return the result and the number of records."""
    columns, records, method = _checked_body(model, raw)
    return render_result(model, method, _p_yes(model, columns, records, method)), records


def _p_yes(model: Model, columns: Mapping[str, Column], n: int, method: str) -> np.ndarray[Any, Any]:
    """P(yes) per record; in generation D the same doubles Microsoft's script gets from the model itself."""
    if model.generation != "D" or model.small_is_exact:
        return model.p_yes(columns, n)
    if method == "predict_proba":
        return model.p_yes(columns, n, exact=True)
    p_yes = model.p_yes(columns, n)
    # A label can differ only where the walk's last bits cross the threshold: score those few rows again.
    if n <= SMALL_BATCH and any(abs(p - 0.5) <= _NEAR_THRESHOLD for p in p_yes.tolist()):
        return model.p_yes(columns, n, exact=True)
    return p_yes


def _checked_body(model: Model, raw: bytes) -> tuple[dict[str, Column], int, str]:
    """The body's checked columns, its number of records and the method it asks for."""
    if model.generation == "D":
        names, frame_rows, method = parse_frame(raw)
        return check_frame(model, names, frame_rows), len(frame_rows), method
    rows, method = parse_body(raw, model.generation)
    return check_columns(model, rows), len(rows), method


# --------------------------------------------------------------------------------------------------- loading


def load_model(model_dir: str | os.PathLike[str]) -> Model:
    """Load ``scorer.pkl`` and ``contract.json`` from ``model_dir`` (searched recursively, as Azure nests them)."""
    root = Path(model_dir)
    found = sorted(root.rglob(CONTRACT_FILE))
    if not found:
        raise FileNotFoundError(f"no {CONTRACT_FILE} under {root}")
    folder = found[0].parent
    contract = json.loads((folder / CONTRACT_FILE).read_text(encoding="utf-8"))
    with (folder / ARTIFACT_FILE).open("rb") as fh:
        artifact = pickle.load(fh)  # noqa: S301 - the deployment's own model file, written by bankscore
    return Model(artifact, contract)


_MODEL: Model | None = None


def init() -> None:
    """Called once per worker by the inference server: load the model."""
    global _MODEL  # noqa: PLW0603 - the server's init()/run() contract keeps state at module level
    model_dir = os.environ.get("AZUREML_MODEL_DIR") or str(Path(__file__).resolve().parent / "azureml-models")
    _MODEL = load_model(model_dir)
    # The libraries and the model live as long as the worker: take them out of the collector's generations
    # so that no full collection walks them again, which would stall the request it happens in.
    gc.collect()
    gc.freeze()


# ------------------------------------------------------------------------------------------------- the route


def _respond(status: int, body: Any) -> Any:
    return AMLResponse(body, status, json_str=True) if AMLResponse is not None else (body, status)


def _request_id() -> str:
    try:
        return str(getattr(request_globals, "request_id", "")) if request_globals is not None else ""
    except RuntimeError:  # no request context: called outside a request
        return ""


def _log(model: Model, status: int, started: float, records: int, method: str) -> None:
    # print() inside run() goes to the server's azmlinfsrv.print logger, which also feeds Application Insights.
    # Built as text around the model's pre-encoded tail: the same JSON as json.dumps of the whole dict.
    latency = round((time.perf_counter() - started) * 1000, 3)
    print(
        f'{{"event": "score", "request_id": {json.dumps(_request_id())}, "status": {status}, '
        f'"latency_ms": {latency!r}, "records": {records}, "method": {json.dumps(method)}, {model.log_tail}',
        flush=True,
    )


def _read_body(request: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body.

    gunicorn's body object copies what it reads 1 KB at a time, which is slow for a large body; its reader
    underneath takes the socket's chunks whole. Anything else reads as usual.
    """
    environ = getattr(request, "environ", None)
    stream = environ.get("wsgi.input") if isinstance(environ, dict) else None
    reader, buffered = getattr(stream, "reader", None), getattr(stream, "buf", None)
    # Only gunicorn's own Body with nothing read yet; any other shape (another gunicorn) reads as usual.
    if type(stream).__module__ == "gunicorn.http.body" and isinstance(buffered, io.BytesIO) and not buffered.tell():
        return bytes(getattr(reader, "read", request.stream.read)(limit))
    return bytes(request.stream.read(limit))


def _handle(request: Any) -> Any:
    started = time.perf_counter()
    model = _MODEL
    if model is None:
        raise RuntimeError("init() has not loaded the model")
    # The server passes Flask's request proxy; every attribute read through it costs a context lookup.
    request = getattr(request, "_get_current_object", lambda: request)()
    records, method, status = 0, "", 200
    try:
        if request.method == "OPTIONS":  # an empty 200, as the server answers OPTIONS itself
            return AMLResponse("", 200) if AMLResponse is not None else ("", 200)
        if request.method != "POST":
            raise InputError(405, "send the records with POST and Content-Type: application/json")
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise InputError(415, "Expects Content-Type to be application/json")
        length = request.content_length
        if length is not None and length > model.max_body_bytes:
            raise InputError(413, f"the body has {length} bytes; this deployment takes at most {model.max_body_bytes}")
        raw = _read_body(request, model.max_body_bytes + 1)
        if len(raw) > model.max_body_bytes:
            raise InputError(413, f"the body exceeds {model.max_body_bytes} bytes")
        # Inline, not _checked_body: the log line names the method even when the records are refused.
        if model.generation == "D":
            names, frame_rows, method = parse_frame(raw)
            columns = check_frame(model, names, frame_rows)
            records = len(frame_rows)
        else:
            rows, method = parse_body(raw, model.generation)
            columns = check_columns(model, rows)
            records = len(rows)
        return _respond(200, render_result(model, method, _p_yes(model, columns, records, method)))
    except InputError as exc:
        status = exc.status
        return _respond(exc.status, {"message": exc.message})
    except Exception:
        status = 500  # the server answers it; the log line must say so too
        raise
    finally:
        _log(model, status, started, records, method)


run: Callable[[Any], Any] = rawhttp(_handle) if rawhttp is not None else _handle
