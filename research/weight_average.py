"""Does averaging two trained readers' weights read better? Validation articles only.

    .venv/bin/python research/weight_average.py A.pt B.pt [--alphas 0.5] [--out out/avg]

A and B are ``seedqa train-reader`` checkpoints (``WORK/checkpoint.pt``) from the
same base model; each row is ``alpha * A + (1 - alpha) * B``, exported as the
product exports a reader, then scored as ``train-reader`` scores it: span F1 and
null accuracy on every third validation chunk, and the balanced point with open
retrieval on the six held-out articles (training/calibrate.py).
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
    from training.calibrate import choose_threshold, objective
    from training.data import GOLD_POOL, SILVER_POOL, load_examples, split_pools
    from training.export import write_config, write_reader
    from training.loop import TrainSettings, featurise, load_base_model
    from training.run import MAX_ANSWER_TOKENS, chunk_metrics

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
        config = {
            "max_length": settings.max_length,
            "max_question_tokens": settings.max_question_tokens,
            "max_answer_tokens": MAX_ANSWER_TOKENS,
            "threshold": 0.0,
        }
        write_reader(model, base / TOKENIZER_FILE, out, config)
        threshold, by_margin, combiner, combined = choose_threshold(out, valid_set)
        config["threshold"] = threshold
        if combiner and combined and objective(combined) > objective(by_margin):
            config["combiner"] = combiner.to_config()
        write_config(out, config)
        c = combined or {}
        print(
            f"| {alpha:g} | {chunks['val_span_f1']} | {chunks['val_null_acc']} | {threshold:+.2f} "
            f"| {by_margin['f1']:.3f} | {by_margin['HasAns_f1']:.3f} | {by_margin['NoAns_f1']:.3f} "
            f"| {c.get('f1', 0):.3f} / {c.get('HasAns_f1', 0):.3f} / {c.get('NoAns_f1', 0):.3f} |",
            flush=True,
        )
        figures = {"chunks": chunks, "margin": by_margin, "combined": combined}
        (out / "figures.json").write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
