"""The answer/abstain combination's facts and its stored form (qa/confidence.py)."""

from __future__ import annotations

import math

import pytest

from qa.confidence import FEATURES, Combiner, agreement


def test_agreement_sums_the_share_of_candidates_with_the_same_words():
    prob, votes = agreement([2.0, 1.0, 0.0], ["TRT World", "Azercosmos", "trt world."])
    assert math.isclose(sum(prob), 1.0)
    assert prob[0] > prob[1] > prob[2]
    assert math.isclose(votes[0], prob[0] + prob[2])
    assert math.isclose(votes[2], votes[0])
    assert math.isclose(votes[1], prob[1])
    assert agreement([], []) == ([], [])


def test_agreement_is_stable_for_large_scores():
    prob, _ = agreement([900.0, 899.0], ["a", "b"])
    assert math.isclose(prob[0], 1 / (1 + math.exp(-1.0)))


def test_a_combiner_keeps_the_facts_it_was_fitted_on():
    old = {
        "features": ["margin", "cosine"],
        "mean": [0.0, 0.5],
        "scale": [1.0, 0.1],
        "weights": [1.0, 0.0],
        "bias": 0.0,
        "threshold": 0.5,
    }
    combiner = Combiner.from_config(old)
    assert combiner is not None and combiner.features == ("margin", "cosine")
    assert math.isclose(combiner.probability({"margin": 0.0, "cosine": 0.9}), 0.5)
    assert combiner.probability({"margin": 3.0, "cosine": 0.9}) > 0.9
    assert Combiner.from_config(combiner.to_config()) == combiner
    assert Combiner.from_config(None) is None


def test_a_combiner_naming_an_unknown_fact_is_refused():
    raw = {
        "features": ["margin", "moon_phase"],
        "mean": [0.0, 0.0],
        "scale": [1.0, 1.0],
        "weights": [1.0, 1.0],
        "bias": 0.0,
        "threshold": 0.5,
    }
    with pytest.raises(ValueError, match="moon_phase"):
        Combiner.from_config(raw)
    assert {"gap", "prob", "votes"} <= set(FEATURES)
