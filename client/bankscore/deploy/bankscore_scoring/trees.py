"""Each learner's trees as plain lists, and the walks that score a few rows from them as the libraries do."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .facts import Rows

__all__ = [
    "LIGHTGBM_ZERO",
    "ForestTree",
    "LightGBMTree",
    "forest_small",
    "forest_trees",
    "lightgbm_small",
    "lightgbm_trees",
    "xgboost_small",
]

LightGBMTree = tuple[list[int], list[float], list[int], list[int], list[frozenset[int] | None], list[bool | None]]
LIGHTGBM_ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| at most this is "zero" for missing_type Zero


def lightgbm_trees(
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


def lightgbm_small(trees: list[LightGBMTree], leaves: list[list[float]], sigmoid: float, rows: Rows) -> list[float]:
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
                elif zero_left[node] is not None and -LIGHTGBM_ZERO <= value <= LIGHTGBM_ZERO:
                    go_left = bool(zero_left[node])
                else:
                    go_left = value <= threshold[node]
                node = left[node] if go_left else right[node]
            raw += values[~node]
        out.append(1.0 / (1.0 + math.exp(-sigmoid * raw)))
    return out


ForestTree = tuple[list[int], list[int], list[int], list[float], list[float]]


def forest_trees(trees: Sequence[Any]) -> list[ForestTree] | None:
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


def forest_small(trees: list[ForestTree], rows: Rows) -> list[float]:
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


def xgboost_small(trees: Sequence[Sequence[Any]], base_margin: float, rows: Rows) -> list[float]:
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
