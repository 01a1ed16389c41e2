"""Trees as Python code: one generated function per learner, for scoring a few rows."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .trees import LIGHTGBM_ZERO, ForestTree, LightGBMTree

__all__ = ["CODEGEN_MAX_DEPTH", "CODEGEN_MAX_NODES", "compile_forest", "compile_lightgbm", "compile_xgboost"]

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


def compile_xgboost(trees: Sequence[Sequence[Any]], base_margin: float) -> Callable[[list[float]], float] | None:
    """XGBoost's margin for one float32 row (``x < threshold`` goes left), as in ``xgboost_small``."""

    def shape(tree: Sequence[Any]) -> TreeShape:
        left, right, feature, threshold, leaf = tree
        return (
            0,
            lambda node: threshold[node] if leaf[node] else None,  # a leaf's value is in threshold
            lambda node: (f"x[{int(feature[node])}] < {_number(threshold[node])}", left[node], right[node]),
        )

    return _compile_trees("xgboost_margin", base_margin, map(shape, trees))


def compile_lightgbm(trees: list[LightGBMTree], leaves: list[list[float]]) -> Callable[[list[float]], float] | None:
    """LightGBM's raw score for one row, with its categorical and zero-as-missing splits (``lightgbm_small``)."""

    def shape(tree: LightGBMTree, values: list[float]) -> TreeShape:
        feature, threshold, left, right, categories, zero_left = tree

        def split(node: int) -> tuple[str, int, int]:
            x = f"x[{int(feature[node])}]"
            allowed, zero = categories[node], zero_left[node]
            if allowed is not None:  # a set display of constants after `in` compiles to one frozenset constant
                condition = f"{x} >= 0 and int({x}) in {{{', '.join(str(int(c)) for c in sorted(allowed))}}}"
            elif zero is not None:  # |x| <= kZeroThreshold goes the zero's way, anything else by the threshold
                is_zero = f"{-LIGHTGBM_ZERO!r} <= {x} <= {LIGHTGBM_ZERO!r}"
                below = f"{x} <= {_number(threshold[node])}"
                condition = f"{is_zero} or {below}" if zero else f"not ({is_zero}) and {below}"
            else:
                condition = f"{x} <= {_number(threshold[node])}"
            return condition, left[node], right[node]

        # a child below 0 is the leaf ~child; a tree of one leaf has no splits (its root is leaf 0, i.e. -1)
        return (0 if feature else -1), lambda node: values[~node] if node < 0 else None, split

    return _compile_trees("lightgbm_raw", 0.0, (shape(t, v) for t, v in zip(trees, leaves, strict=True)))


def compile_forest(trees: list[ForestTree]) -> Callable[[list[float]], float] | None:
    """The sum of the trees' P(yes) for one float32 row (``x <= threshold`` goes left), as in ``forest_small``."""

    def shape(tree: ForestTree) -> TreeShape:
        left, right, feature, threshold, p = tree
        return (
            0,
            lambda node: p[node] if left[node] == -1 else None,
            lambda node: (f"x[{int(feature[node])}] <= {_number(threshold[node])}", left[node], right[node]),
        )

    return _compile_trees("forest_total", 0.0, map(shape, trees))
