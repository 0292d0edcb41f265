"""Settings shared by indexing and answering, validated once at the boundary."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

# The package promises that nothing reaches the network at run time; the model
# libraries read these before they first look for weights.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_INDEX_DIR = ".seedqa/index"
# Named collections live in <index dir>/collections/NAME (index.collections).
COLLECTIONS_FOLDER = "collections"
# 2: the embedder records its backend (int8 ONNX vectors differ from fp32 ones).
FORMAT_VERSION = 2

# Formats read by index.documents; the UI allow-lists uploads with the same set.
SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".txt", ".md", ".html", ".htm", ".pdf", ".docx"})


class ChunkingConfig(BaseModel, frozen=True):
    """Chunk sizes in the embedder's word pieces.

    MiniLM truncates at 256 word pieces (two of them are special tokens), so a
    chunk never exceeds ``max_tokens`` and nothing is lost to truncation.
    """

    max_tokens: int = Field(default=192, ge=16, le=254)
    overlap_tokens: int = Field(default=32, ge=0, le=128)


EMBEDDER_BACKENDS = ("onnx-int8", "torch")


class EmbedderInfo(BaseModel, frozen=True):
    """What made the stored vectors; an index built by another embedder is refused.

    ``backend`` is part of it because the int8 ONNX path and the fp32 torch path
    give slightly different vectors: mixing them in one index would skew scores.
    """

    name: str = "sentence-transformers/all-MiniLM-L6-v2"
    dim: int = 384
    backend: str = "onnx-int8"


def cache_dir() -> Path:
    """Where derived model files live (the int8 ONNX export, the assembled GGUF)."""
    root = os.environ.get("SEEDQA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "seedqa"
    )
    return Path(root)


def resolve_index_dir(index_dir: str | Path | None = None) -> Path:
    """``--index-dir`` beats ``SEEDQA_INDEX_DIR`` beats the git-ignored default."""
    chosen = index_dir or os.environ.get("SEEDQA_INDEX_DIR") or DEFAULT_INDEX_DIR
    return Path(chosen).expanduser().resolve()
