"""docs/reader.md "Faster steps": 3.24 s a step fused, 3.51 s eager, 2.35 s 2 layers frozen.

How long one training step takes: eager or fused attention, lowest layers frozen or not.

    .venv/bin/python research/train_step_time.py [--steps 12] [--examples 800]

The same batches (the first examples of the training set's cached examples,
built by `seedqa train-reader` in out/reader-training) through each setting;
the first two steps are left out as warm-up. Run it on an idle machine: the
figures are seconds a step on this machine's cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def step_times(features, plan, pad: int, attention: str, freeze_layers: int) -> list[float]:
    import torch

    from index.embedding import model_dir
    from training.loop import TrainSettings, _tensors, freeze, load_base_model

    torch.manual_seed(0)
    model = load_base_model(model_dir(), attention)
    freeze(model, TrainSettings(freeze_layers=freeze_layers))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    times = []
    for batch in plan:
        t0 = time.perf_counter()
        inputs, starts, ends, _ = _tensors([features[i] for i in batch], pad, "cpu")
        out = model(**inputs)
        loss = torch.nn.functional.cross_entropy(out.start_logits, starts)
        loss = (loss + torch.nn.functional.cross_entropy(out.end_logits, ends)) / 2
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - t0)
    return times[2:]


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
    args = parser.parse_args()
    cached = sorted(args.work.glob("examples-train-*.jsonl"))
    if not cached:
        raise SystemExit(f"No examples in {args.work}: run `seedqa train-reader` first.")
    torch.set_num_threads(2)
    settings = TrainSettings()
    tokenizer = Tokenizer(model_dir() / TOKENIZER_FILE)
    features = featurise(load_examples(cached[0])[: args.examples], tokenizer, settings)
    plan = batches(features, settings.batch_size, settings.seed)[: args.steps]
    tokens = sum(len(features[i].encoded.ids) for b in plan for i in b) / sum(map(len, plan))
    print(f"{len(plan)} batches of {settings.batch_size}, {tokens:.0f} tokens an example")
    print("| attention | frozen layers | s a step (median) |\n| --- | --- | --- |")
    for attention, frozen in (("eager", 0), ("sdpa", 0), ("eager", 2), ("sdpa", 2)):
        times = sorted(step_times(features, plan, tokenizer.pad, attention, frozen))
        print(f"| {attention} | {frozen} | {times[len(times) // 2]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
