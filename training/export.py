"""The trained reader as the files ``qa.reader`` loads: int8 ONNX, tokenizer, config, card.

The export is the project's own (traced with ``torch.onnx``, fused and
quantised by the same recipe as the embedder, ``index.embedding``), written
to a temporary folder and renamed into place, so a killed export leaves the
previous reader whole.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

from index.documents import sha256_file
from index.embedding import quantise_encoder
from qa.reader import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model, path: Path) -> None:
    """fp32 ONNX of the QA model: three inputs, start and end logits out."""
    import torch

    class Spans(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.start_logits, out.end_logits

    model = model.to("cpu").eval()
    # Trained with fused attention; traced eager, which keeps the padding mask in the graph.
    model.set_attn_implementation("eager")
    sample = torch.tensor([[101, 2054, 102, 1037, 6251, 102], [101, 2054, 102, 1037, 102, 0]])
    args = (sample, (sample > 0).long(), torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]]))
    axes = {k: {0: "batch", 1: "tokens"} for k in (*_INPUTS, "start_logits", "end_logits")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Spans(model),
            args,
            str(path),
            input_names=list(_INPUTS),
            output_names=["start_logits", "end_logits"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def write_reader(
    model, tokenizer_json: Path, target: Path, config: dict, card: str | None = None
) -> None:
    """Export ``model`` with its tokenizer and ``reader.json`` into ``target`` (replaced whole)."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fp32 = tmp / "model.fp32.onnx"
    export_onnx(model, fp32)
    quantise_encoder(fp32, tmp / MODEL_FILE, uint8_weights=True)  # the same answers on every CPU
    fp32.unlink()
    shutil.copyfile(tokenizer_json, tmp / TOKENIZER_FILE)
    write_config(tmp, config)
    if card is not None:
        (tmp / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def write_config(folder: Path, config: dict) -> None:
    """``reader.json``: the reading settings plus each file's sha256."""
    raw = {
        **config,
        "sha256": {name: sha256_file(folder / name) for name in (MODEL_FILE, TOKENIZER_FILE)},
    }
    tmp = folder / f".{CONFIG_FILE}.tmp"
    tmp.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    tmp.replace(folder / CONFIG_FILE)
