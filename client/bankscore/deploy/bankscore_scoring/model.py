"""The loaded scorer: the contract's checks as plain values, the learners, and P(yes) for checked columns."""

from __future__ import annotations

import json
import math
import os
import pickle
import sys
from collections.abc import Callable, Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from .codegen import compile_forest, compile_lightgbm, compile_xgboost
from .facts import (
    ARTIFACT_FILE,
    CONTRACT_FILE,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_RECORDS,
    SMALL_BATCH,
    Check,
    Column,
    Rows,
    SmallPath,
)
from .trees import forest_small, forest_trees, lightgbm_small, lightgbm_trees, xgboost_small

__all__ = ["Model", "load_model"]

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
            return np.asarray(xgboost_small(trees, float(member["base_margin"]), z.astype(np.float32).tolist()))
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
        margin = compile_xgboost(trees, base_margin)
        if margin is not None:
            return True, lambda rows: [1.0 / (1.0 + math.exp(-margin(x))) for x in rows]
        return True, lambda rows: xgboost_small(trees, base_margin, rows)
    if kind == "lightgbm":
        lightgbm = lightgbm_trees(model, member.get("num_iteration"))
        if lightgbm is None:
            return None
        raw, sigmoid = compile_lightgbm(lightgbm[0], lightgbm[1]), lightgbm[2]
        if raw is not None:
            return False, lambda rows: [1.0 / (1.0 + math.exp(-sigmoid * raw(x))) for x in rows]
        return False, lambda rows: lightgbm_small(*lightgbm, rows)
    if kind == "forest":
        forest = forest_trees(model)
        if forest is None:
            return None
        total, count = compile_forest(forest), len(forest)
        if total is not None:
            return True, lambda rows: [total(x) / count for x in rows]
        return True, lambda rows: forest_small(forest, rows)
    if kind == "linear":
        coef, intercept = model
        return False, lambda rows: (1.0 / (1.0 + np.exp(-(np.array(rows) @ coef + intercept)))).tolist()
    return None


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
