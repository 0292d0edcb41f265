"""The span ranker's features and its fit (logic only: no model)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from qa.ranking import FEATURES, SpanFacts, best, contenders, features, weights_of
from research.fit_ranker import _choice_f1, _fit, _regain

SENTENCE = (
    "In 1998 the company Azercosmos sealed cooperation agreements with SatADSL and Globecast."
)


def _facts(text: str, total: float = -5.0, greedy: bool = False) -> SpanFacts:
    return SpanFacts(text, total, total / 3, 3, 0.0, greedy, SENTENCE, SENTENCE.index(text))


def _feature(question: str, text: str, name: str) -> float:
    return float(features(question, _facts(text))[FEATURES.index(name)])


def test_span_facts_read_like_a_squad_reader_would():
    q = "Who did Azercosmos seal cooperation agreements with?"
    # The answer sits next to the question's words and does not repeat them.
    assert _feature(q, "SatADSL and Globecast", "repeats_question") == 0.0
    assert _feature(q, "cooperation agreements", "repeats_question") == 1.0
    assert _feature(q, "SatADSL and Globecast", "distance") == np.log1p(1)  # "with" between
    assert _feature(q, "1998", "distance") > _feature(q, "SatADSL and Globecast", "distance")
    # A "who" question wants a name; a "when" question a number.
    assert _feature(q, "SatADSL and Globecast", "type_match") == 1.0
    assert _feature("When were the agreements sealed?", "1998", "type_match") == 1.0
    assert _feature("When were the agreements sealed?", "SatADSL", "type_match") == -1.0
    assert _feature("What did Azercosmos seal?", "1998", "type_match") == 0.0
    assert _feature(q, SENTENCE.rstrip("."), "whole_sentence") == 1.0


def test_weights_decide_and_first_wins_ties():
    spans = [_facts("1998", -2.0, greedy=True), _facts("SatADSL and Globecast", -4.0)]
    q = "Who did Azercosmos seal cooperation agreements with?"
    assert best(q, spans, weights_of(total_logprob=1.0)) == 0
    assert best(q, spans, weights_of(total_logprob=1.0, type_match=5.0)) == 1
    assert best(q, spans, weights_of()) == 0


def test_fit_learns_which_feature_marks_the_right_span():
    rng = np.random.default_rng(0)
    problems = []
    for _ in range(60):
        x = rng.normal(size=(4, len(FEATURES)))
        right = int(rng.integers(4))
        x[right, FEATURES.index("type_match")] += 3.0  # the right span has the right shape
        y = np.zeros(4)
        y[right] = 1.0
        problems.append((x, y))
    w = _fit(problems, l2=0.01)
    assert int(np.argmax(np.abs(w))) == FEATURES.index("type_match")
    assert _choice_f1(problems, w) > 0.9 > _choice_f1(problems, np.asarray(weights_of(greedy=1)))


def test_question_gain_is_what_the_question_added_to_the_likelihood():
    q = "Who did Azercosmos seal cooperation agreements with?"
    measured = SpanFacts("SatADSL", -2.0, -1.0, 2, 0.0, False, SENTENCE, 46, question_gain=7.0)
    assert float(features(q, measured)[FEATURES.index("question_gain")]) == 7.0
    # Not measured (no null prompt read): the feature is silent, not -inf.
    assert _feature(q, "SatADSL", "question_gain") == 0.0
    # A span the model likes whatever is asked loses to one the question points at.
    subject = SpanFacts("Azercosmos", -1.5, -0.7, 2, 0.0, True, SENTENCE, 17, question_gain=-0.5)
    weights = weights_of(total_logprob=1.0, question_gain=1.0)
    assert best(q, [subject, measured], weights_of(total_logprob=1.0)) == 0
    assert best(q, [subject, measured], weights) == 1


def test_only_spans_that_can_win_without_the_gain_are_read_again():
    q = "Who did Azercosmos seal cooperation agreements with?"
    spans = [
        SpanFacts("1998", -6.0, -6.0, 1, 0.0, True, SENTENCE, 3, question_gain=9.0),
        SpanFacts("SatADSL", -1.0, -0.5, 2, 0.0, False, SENTENCE, 60),
        SpanFacts("Globecast", -3.0, -1.0, 3, 0.0, False, SENTENCE, 72),
    ]
    # A gain already measured does not promote a span: it is what is to be read.
    assert contenders(q, spans, 2, weights_of(total_logprob=1.0, question_gain=1.0)) == [1, 2]
    assert contenders(q, spans, 5, weights_of(total_logprob=1.0)) == [1, 2, 0]


def _dumped(text: str, total: float, lps: list[float], null_lps: list[float]) -> dict:
    facts = SpanFacts(text, total, total / len(lps), len(lps), 0.0, False, SENTENCE, 0)
    return {
        "facts": asdict(facts),
        "fits": True,
        "lps": lps,
        "stop": -0.5,
        "null_lps": null_lps,
        "null_stop": -2.5,
        "n_tokens": len(lps),
    }


def test_replayed_gains_are_the_pipelines_formula_on_fewer_tokens_and_spans():
    best_span = _dumped("SatADSL", -2.0, [-1.0, -0.5], [-3.0, -1.5])
    other = _dumped("Globecast", -4.0, [-2.0, -1.5], [-2.5, -1.5])
    row = {"q": "Who did Azercosmos seal agreements with?", "cands": [best_span, other]}

    def gains(**cut) -> list[float | None]:
        (replayed,) = _regain([row], cut.get("tokens"), cut.get("spans"))
        return [c["facts"]["question_gain"] for c in replayed["cands"]]

    # Every token read: the tokens' gain plus the end's (-0.5 against -2.5).
    assert gains() == [3.0 + 2.0, 0.5 + 2.0]
    assert gains(tokens=1) == [2.0, 0.5]  # cut: no end score
    assert gains(spans=1) == [5.0, None]  # only the best span by the other features
    assert row["cands"][1]["facts"]["question_gain"] is None  # the dump is left as it was
