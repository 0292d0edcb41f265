"""Would a non-linear combination decide better than the logistic one?

    .venv/bin/python research/combiner_forms.py dump [--reader DIR] [--out out/readings.pkl]
    .venv/bin/python research/combiner_forms.py fit [--out out/readings.pkl]

Validation articles only. ``dump`` answers every question through the pipeline
with the threshold off (``training.calibrate.readings_without_threshold``) and
keeps the pairs and each question's candidates; ``fit`` scores, out of fold by
article exactly as ``training.calibrate.fit_combiner`` does, the product's
logistic combination and two richer forms over the same facts: logistic with
every pairwise product of the facts, and gradient-boosted trees
(scikit-learn's ``HistGradientBoostingClassifier``). Each row is the balanced
point (overall / HasAns / NoAns) on the validation articles.
"""

from __future__ import annotations

import argparse
import itertools
import pickle
from pathlib import Path

import numpy as np


def dump(reader_dir: Path, out: Path) -> None:
    from training.calibrate import readings_without_threshold
    from training.data import GOLD_POOL, SILVER_POOL, split_pools

    _, valid, _ = split_pools(GOLD_POOL, SILVER_POOL)
    pairs, candidates = readings_without_threshold(reader_dir, valid, progress=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pickle.dumps((pairs, candidates)))
    print(f"{len(pairs)} questions -> {out}")


def _matrix(cands, names) -> np.ndarray:
    return np.array([[c.facts[n] for n in names] for c in cands], dtype=float)


def _products(x: np.ndarray) -> np.ndarray:
    cols = [x] + [x[:, [i]] * x[:, [j]] for i, j in itertools.combinations(range(x.shape[1]), 2)]
    return np.hstack(cols)


class _Form:
    """fit(x, y, w) then prob(x): one way of turning facts into a probability."""

    def __init__(self, kind: str):
        self.kind = kind

    def fit(self, x, y, w):
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if self.kind == "trees":
            self.model = HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40
            )
        else:
            self.model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
        x = _products(x) if self.kind == "products" else x
        if self.kind == "trees":
            self.model.fit(x, y, sample_weight=w)
        else:
            self.model.fit(x, y, logisticregression__sample_weight=w)
        return self

    def prob(self, x):
        x = _products(x) if self.kind == "products" else x
        return self.model.predict_proba(x)[:, 1]


def _rows(candidates, rows, names):
    xs, ys, ws = [], [], []
    for i in rows:
        x = _matrix(candidates[i], names)
        for k, cand in enumerate(candidates[i]):
            for label, weight in ((1, cand.right), (0, 1.0 - cand.right)):
                if weight > 0:
                    xs.append(x[k])
                    ys.append(label)
                    ws.append(weight)
    return np.array(xs), np.array(ys), np.array(ws)


def out_of_fold(pairs, candidates, kind: str) -> dict:
    from qa.confidence import FEATURES
    from training.calibrate import _article, best_threshold

    scored = [i for i, c in enumerate(candidates) if c and not pairs[i][1].abstained]
    articles = sorted({a for i in scored if (a := _article(pairs[i][0])) is not None})
    scores: list[float | None] = [None] * len(pairs)
    texts: list[str | None] = [None] * len(pairs)
    for i in scored:
        scores[i] = -np.inf
    for article in articles:
        held = [i for i in scored if _article(pairs[i][0]) == article]
        rest = [i for i in scored if _article(pairs[i][0]) != article]
        form = _Form(kind).fit(*_rows(candidates, rest, FEATURES))
        for i in held:
            p = form.prob(_matrix(candidates[i], FEATURES))
            best = int(np.argmax(p))
            scores[i], texts[i] = float(p[best]), candidates[i][best].text
    threshold, figures = best_threshold(pairs, scores, texts)
    return {"threshold": threshold, **figures}


def fit(path: Path) -> None:
    pairs, candidates = pickle.loads(path.read_bytes())
    print("| combination (out of fold by article) | overall F1 | HasAns F1 | NoAns |")
    print("| --- | --- | --- | --- |")
    for kind in ("logistic", "products", "trees"):
        f = out_of_fold(pairs, candidates, kind)
        print(f"| {kind} | {f['f1']:.3f} | {f['HasAns_f1']:.3f} | {f['NoAns_f1']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("dump", "fit"))
    parser.add_argument("--reader", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("out/readings.pkl"))
    args = parser.parse_args()
    if args.step == "dump":
        from qa.reader import DEFAULT_DIR

        dump(args.reader or DEFAULT_DIR, args.out)
    else:
        fit(args.out)


if __name__ == "__main__":
    main()
