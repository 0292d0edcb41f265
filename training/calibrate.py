"""The answer threshold and the answer/abstain combination, chosen on held-out articles.

The validation articles are indexed together (as ``seedqa eval`` indexes a
SQuAD file) and every question is answered through the real pipeline with the
new reader and no threshold; each answer records the reader's margin (best
span score minus the no-answer score) and the other facts of
``qa/confidence.py``. Replaying the scores against every candidate threshold
gives the overall SQuAD v2 F1 each would score, exactly, because the
threshold is the last decision the pipeline takes.

Thresholds are chosen for the balanced point (:func:`objective`). The
combination (logistic regression over those facts, soft labels: an
answerable question's answer counts as right by its F1) is scored
out-of-fold, each article predicted by a fit on the others, and its threshold
chosen on those out-of-fold scores, so its validation figure is not fitted to
the questions it is measured on; the weights kept are then fitted on all.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from eval.datasets import Dataset
from eval.metrics import best_over_golds, f1
from eval.runner import ours, prepare_index, run_dataset

MARGIN = "reader_margin"
SCORE = "answer_score"


def answers_without_threshold(reader_dir: Path, dataset: Dataset, *, progress: bool = False):
    """(case, answer) for every question, answered with the threshold off."""
    from qa.pipeline import AnswerSettings, Assistant
    from qa.reader import Reader

    index_dir, holder = prepare_index(dataset)
    try:
        assistant = Assistant(
            index_dir,
            AnswerSettings(reader_threshold=-np.inf, reader_combine=False),
            reader=Reader(reader_dir),
        )
        run = run_dataset(dataset, ours(index_dir, assistant), "reader", progress=progress)
        return [(r.item, r.answer) for r in run.results]
    finally:
        holder.cleanup()


def replay(pairs, threshold: float, scores: list[float | None] | None = None) -> dict:
    """SQuAD v2 figures if answers scoring below ``threshold`` had abstained.

    ``scores``: one per pair (default: each answer's margin); an answer without
    a score (a description) does not pass the threshold.
    """
    has, no = [], []
    for i, (item, answer) in enumerate(pairs):
        score = answer.signals.get(MARGIN) if scores is None else scores[i]
        answered = not answer.abstained and (score is None or score >= threshold)
        pred = answer.text if answered else ""
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


def best_threshold(pairs, scores: list[float | None] | None = None) -> tuple[float, dict]:
    """The threshold with the best :func:`objective` (midway between two scores)."""
    if scores is None:
        scores = [a.signals.get(MARGIN) for _, a in pairs]
    values = sorted(
        {v for (_, a), v in zip(pairs, scores, strict=True) if not a.abstained and v is not None}
    )
    if not values:
        return 0.0, replay(pairs, 0.0, scores)
    cuts = [values[0] - 1.0]
    cuts += [(a + b) / 2 for a, b in itertools.pairwise(values)]
    cuts.append(values[-1] + 1.0)
    scored = [(objective(replay(pairs, t, scores)), -abs(t), t) for t in cuts]
    _, _, threshold = max(scored)
    return round(float(threshold), 4), replay(pairs, threshold, scores)


def _training_rows(pairs, rows: list[int]):
    """Feature rows with soft labels: (X, y, weight) for logistic regression."""
    from qa.confidence import FEATURES

    x, y, w = [], [], []
    for i in rows:
        item, answer = pairs[i]
        features = [answer.signals[f"reader_{name}"] for name in FEATURES]
        right = best_over_golds(f1, answer.text, list(item.golds)) if item.golds else 0.0
        for label, weight in ((1, right), (0, 1.0 - right)):
            if weight > 0:
                x.append(features)
                y.append(label)
                w.append(weight)
    return np.array(x), np.array(y), np.array(w)


def _fit(pairs, rows: list[int]):
    """Standardisation and logistic weights, or None when the rows hold one class only."""
    from sklearn.linear_model import LogisticRegression

    x, y, w = _training_rows(pairs, rows)
    if len(set(y.tolist())) < 2:
        return None
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit((x - mean) / scale, y, sample_weight=w)
    return mean, scale, model.coef_[0], float(model.intercept_[0])


def fit_combiner(pairs):
    """The combination and its out-of-fold validation figures, or None with too few rows."""
    from qa.confidence import FEATURES, Combiner

    scored = [
        i
        for i, (_, a) in enumerate(pairs)
        if not a.abstained and all(f"reader_{n}" in a.signals for n in FEATURES)
    ]
    articles = sorted({pairs[i][0].gold_span.source for i in scored if pairs[i][0].gold_span})
    if len(articles) < 2 or len(scored) < 20:
        return None, None
    out_of_fold: list[float | None] = [None] * len(pairs)
    for article in articles:
        held = [i for i in scored if pairs[i][0].gold_span.source == article]
        rest = [i for i in scored if pairs[i][0].gold_span.source != article]
        fitted = _fit(pairs, rest)
        if fitted is None:
            return None, None  # too few right answers to learn from (a quick run)
        mean, scale, coef, bias = fitted
        part = Combiner(tuple(mean), tuple(scale), tuple(coef), bias, 0.0)
        for i in held:
            signals = pairs[i][1].signals
            out_of_fold[i] = part.probability({n: signals[f"reader_{n}"] for n in FEATURES})
    threshold, figures = best_threshold(pairs, out_of_fold)
    fitted = _fit(pairs, scored)
    if fitted is None:
        return None, None
    mean, scale, coef, bias = fitted
    combiner = Combiner(
        tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, coef)), bias, threshold
    )
    return combiner, figures


def choose_threshold(reader_dir: Path, dataset: Dataset, *, progress: bool = False):
    """(margin threshold, its figures, combiner or None, its out-of-fold figures)."""
    pairs = answers_without_threshold(reader_dir, dataset, progress=progress)
    threshold, figures = best_threshold(pairs)
    combiner, combined = fit_combiner(pairs)
    return threshold, figures, combiner, combined
