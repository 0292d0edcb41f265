"""docs/reader.md "Tried…": logistic 0.543 against pairwise products 0.535, trees 0.524.

Would a non-linear combination decide better than the logistic one?

    .venv/bin/python research/combiner_forms.py dump [--reader DIR] [--out out/readings.pkl]
    .venv/bin/python research/combiner_forms.py fit [--out out/readings.pkl]

Validation articles only. ``dump`` answers every question through the pipeline
with the threshold off (``training.calibrate.readings_without_threshold``) and
keeps the pairs and each question's candidates; ``fit`` scores, out of fold by
article with the product's own ``training.calibrate.out_of_fold``, the product's
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

    def _x(self, x: np.ndarray) -> np.ndarray:
        return _products(x) if self.kind == "products" else x

    def fit(self, x, y, w):
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        from training.calibrate import C

        x = self._x(x)
        if self.kind == "trees":
            self.scaler = None
            self.model = HistGradientBoostingClassifier(
                max_iter=200,
                learning_rate=0.05,
                max_leaf_nodes=15,
                min_samples_leaf=40,
                random_state=0,  # its early stopping holds out a random tenth
            )
        else:
            self.scaler = StandardScaler().fit(x)
            x = self.scaler.transform(x)
            self.model = LogisticRegression(C=C, max_iter=3000)
        self.model.fit(x, y, sample_weight=w)
        return self

    def prob(self, x):
        x = self._x(x)
        if self.scaler is not None:
            x = self.scaler.transform(x)
        return self.model.predict_proba(x)[:, 1]


def figures_for(pairs, candidates, kind: str) -> dict:
    """The balanced point of one form, out of fold by article as the product's own fit is."""
    from qa.confidence import FEATURES
    from training.calibrate import _training_rows, out_of_fold

    def fit(rows):
        return _Form(kind).fit(*_training_rows(pairs, candidates, rows))

    def choose_one(form, cands):
        p = form.prob(_matrix(cands, FEATURES))
        best = int(np.argmax(p))
        return float(p[best]), cands[best].text

    threshold, figures = out_of_fold(pairs, candidates, fit, choose_one)
    return {"threshold": threshold, **figures}


def fit(path: Path) -> None:
    pairs, candidates = pickle.loads(path.read_bytes())
    print("| combination (out of fold by article) | overall F1 | HasAns F1 | NoAns |")
    print("| --- | --- | --- | --- |")
    for kind in ("logistic", "products", "trees"):
        f = figures_for(pairs, candidates, kind)
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
