"""docs/reader.md "Window length and stride": 128 / 192 / 254-piece chunks, 0.524 / 0.543 / 0.516.

How long should the passages the reader reads be? The committed reader on other chunkings.

    .venv/bin/python research/chunk_window.py [--sizes 128:24,192:32,254:40] [--reader DIR]

The reader has no sliding windows of its own: it reads each retrieved chunk
whole (a chunk is at most ``ChunkingConfig.max_tokens`` word pieces, 192 by
default, consecutive chunks sharing up to ``overlap_tokens``, 32), so the
index's chunking is its window length and stride. This indexes the validation
articles with each ``MAX:OVERLAP`` setting, answers every question through the
pipeline with the threshold off (``training.calibrate.readings_without_threshold``)
and prints the balanced point of the product's own combination, refitted out of
fold by article (``training.calibrate.fit_combiner``), and of the margin alone.

Inference only: the reader was trained on 192-token chunks, so a length that
wins here would then need a training run on its chunking (``training/data.py``
pairs questions with the chunks the same index returns). Validation articles
only; never run on the benchmark dev subset.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import tempfile
from pathlib import Path


def balanced_points(reader_dir: Path, max_tokens: int, overlap: int) -> dict:
    import eval.runner
    from index.config import ChunkingConfig
    from training.calibrate import best_threshold, fit_combiner, readings_without_threshold
    from training.data import GOLD_POOL, SILVER_POOL, split_pools

    _, valid, _ = split_pools(GOLD_POOL, SILVER_POOL)
    chunking = ChunkingConfig(max_tokens=max_tokens, overlap_tokens=overlap)
    original = eval.runner.update_index
    eval.runner.update_index = functools.partial(original, chunking=chunking)
    try:
        pairs, candidates = readings_without_threshold(reader_dir, valid, progress=True)
    finally:
        eval.runner.update_index = original
    _, margin = best_threshold(pairs)
    _, combined = fit_combiner(pairs, candidates)
    return {"margin": margin, "combined": combined}


def with_room(reader_dir: Path, max_tokens: int, work: Path) -> Path:
    """The reader with ``max_length`` raised so a longer chunk is read whole, not cut.

    ``max_length`` is a reading setting in ``reader.json``, not one of the
    digested files, so a copy with a larger one loads and verifies as before.
    """
    config = json.loads((reader_dir / "reader.json").read_text(encoding="utf-8"))
    needed = max_tokens + config["max_question_tokens"] + 3
    if needed <= config["max_length"]:
        return reader_dir
    copy = work / f"reader-{max_tokens}"
    shutil.copytree(reader_dir, copy)
    config["max_length"] = needed
    (copy / "reader.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128:24,192:32,254:40", help="MAX:OVERLAP,...")
    parser.add_argument("--reader", type=Path, default=None)
    args = parser.parse_args()
    from qa.reader import DEFAULT_DIR

    reader_dir = args.reader or DEFAULT_DIR
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for item in args.sizes.split(","):
            max_tokens, overlap = (int(v) for v in item.split(":"))
            reader = with_room(reader_dir, max_tokens, Path(work))
            got = balanced_points(reader, max_tokens, overlap)
            rows.append((max_tokens, overlap, got))
            print(json.dumps({"max_tokens": max_tokens, "overlap": overlap, **got}), flush=True)
    print("| chunk (word pieces) / overlap | combined overall / HasAns / NoAns | margin alone |")
    print("| --- | --- | --- |")
    for max_tokens, overlap, got in rows:
        c, m = got["combined"], got["margin"]
        print(
            f"| {max_tokens} / {overlap} | {c['f1']:.3f} / {c['HasAns_f1']:.3f} / "
            f"{c['NoAns_f1']:.3f} | {m['f1']:.3f} |"
        )


if __name__ == "__main__":
    main()
