"""docs/reader.md "Tried…": best candidate 0.849 against the top span 0.621, a ranker 0.652.

Which of the reader's candidate spans to answer with: the top score, or a ranker?

    .venv/bin/python research/span_ranker.py dump [--reader DIR] [--out out/spans.pkl]
    .venv/bin/python research/span_ranker.py fit [--out out/spans.pkl]

Validation articles only. ``dump`` answers every question through the pipeline
(threshold off) and keeps every candidate span the reader proposed, with its
facts (qa/confidence.py) and its F1 against the gold answers; ``fit`` compares,
on answerable questions with nothing abstained, the pipeline's old choice (the
highest span score) with a logistic ranker over the candidates' facts fitted
out of fold by article, and with the best candidate (the ceiling).
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

# The facts before the candidates' softmax share and agreement were added.
BEFORE = ("margin", "own_margin", "score", "null", "cosine", "rank", "sentence_overlap")
BEFORE += ("chunk_overlap", "negated", "log_words", "gap")


def dump(reader_dir: Path, out: Path) -> None:
    from eval.metrics import best_over_golds, f1
    from training.calibrate import readings_without_threshold
    from training.data import GOLD_POOL, SILVER_POOL, split_pools

    _, valid, _ = split_pools(GOLD_POOL, SILVER_POOL)
    pairs, candidates = readings_without_threshold(reader_dir, valid, progress=True)
    rows = []
    for (item, _), cands in zip(pairs, candidates, strict=True):
        rows.append(
            {
                "article": item.gold_span.source if item.gold_span else None,
                "answerable": bool(item.golds),
                "cands": [
                    {
                        **c.facts,
                        "f1": best_over_golds(f1, c.text, list(item.golds)) if item.golds else 0.0,
                    }
                    for c in cands or []
                ],
            }
        )
    out.write_bytes(pickle.dumps(rows))
    print(f"{len(rows)} questions, {sum(len(r['cands']) for r in rows)} candidates -> {out}")


def _ranked(rows, names) -> float:
    """HasAns F1 of the out-of-fold ranker's choice, nothing abstained."""
    from sklearn.linear_model import LogisticRegression

    has = [r for r in rows if r["answerable"] and r["cands"]]
    total = 0.0
    for art in sorted({r["article"] for r in has}):
        train = [r for r in rows if r["article"] != art and r["cands"]]
        x = np.array([[c[k] for k in names] for r in train for c in r["cands"]])
        y = np.array([c["f1"] for r in train for c in r["cands"]])
        mean, scale = x.mean(0), x.std(0) + 1e-9
        xs = np.vstack([(x - mean) / scale] * 2)
        ys = np.r_[np.ones(len(y)), np.zeros(len(y))]
        ws = np.r_[y, 1 - y]
        keep = ws > 0
        model = LogisticRegression(C=0.1, max_iter=2000).fit(
            xs[keep], ys[keep], sample_weight=ws[keep]
        )
        for r in has:
            if r["article"] == art:
                x_r = np.array([[c[k] for k in names] for c in r["cands"]])
                total += r["cands"][int(np.argmax(model.decision_function((x_r - mean) / scale)))][
                    "f1"
                ]
    return total


def fit(path: Path) -> None:
    from qa.confidence import FEATURES

    rows = pickle.loads(path.read_bytes())
    has = [r for r in rows if r["answerable"] and r["cands"]]
    n = sum(r["answerable"] for r in rows)
    top = sum(max(r["cands"], key=lambda c: c["score"])["f1"] for r in has)
    ceiling = sum(max(c["f1"] for c in r["cands"]) for r in has)
    print(f"{n} answerable questions ({len(has)} with a candidate); HasAns F1, nothing abstained:")
    print("| choice | HasAns F1 |\n| --- | --- |")
    print(f"| highest span score | {top / n:.3f} |")
    print(
        f"| ranker, out of fold, scores/retrieval/overlap facts | {_ranked(rows, BEFORE) / n:.3f} |"
    )
    print(f"| ranker, out of fold, + share and agreement | {_ranked(rows, FEATURES) / n:.3f} |")
    print(f"| best candidate (ceiling) | {ceiling / n:.3f} |")


def main() -> None:
    from qa.reader import DEFAULT_DIR

    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["dump", "fit"])
    parser.add_argument("--reader", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--out", type=Path, default=Path("out/spans.pkl"))
    args = parser.parse_args()
    dump(args.reader, args.out) if args.what == "dump" else fit(args.out)


if __name__ == "__main__":
    main()
