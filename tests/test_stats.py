"""dllab.stats: the mean, spread and interval over seeds against values computed by hand."""

import math

import pytest

from dllab.stats import describe


def test_describe_against_hand_computed_values():
    d = describe([0.90, 0.92, 0.94])
    assert d["mean"] == pytest.approx(0.92) and d["std"] == pytest.approx(0.02) and d["n"] == 3
    half = 4.302652729911275 * 0.02 / math.sqrt(3)  # Student t, 2 degrees of freedom, 97.5% quantile (tables)
    assert (d["ci_low"], d["ci_high"]) == (pytest.approx(0.92 - half), pytest.approx(0.92 + half))


def test_one_value_has_no_spread_and_none_is_an_error():
    assert describe([0.5]) == {"mean": 0.5, "std": 0.0, "n": 1, "ci_low": 0.5, "ci_high": 0.5}
    with pytest.raises(ValueError, match="at least one value"):
        describe([])
