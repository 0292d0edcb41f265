"""The combination's fit and replay (training/calibrate.py), on made-up candidates.

Logic only: the real fit on real answers runs in test_train_reader.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.confidence import FEATURES
from training.calibrate import _Candidate, choose, fit_combiner, replay


@dataclass
class _Span:
    source: str


@dataclass
class _Case:
    id: str
    history: tuple = ()


@dataclass
class _Item:
    case: _Case
    golds: tuple[str, ...]
    gold_span: _Span


@dataclass
class _Answer:
    text: str
    abstained: bool = False
    signals: dict = field(default_factory=dict)


def _facts(**named: float) -> dict[str, float]:
    return {name: named.get(name, 0.0) for name in FEATURES}


def _questions(n_articles: int = 4, per_article: int = 12):
    """Answerable questions whose right span is the one with high "votes" (not the top
    score), and unanswerable ones whose candidates all have low votes."""
    pairs, candidates = [], []
    for a in range(n_articles):
        for q in range(per_article):
            answerable = q % 2 == 0
            # The last field is the span's F1 against the gold answers.
            right = _Candidate("right answer", _facts(score=1.0, votes=0.9, prob=0.4), 1.0)
            wrong = _Candidate("wrong words", _facts(score=2.0, votes=0.1, prob=0.6), 0.0)
            item = _Item(_Case(f"{a}-{q}"), ("right answer",) if answerable else (), _Span(str(a)))
            if answerable:
                cands = [wrong, right]
            else:
                cands = [
                    _Candidate("wrong words", _facts(score=2.0, votes=0.2, prob=0.6), 0.0),
                    _Candidate("other words", _facts(score=1.0, votes=0.1, prob=0.4), 0.0),
                ]
            pairs.append((item, _Answer(cands[0].text, signals={"reader_margin": 1.0})))
            candidates.append(cands)
    return pairs, candidates


def test_the_combination_chooses_among_candidates_out_of_fold():
    pairs, candidates = _questions()
    assert replay(pairs, 0.0)["HasAns_f1"] == 0.0  # the top score is always wrong
    combiner, figures = fit_combiner(pairs, candidates)
    assert combiner is not None and combiner.features == FEATURES
    assert figures["HasAns_f1"] == 1.0 and figures["NoAns_f1"] == 1.0
    for (item, _), cands in zip(pairs, candidates, strict=True):
        value, text = choose(combiner, cands)
        assert (value >= combiner.threshold) == bool(item.golds)
        if item.golds:
            assert text == "right answer"


def test_unreplayable_and_abstained_questions_keep_their_own_answers():
    pairs, candidates = _questions()
    item = _Item(_Case("multi"), ("their own",), _Span("0"))
    pairs.append((item, _Answer("their own")))
    candidates.append(None)  # read twice (a question in two parts): not replayed
    gone = _Item(_Case("gone"), ("x",), _Span("1"))
    pairs.append((gone, _Answer("", abstained=True)))
    candidates.append([])
    _, figures = fit_combiner(pairs, candidates)
    answerable = sum(1 for i, _ in pairs if i.golds)
    # Every made-up answerable question right, the unreplayed one too; the abstained one 0.
    assert abs(figures["HasAns_f1"] - (answerable - 1) / answerable) < 1e-9


def test_too_few_questions_fit_nothing():
    pairs, candidates = _questions(n_articles=1, per_article=4)
    assert fit_combiner(pairs, candidates) == (None, None)
