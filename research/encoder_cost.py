"""docs/reader.md "Limits": all-mpnet-base-v2 as the reader, 109 MB, 6-7x the reading time.

What would reading cost with the larger packaged encoder? all-mpnet-base-v2 against MiniLM.

    .venv/bin/python research/encoder_cost.py [--repeats 30]

The one larger encoder a package ships is all-mpnet-base-v2 (12 layers,
768 wide, 438 MB of weights; issue #17 names it for a lent GPU). Its reading
cost on this CPU does not depend on its weights, so this builds the
architecture from ``MPNetConfig()`` (the base model's shape) with random
weights and a span head, exports and quantises it as the committed reader is
(traced as ``training.export.export_onnx`` traces, then
``index.embedding.quantise_encoder`` with uint8-stored weights), prints the quantised file's size
(the issue bounds a committed reader at 30 MB) and times it beside the committed
reader (``qa/reader_model``) on the same batches: one question's four
retrieved chunks, each question + chunk 259 word pieces (the longest the
reader reads) and 200 (a typical full chunk). Medians over ``--repeats``,
the same ``onnxruntime`` settings as ``qa.reader`` (threads that sleep, not
spin). Nothing here is trained; no weights are downloaded.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _mpnet_onnx(folder: Path) -> Path:
    import torch
    from transformers import MPNetConfig, MPNetForQuestionAnswering

    from index.embedding import quantise_encoder

    torch.manual_seed(0)
    model = MPNetForQuestionAnswering(MPNetConfig()).eval()

    class Spans(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask)
            return out.start_logits, out.end_logits

    fp32 = folder / "mpnet.fp32.onnx"
    sample = torch.tensor([[0, 2054, 2, 1037, 6251, 2], [0, 2054, 2, 1037, 2, 1]])
    axes = {k: {0: "batch", 1: "tokens"} for k in ("input_ids", "attention_mask", "s", "e")}
    with torch.no_grad():
        torch.onnx.export(
            Spans(model),
            (sample, (sample != 1).long()),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["s", "e"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    target = folder / "mpnet.int8.onnx"
    quantise_encoder(fp32, target, uint8_weights=True, num_heads=12, hidden_size=768)
    return target


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 2
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _median_ms(session, feed: dict, repeats: int) -> float:
    session.run(None, feed)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    from qa.reader import DEFAULT_DIR, MODEL_FILE

    rng = np.random.default_rng(0)
    minilm = _session(DEFAULT_DIR / MODEL_FILE)
    with tempfile.TemporaryDirectory() as work:
        path = _mpnet_onnx(Path(work))
        size_mb = path.stat().st_size / 1e6
        mpnet = _session(path)
        print(f"mpnet int8 model: {size_mb:.0f} MB")
        print("| batch (4 chunks) | MiniLM reader, ms | mpnet, ms | ratio |")
        print("| --- | --- | --- | --- |")
        for tokens in (200, 259):
            ids = rng.integers(1000, 20000, size=(4, tokens), dtype=np.int64)
            mask = np.ones_like(ids)
            small = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            a = _median_ms(minilm, small, args.repeats)
            b = _median_ms(mpnet, {"input_ids": ids, "attention_mask": mask}, args.repeats)
            print(f"| 4 x {tokens} word pieces | {a:.0f} | {b:.0f} | {b / a:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
