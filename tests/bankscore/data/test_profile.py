"""The data profile, checked against pandas' own statistics of the same file."""

from __future__ import annotations

import json

import pytest

from bankscore.data import load_training_data, profile
from bankscore.features import FEATURES, FeatureKind


def test_profile_matches_pandas_describe() -> None:
    pd = pytest.importorskip("pandas")
    data = load_training_data()
    prof = profile(data)
    frame = data.to_pandas()
    assert prof.rows == len(frame) == 32_950
    assert prof.label_counts == {"no": 29_258, "yes": 3_692}
    assert prof.positive_rate == pytest.approx(3_692 / 32_950)
    described = frame.describe()
    for col in prof.numeric:
        stats = described[col.name]
        assert col.count == stats["count"]
        assert col.mean == pytest.approx(stats["mean"], rel=1e-12)
        assert col.std == pytest.approx(stats["std"], rel=1e-9)
        assert (col.min, col.p25, col.median, col.p75, col.max) == pytest.approx(
            (stats["min"], stats["25%"], stats["50%"], stats["75%"], stats["max"])
        )
    for cat in prof.categories:
        assert cat.counts == frame[cat.name].value_counts().to_dict()
    assert {c.name for c in prof.categories} == {f.wire_name for f in FEATURES if f.kind is FeatureKind.CATEGORY}
    assert pd is not None


def test_profile_lists_unseen_categories_and_round_trips_to_json() -> None:
    prof = profile(load_training_data())
    month = next(c for c in prof.categories if c.name == "month")
    assert month.unseen == ["jan", "feb"]
    data = json.loads(json.dumps(prof.to_dict()))
    assert data["rows"] == 32_950 and data["label_counts"]["yes"] == 3_692
    assert data["categories"][0]["name"] == "job"
    text = prof.render()
    assert "rows 32,950" in text and "yes 3,692 (11.2%)" in text and "jan 0" in text
