"""docs/reader.md "Faster steps": seconds a training step, attention, frozen layers, bf16.

How long one training step takes: eager or fused attention, lowest layers frozen or
not, fp32 or bf16 autocast, per example at other batch sizes.

    .venv/bin/python research/train_step_time.py [--steps 12] [--examples 800] [--bf16]

The same batches (the first examples of the training set's cached examples,
built by `seedqa train-reader` in out/reader-training, or with ``--from-pool``
the gold pool's questions each with its own paragraph, which needs no index)
through each setting; the first two steps are left out as warm-up. Run it on an
idle machine: the figures are seconds a step on this machine's cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def step_times(
    features, plan, pad: int, attention: str, freeze_layers: int, bf16: bool = False
) -> list[float]:
    import torch

    from index.embedding import model_dir
    from training.loop import TrainSettings, _tensors, autocast, freeze, load_base_model

    torch.manual_seed(0)
    model = load_base_model(model_dir(), attention)
    settings = TrainSettings(freeze_layers=freeze_layers, bf16=bf16)
    freeze(model, settings)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    times = []
    for batch in plan:
        t0 = time.perf_counter()
        inputs, starts, ends, _ = _tensors([features[i] for i in batch], pad, "cpu")
        with autocast(settings, torch.device("cpu")):
            out = model(**inputs)
        start_logits, end_logits = out.start_logits.float(), out.end_logits.float()
        loss = torch.nn.functional.cross_entropy(start_logits, starts)
        loss = (loss + torch.nn.functional.cross_entropy(end_logits, ends)) / 2
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - t0)
    return times[2:]


def pool_examples(limit: int):
    """The gold pool's first questions, each with its own paragraph (no index needed)."""
    from training.data import GOLD_POOL, Example, pool_articles

    out = []
    for article in pool_articles(GOLD_POOL, "gold"):
        for paragraph in article["paragraphs"]:
            for q in paragraph["qas"]:
                spans = tuple(
                    (a["answer_start"], a["answer_start"] + len(a["text"]))
                    for a in q.get("answers", [])[:1]
                )
                out.append(Example(str(q["id"]), q["question"], paragraph["context"], spans, 1.0))
                if len(out) >= limit:
                    return out
    return out


def main() -> None:
    import torch

    from index.embedding import model_dir
    from qa.reader import TOKENIZER_FILE, Tokenizer
    from training.data import load_examples
    from training.loop import TrainSettings, batches, featurise

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--examples", type=int, default=800)
    parser.add_argument("--work", type=Path, default=Path("out/reader-training"))
    parser.add_argument("--from-pool", action="store_true", help="gold pool paragraphs")
    parser.add_argument("--bf16", action="store_true", help="fused attention: fp32 and bf16")
    parser.add_argument("--batch-sizes", default="16", help="e.g. 16,32 (with --bf16)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    settings = TrainSettings()
    tokenizer = Tokenizer(model_dir() / TOKENIZER_FILE)
    if args.from_pool:
        examples = pool_examples(args.examples)
    else:
        cached = sorted(args.work.glob("examples-train-*.jsonl"))
        if not cached:
            raise SystemExit(f"No examples in {args.work}: run `seedqa train-reader` first.")
        examples = load_examples(cached[0])[: args.examples]
    features = featurise(examples, tokenizer, settings)
    if args.bf16:
        print("| batch | autocast | s a step (median) | ms an example |\n| --- | --- | --- | --- |")
        for size in (int(x) for x in args.batch_sizes.split(",")):
            plan = batches(features, size, settings.seed)[: args.steps]
            for bf16 in (False, True):
                times = sorted(step_times(features, plan, tokenizer.pad, "sdpa", 0, bf16))
                median = times[len(times) // 2]
                kind = "bf16" if bf16 else "fp32"
                print(
                    f"| {size} | {kind} | {median:.2f} | {median / size * 1000:.0f} |", flush=True
                )
        return
    plan = batches(features, settings.batch_size, settings.seed)[: args.steps]
    tokens = sum(len(features[i].encoded.ids) for b in plan for i in b) / sum(map(len, plan))
    print(f"{len(plan)} batches of {settings.batch_size}, {tokens:.0f} tokens an example")
    print("| attention | frozen layers | s a step (median) |\n| --- | --- | --- |")
    for attention, frozen in (("eager", 0), ("sdpa", 0), ("eager", 2), ("sdpa", 2)):
        times = sorted(step_times(features, plan, tokenizer.pad, attention, frozen))
        print(f"| {attention} | {frozen} | {times[len(times) // 2]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
