"""Store a committed reader's int8 weights as uint8 (lossless), for the same answers on every CPU.

A reader exported before 2026-12-06 holds int8 weights, which onnxruntime
multiplies exactly on VNNI/AMX CPUs but with saturating 16-bit sums on AVX2
ones (``index.embedding.weights_as_uint8`` says why). ``seedqa train-reader``
now exports uint8 weights itself; this converts an existing reader in place
without training it again: the model file, the sha256 in ``reader.json`` and
the card's sha256 line change, nothing else. Usage:

    python tools/reader_uint8_weights.py [qa/reader_model]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from index.documents import sha256_file
from index.embedding import weights_as_uint8
from qa.reader import CONFIG_FILE, MODEL_FILE
from training.export import write_config


def convert(folder: Path) -> int:
    model = folder / MODEL_FILE
    old = sha256_file(model)
    tmp = folder / f".{MODEL_FILE}.tmp"
    changed = weights_as_uint8(model, tmp)
    if not changed:
        tmp.unlink()
        return 0
    tmp.replace(model)
    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    config.pop("sha256")
    write_config(folder, config)
    card = folder / "MODEL_CARD.md"
    if card.is_file():
        text = card.read_text(encoding="utf-8")
        card.write_text(text.replace(old, sha256_file(model)), encoding="utf-8")
    return changed


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "qa/reader_model")
    n = convert(folder)
    print(f"{folder}: {n} weight tensors stored as uint8" if n else f"{folder}: already uint8")
