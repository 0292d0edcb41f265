"""Should Gemma answer where the reader just misses its threshold? Validation articles only.

    .venv/bin/python research/gemma_fallback.py [--lowest -4]

Every validation question is answered by the reader with no threshold (its
margin recorded), and by Gemma 3 270M (span-constrained, its own abstention
rules) wherever the reader's margin lies in [--lowest, threshold). Replaying
"the reader's answer above its threshold; Gemma's between LOW and the
threshold; abstain below" for each LOW prints the frontier, beside the reader
alone. Never run on the benchmark dev subset.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from eval.metrics import best_over_golds, f1
from training.calibrate import MARGIN
from training.data import GOLD_POOL, SILVER_POOL, split_pools


def figures(preds: list[str], golds: list[list[str]]) -> dict:
    has = [best_over_golds(f1, p, g) for p, g in zip(preds, golds, strict=True) if g]
    no = [float(p == "") for p, g in zip(preds, golds, strict=True) if not g]
    return {
        "f1": float(np.mean(has + no)),
        "HasAns_f1": float(np.mean(has)),
        "NoAns_f1": float(np.mean(no)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lowest", type=float, default=-4.0)
    args = parser.parse_args()

    from tqdm import tqdm

    from eval.runner import ours, prepare_index, run_dataset
    from qa.pipeline import AnswerSettings, Assistant
    from qa.reader import get_reader

    threshold = get_reader().config.threshold
    _, valid, _ = split_pools(GOLD_POOL, SILVER_POOL)
    index_dir, holder = prepare_index(valid)
    try:
        reader = Assistant(index_dir, AnswerSettings(reader_threshold=-math.inf))
        run = run_dataset(valid, ours(index_dir, reader), "reader", progress=True)
        gemma = Assistant(index_dir, AnswerSettings(synthesiser="gemma"))
        rows = []
        for r in tqdm(run.results, desc="Gemma in the band", unit="question"):
            margin = r.answer.signals.get(MARGIN)
            late = (
                not r.answer.abstained and margin is not None and args.lowest <= margin < threshold
            )
            second = gemma.answer(r.item.case.question) if late else None
            rows.append((r, margin, second))
    finally:
        holder.cleanup()

    golds = [list(r.item.golds) for r, _, _ in rows]

    def reader_only(r, margin) -> str:
        if r.answer.abstained:
            return ""
        return r.answer.text if margin is None or margin >= threshold else ""

    base = figures([reader_only(r, m) for r, m, _ in rows], golds)
    asked = sum(1 for *_, g in rows if g is not None)
    band = f"[{args.lowest}, {threshold:+.2f})"
    print(f"{len(rows)} questions; Gemma asked on {asked} (reader margin in {band})")
    print("| Gemma from margin | overall F1 | HasAns F1 | NoAns | Gemma answers |")
    print("| --- | --- | --- | --- | --- |")
    alone = f"{base['f1']:.3f} | {base['HasAns_f1']:.3f} | {base['NoAns_f1']:.3f}"
    print(f"| (reader alone) | {alone} | 0 |")
    for low in np.arange(args.lowest, threshold, 0.5):
        preds, used = [], 0
        for r, margin, second in rows:
            pred = reader_only(r, margin)
            if not pred and second is not None and margin >= low and not second.abstained:
                pred, used = second.text, used + 1
            preds.append(pred)
        fig = figures(preds, golds)
        print(
            f"| {low:+.2f} | {fig['f1']:.3f} | {fig['HasAns_f1']:.3f} | {fig['NoAns_f1']:.3f} "
            f"| {used} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
