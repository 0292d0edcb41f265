"""docs/reader.md "Two readers as one": weight soup 0.535, logit ensemble 0.540, vs 0.543.

Two trained readers as one: a weight soup or a logit ensemble, in ONNX space.

    .venv/bin/python research/reader_ensemble.py A_DIR B_DIR --mode soup --out out/soup
    .venv/bin/python research/reader_ensemble.py A_DIR B_DIR --mode ensemble --out out/ens
    seedqa train-reader --calibrate-only --out out/soup     # validation figures

A_DIR and B_DIR are reader folders written by ``seedqa train-reader`` (uint8
weights, the same graph: the export is deterministic in structure). Only the
quantised ONNX models are needed, so a reader whose PyTorch checkpoint is gone
(the committed one) can still take part.

- ``soup``: every weight is ``alpha * A + (1 - alpha) * B`` after dequantising,
  requantised the way the export quantises (per output channel, symmetric int8
  stored as uint8 + 128 for the matrix weights; asymmetric uint8 for the fused
  embedding's tables). One model, the same size and speed.
- ``ensemble``: both encoders in one graph on the same inputs, their start and
  end logits averaged (``alpha`` and ``1 - alpha``). Initialisers the two share
  byte for byte (the frozen word embeddings) are stored once. Twice the compute.

The folder gets A's tokenizer, A's ``training.json`` (so ``--calibrate-only``
knows the settings) and a ``reader.json`` with the new digests; the threshold
and combination are then refitted on the validation articles.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np


def _arrays(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _requantise_symmetric(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel (last axis), int8 in [-127, 127], stored as uint8 + 128."""
    scale = np.abs(w).max(axis=tuple(range(w.ndim - 1))) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int16) + 128
    return q.astype(np.uint8), scale


def _requantise_asymmetric(w: np.ndarray) -> tuple[np.ndarray, np.uint8, np.float32]:
    """One scale and zero point for the tensor, the range including 0 (uint8)."""
    lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
    scale = (hi - lo) / 255.0 or 1.0
    zero = int(np.clip(np.rint(-lo / scale), 0, 255))
    q = np.clip(np.rint(w / scale) + zero, 0, 255).astype(np.uint8)
    return q, np.uint8(zero), np.float32(scale)


def soup(a, b, alpha: float):
    """``alpha * A + (1 - alpha) * B``, weight by weight, on A's graph."""
    from onnx import numpy_helper

    wa, wb = _arrays(a), _arrays(b)
    out = dict(wa)
    for name, qa_ in wa.items():
        if name.endswith("_quantized"):
            stem = name[: -len("_quantized")]
            sa, za = wa[stem + "_scale"], wa[stem + "_zero_point"]
            sb, zb = wb[stem + "_scale"], wb[stem + "_zero_point"]
            if np.array_equal(qa_, wb[name]) and np.array_equal(sa, sb) and np.array_equal(za, zb):
                continue  # the same (frozen) weights in both
            da = (qa_.astype(np.float32) - za.astype(np.float32)) * sa
            db = (wb[name].astype(np.float32) - zb.astype(np.float32)) * sb
            w = alpha * da + (1 - alpha) * db
            if za.ndim == 1:  # per channel, symmetric (zero point 128)
                q, s = _requantise_symmetric(w)
                out[name], out[stem + "_scale"] = q, s
            else:
                q, z, s = _requantise_asymmetric(w)
                out[name], out[stem + "_scale"], out[stem + "_zero_point"] = q, s, z
        elif wa[name].dtype == np.float32 and not (
            name.endswith("_scale") and name[: -len("_scale")] + "_quantized" in wa
        ):
            out[name] = (alpha * wa[name] + (1 - alpha) * wb[name]).astype(np.float32)
    import onnx

    merged = onnx.ModelProto()
    merged.CopyFrom(a)
    del merged.graph.initializer[:]
    merged.graph.initializer.extend(
        numpy_helper.from_array(np.asarray(out[t.name]), t.name) for t in a.graph.initializer
    )
    return merged


def ensemble(a, b, alpha: float):
    """Both encoders on the same inputs, their logits averaged; shared weights stored once."""
    import onnx
    from onnx import helper, numpy_helper

    wa, wb = _arrays(a), _arrays(b)
    inputs = {i.name for i in a.graph.input}
    rename: dict[str, str] = {}
    for name, arr in wb.items():
        same = name in wa and wa[name].dtype == arr.dtype and np.array_equal(wa[name], arr)
        rename[name] = name if same and arr.size > 1024 else "b/" + name
    g = helper.make_graph([], "reader_ensemble", list(a.graph.input), [])
    for n in a.graph.node:
        m = onnx.NodeProto()
        m.CopyFrom(n)
        m.output[:] = [("a/" + o if o in ("start_logits", "end_logits") else o) for o in n.output]
        g.node.append(m)
    for n in b.graph.node:
        m = onnx.NodeProto()
        m.CopyFrom(n)
        m.name = "b/" + n.name if n.name else ""
        m.input[:] = [x if (x in inputs or x == "") else rename.get(x, "b/" + x) for x in n.input]
        m.output[:] = ["b/" + o for o in n.output]
        g.node.append(m)
    g.initializer.extend(a.graph.initializer)
    for t in b.graph.initializer:
        if rename[t.name] != t.name:
            c = onnx.TensorProto()
            c.CopyFrom(t)
            c.name = rename[t.name]
            g.initializer.append(c)
    g.initializer.extend(
        [
            numpy_helper.from_array(np.float32(alpha), "ens/alpha"),
            numpy_helper.from_array(np.float32(1 - alpha), "ens/beta"),
        ]
    )
    for out in ("start_logits", "end_logits"):
        g.node.extend(
            [
                helper.make_node("Mul", ["a/" + out, "ens/alpha"], ["ens/a_" + out]),
                helper.make_node("Mul", ["b/" + out, "ens/beta"], ["ens/b_" + out]),
                helper.make_node("Add", ["ens/a_" + out, "ens/b_" + out], [out]),
            ]
        )
    g.output.extend(a.graph.output)
    model = helper.make_model(g, opset_imports=list(a.opset_import))
    model.ir_version = a.ir_version
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--mode", choices=["soup", "ensemble"], required=True)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import onnx

    from index.documents import sha256_file
    from qa.reader import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE

    a, b = onnx.load(args.a / MODEL_FILE), onnx.load(args.b / MODEL_FILE)
    model = (soup if args.mode == "soup" else ensemble)(a, b, args.alpha)
    args.out.mkdir(parents=True, exist_ok=True)
    onnx.save(model, args.out / MODEL_FILE)
    for name in (TOKENIZER_FILE, "training.json"):
        shutil.copy(args.a / name, args.out / name)
    config = json.loads((args.a / CONFIG_FILE).read_text(encoding="utf-8"))
    config.pop("combiner", None)
    config["threshold"] = 0.0
    config["sha256"] = {n: sha256_file(args.out / n) for n in (MODEL_FILE, TOKENIZER_FILE)}
    (args.out / CONFIG_FILE).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    size = (args.out / MODEL_FILE).stat().st_size / 1e6
    print(f"{args.mode} (alpha {args.alpha}) -> {args.out / MODEL_FILE}: {size:.1f} MB")


if __name__ == "__main__":
    main()
