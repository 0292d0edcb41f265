"""docs/reader.md "Tried…": the 2- and 3-epoch weights averaged, 0.498 against 0.497.

Does averaging two trained readers' weights read better? Validation articles only.

    .venv/bin/python research/weight_average.py A.pt B.pt [--alphas 0.5] [--out out/avg]

A and B are ``seedqa train-reader`` checkpoints (``WORK/checkpoint.pt``) from the
same base model; each row is ``alpha * A + (1 - alpha) * B``, exported as the
product exports a reader, then scored as ``train-reader`` scores it: span F1 and
null accuracy on every third validation chunk, and the balanced point with open
retrieval on the six held-out articles (training/run.py ``calibrate``, which
also writes each folder's ``training.json`` with both figures).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.5])
    parser.add_argument("--out", type=Path, default=Path("out/avg"))
    parser.add_argument("--work", type=Path, default=Path("out/run3/work"))
    args = parser.parse_args()

    import torch

    from index.embedding import model_dir
    from qa.reader import TOKENIZER_FILE, Tokenizer
    from training.data import GOLD_POOL, SILVER_POOL, DataSettings, load_examples, split_pools
    from training.export import write_reader
    from training.loop import TrainSettings, featurise, load_base_model
    from training.run import TrainReport, calibrate, chunk_metrics, reading_config

    base = model_dir()
    tokenizer = Tokenizer(base / TOKENIZER_FILE)
    settings = TrainSettings()
    _, valid_set, _ = split_pools(GOLD_POOL, SILVER_POOL)
    watched = load_examples(next(args.work.glob("examples-validation-*.jsonl")))[::3]
    features = featurise(watched, tokenizer, settings)
    sa = torch.load(args.a, map_location="cpu", weights_only=False)["model"]
    sb = torch.load(args.b, map_location="cpu", weights_only=False)["model"]
    print(
        "| alpha | val span F1 | val null acc | threshold | overall F1 | HasAns F1 | NoAns "
        "| combined (oof) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for alpha in args.alphas:
        model = load_base_model(base)
        mixed = {
            k: (alpha * sa[k].float() + (1 - alpha) * sb[k].float()).to(sa[k].dtype)
            if sa[k].is_floating_point()
            else sa[k]
            for k in sa
        }
        model.load_state_dict(mixed)
        model.eval()
        chunks = chunk_metrics(model, features, watched, tokenizer.pad)
        out = args.out / f"alpha-{alpha:g}"
        write_reader(model, base / TOKENIZER_FILE, out, reading_config(settings))
        # As `seedqa train-reader` finishes a reader: threshold, combination, card, record.
        empty = TrainReport(out, [], 0.0, 0.0, {}, {})
        pools = (GOLD_POOL, SILVER_POOL)
        calibrate(out, valid_set, empty, settings, DataSettings(), *pools, False, False, print)
        record = json.loads((out / "training.json").read_text())
        m, c = record["validation_margin_only"], record["validation_combined_out_of_fold"] or {}
        print(
            f"| {alpha:g} | {chunks['val_span_f1']} | {chunks['val_null_acc']} "
            f"| {record['threshold']:+.2f} | {m['f1']:.3f} | {m['HasAns_f1']:.3f} "
            f"| {m['NoAns_f1']:.3f} "
            f"| {c.get('f1', 0):.3f} / {c.get('HasAns_f1', 0):.3f} / {c.get('NoAns_f1', 0):.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
