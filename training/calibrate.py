"""The answer threshold and the answer/abstain combination, chosen on held-out articles.

The validation articles are indexed together (as ``seedqa eval`` indexes a
SQuAD file) and every question is answered through the real pipeline with the
new reader and no threshold; each answer records the reader's margin (best
span score minus the no-answer score), and the pipeline hands over every
candidate span it considered with the facts of ``qa/confidence.py``.
Replaying the scores against every candidate threshold gives the overall
SQuAD v2 F1 each would score, exactly for the margin (the threshold is the
last decision the pipeline takes) and for the combination up to the
enumeration a list question's answer is widened to.

Thresholds are chosen for the balanced point (:func:`objective`). The
combination (logistic regression over the candidates' facts, soft labels: a
candidate counts as right by its F1 against the gold answers, an
unanswerable question's candidates as wrong) chooses each question's most
probable candidate and is thresholded on that probability. It is scored
out-of-fold, each article's questions chosen and scored by a fit on the
others, and its threshold chosen on those out-of-fold scores, so its
validation figure is not fitted to the questions it is measured on; the
weights kept are then fitted on all.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.datasets import Dataset
from eval.metrics import best_over_golds, f1
from eval.runner import ours, prepare_index, run_dataset

MARGIN = "reader_margin"
SCORE = "answer_score"


def answers_without_threshold(reader_dir: Path, dataset: Dataset, *, progress: bool = False):
    """(case, answer) for every question, answered with the threshold off."""
    return readings_without_threshold(reader_dir, dataset, progress=progress)[0]


def readings_without_threshold(
    reader_dir: Path, dataset: Dataset, *, progress: bool = False, record=None
):
    """The (case, answer) pairs, answered with the threshold off and the top span
    chosen, and each question's candidate spans (None unless the question was
    read once, without history: only then is a choice among them replayable).

    ``record(choice, item)`` is what is kept of each candidate (default
    :meth:`_Candidate.of`); research keeps more of it.
    """
    from qa.pipeline import AnswerSettings, Assistant
    from qa.reader import Reader

    index_dir, holder = prepare_index(dataset)
    try:
        assistant = Assistant(
            index_dir,
            AnswerSettings(reader_threshold=-np.inf, reader_combine=False),
            reader=Reader(reader_dir),
        )
        reads: list[list] = []
        assistant.on_candidates = reads.append
        answer_one = ours(index_dir, assistant)
        candidates: dict[str, list | None] = {}

        def answer(item):
            reads.clear()
            got = answer_one(item)
            single = len(reads) == 1 and not item.case.history
            found = [(record or _Candidate.of)(c, item) for c in reads[0]] if single else None
            candidates[item.case.id] = found
            return got

        run = run_dataset(dataset, answer, "reader", progress=progress)
        pairs = [(r.item, r.answer) for r in run.results]
        return pairs, [candidates[item.case.id] for item, _ in pairs]
    finally:
        holder.cleanup()


@dataclass(frozen=True)
class _Candidate:
    """A candidate span's words, facts and F1 against the question's gold answers
    (0 for an unanswerable question): ``qa.choice.Choice`` without its chunk."""

    text: str
    facts: dict[str, float]
    right: float

    @classmethod
    def of(cls, choice, item) -> _Candidate:
        text = choice.hit.chunk.text[choice.start : choice.end]
        right = best_over_golds(f1, text, list(item.golds)) if item.golds else 0.0
        return cls(text, dict(choice.facts), right)


def replay(
    pairs,
    threshold: float,
    scores: list[float | None] | None = None,
    texts: list[str | None] | None = None,
) -> dict:
    """SQuAD v2 figures if answers scoring below ``threshold`` had abstained.

    ``scores``: one per pair (default: each answer's margin); an answer without
    a score (a description, a header field) is not held to the threshold.
    ``texts``: the answer each pair would give instead of its own (None: its own).
    """
    has, no = [], []
    for i, (item, answer) in enumerate(pairs):
        score = answer.signals.get(MARGIN) if scores is None else scores[i]
        answered = not answer.abstained and (score is None or score >= threshold)
        text = answer.text if texts is None or texts[i] is None else texts[i]
        pred = text if answered else ""
        value = best_over_golds(f1, pred, list(item.golds))
        (has if item.golds else no).append(value)
    both = has + no
    return {
        "f1": float(np.mean(both)) if both else 0.0,
        "HasAns_f1": float(np.mean(has)) if has else 0.0,
        "NoAns_f1": float(np.mean(no)) if no else 0.0,
        "questions": len(both),
    }


def objective(figures: dict) -> tuple[float, float]:
    """What a threshold is chosen for: the worse of HasAns F1 and NoAns, then overall F1.

    Not overall F1 alone: on the validation articles its best threshold
    abstains on most answerable questions (HasAns F1 0.21 for NoAns 0.86,
    overall 0.53), because an unanswerable question abstained on scores 1
    while an answer scores its F1 (0.6 on average). A reader that says "I
    don't know" to most answerable questions is the complaint people have of
    local document chat; the balanced point gives up neither side.
    """
    return min(figures["HasAns_f1"], figures["NoAns_f1"]), figures["f1"]


def best_threshold(
    pairs, scores: list[float | None] | None = None, texts: list[str | None] | None = None
) -> tuple[float, dict]:
    """The threshold with the best :func:`objective` (midway between two scores)."""
    if scores is None:
        scores = [a.signals.get(MARGIN) for _, a in pairs]
    values = sorted(
        {v for (_, a), v in zip(pairs, scores, strict=True) if not a.abstained and v is not None}
    )
    if not values:
        return 0.0, replay(pairs, 0.0, scores, texts)
    cuts = [values[0] - 1.0]
    cuts += [(a + b) / 2 for a, b in itertools.pairwise(values)]
    cuts.append(values[-1] + 1.0)
    scored = [(objective(replay(pairs, t, scores, texts)), -abs(t), t) for t in cuts]
    _, _, threshold = max(scored)
    return round(float(threshold), 4), replay(pairs, threshold, scores, texts)


# Regularisation of the combination, out of fold on the validation articles: with
# the final facts the balanced point is 0.536 / 0.535 / 0.533 / 0.533 at C = 0.01 /
# 0.1 / 1 / 10 (2026-12-01), so the choice hardly matters; 0.1 stays.
C = 0.1


def _training_rows(pairs, candidates, rows: list[int]):
    """Every candidate of the questions ``rows`` as a feature row with soft labels:
    (X, y, weight) for logistic regression, "right" weighted by the span's F1."""
    from qa.confidence import FEATURES

    x, y, w = [], [], []
    for i in rows:
        for cand in candidates[i]:
            features = [cand.facts[name] for name in FEATURES]
            for label, weight in ((1, cand.right), (0, 1.0 - cand.right)):
                if weight > 0:
                    x.append(features)
                    y.append(label)
                    w.append(weight)
    return np.array(x), np.array(y), np.array(w)


def _fit(pairs, candidates, rows: list[int]):
    """The combination fitted on ``rows``' candidates, or None when they hold one class."""
    from sklearn.linear_model import LogisticRegression

    from qa.confidence import FEATURES, Combiner

    x, y, w = _training_rows(pairs, candidates, rows)
    if len(set(y.tolist())) < 2:
        return None
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=w)
    return Combiner(
        tuple(map(float, mean)),
        tuple(map(float, scale)),
        tuple(map(float, model.coef_[0])),
        float(model.intercept_[0]),
        0.0,
        FEATURES,
    )


def choose(combiner, cands) -> tuple[float, str]:
    """The pipeline's choice among a question's candidates: (probability, words)."""
    values = [combiner.probability(c.facts) for c in cands]
    best = max(range(len(cands)), key=lambda k: (values[k], -k))
    return values[best], cands[best].text


def fit_combiner(pairs, candidates):
    """The combination and its out-of-fold validation figures, or (None, None) with too few.

    Out of fold by article (:func:`out_of_fold`); the weights kept are then
    fitted on every answered question's candidates.
    """
    from dataclasses import replace

    folds = out_of_fold(pairs, candidates, lambda rows: _fit(pairs, candidates, rows), choose)
    if folds is None:
        return None, None
    threshold, figures = folds
    fitted = _fit(pairs, candidates, _scored(pairs, candidates))
    if fitted is None:
        return None, None
    return replace(fitted, threshold=threshold), figures


def out_of_fold(pairs, candidates, fit, choose_one):
    """The balanced threshold and its figures when each article is decided by a fit on the others.

    ``fit(rows)`` fits a model on the candidates of the questions ``rows`` (None:
    too few right answers to learn from); ``choose_one(model, cands)`` is that
    model's (probability, words) for one question. Each article's answered
    questions get theirs from a fit on the other articles, and the threshold is
    chosen on those. None when there are too few articles or questions.
    """
    scored = _scored(pairs, candidates)
    articles = sorted({a for i in scored if (a := _article(pairs[i][0])) is not None})
    if len(articles) < 2 or len(scored) < 20:
        return None
    scores: list[float | None] = [None] * len(pairs)
    texts: list[str | None] = [None] * len(pairs)
    for i in scored:
        scores[i] = -np.inf  # abstains unless its article is held out below (it has one)
    for article in articles:
        held = [i for i in scored if _article(pairs[i][0]) == article]
        model = fit([i for i in scored if _article(pairs[i][0]) != article])
        if model is None:
            return None  # too few right answers to learn from (a quick run)
        for i in held:
            scores[i], texts[i] = choose_one(model, candidates[i])
    return best_threshold(pairs, scores, texts)


def _scored(pairs, candidates) -> list[int]:
    """The questions the combination decides: answered, with candidates to choose from."""
    return [i for i, c in enumerate(candidates) if c and not pairs[i][1].abstained]


def _article(item) -> str | None:
    return item.gold_span.source if item.gold_span else None


def choose_threshold(reader_dir: Path, dataset: Dataset, *, progress: bool = False):
    """(margin threshold, its figures, combiner or None, its out-of-fold figures)."""
    pairs, candidates = readings_without_threshold(reader_dir, dataset, progress=progress)
    threshold, figures = best_threshold(pairs)
    combiner, combined = fit_combiner(pairs, candidates)
    return threshold, figures, combiner, combined
