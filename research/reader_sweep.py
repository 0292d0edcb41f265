"""Chunks read by the trained reader, measured on the validation articles only.

    .venv/bin/python research/reader_sweep.py [--chunks 2 3 4 6]

For each setting every validation question is answered through the pipeline with
no threshold, then the best threshold is found by replay (training/calibrate.py),
so each row is that setting at its own best threshold.
"""

from __future__ import annotations

import argparse
import math

from training.calibrate import best_threshold
from training.data import GOLD_POOL, SILVER_POOL, split_pools


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, nargs="+", default=[2, 3, 4, 6])
    args = parser.parse_args()

    from eval.runner import ours, prepare_index, run_dataset
    from qa.pipeline import AnswerSettings, Assistant

    _, valid, _ = split_pools(GOLD_POOL, SILVER_POOL)
    index_dir, holder = prepare_index(valid)
    print("| chunks | threshold | overall F1 | HasAns F1 | NoAns |")
    print("| --- | --- | --- | --- | --- |")
    try:
        for chunks in args.chunks:
            settings = AnswerSettings(chunks=chunks, reader_threshold=-math.inf)
            assistant = Assistant(index_dir, settings)
            run = run_dataset(valid, ours(index_dir, assistant), "sweep", progress=False)
            t, fig = best_threshold([(r.item, r.answer) for r in run.results])
            print(
                f"| {chunks} | {t:+.2f} | {fig['f1']:.3f} | {fig['HasAns_f1']:.3f} "
                f"| {fig['NoAns_f1']:.3f} |",
                flush=True,
            )
    finally:
        holder.cleanup()


if __name__ == "__main__":
    main()
