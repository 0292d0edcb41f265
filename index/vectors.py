"""FAISS vector search behind a small interface.

Retrieval only needs ``search``; a server-backed store (Qdrant, Milvus,
OpenSearch) can stand in by implementing :class:`VectorStore`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

# Exact search is fast enough below this (about a millisecond per query at
# 20,000 vectors); above it an HNSW graph keeps queries sub-millisecond, with
# recall@10 against exact search measured by `seedqa bench`. At 92k chunks of
# the benchmark corpus (200 SQuAD questions) recall@10 was 0.93 at efSearch 96,
# 0.96 at 192 and 0.97 at 256; set at load time too, so older indexes get it.
HNSW_THRESHOLD = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


class VectorStore(Protocol):
    size: int

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]: ...


class FaissStore:
    def __init__(self, index) -> None:
        self._index = index
        self.size = int(index.ntotal)

    @classmethod
    def build(cls, embeddings: np.ndarray, dim: int) -> FaissStore:
        import faiss

        if embeddings.shape[0] >= HNSW_THRESHOLD:
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            index = faiss.IndexFlatIP(dim)
        if embeddings.shape[0]:
            index.add(np.ascontiguousarray(embeddings, dtype=np.float32))
        return cls(index)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissStore:
        import faiss

        # Memory-mapped: loading costs no copy, and pages are read as searches touch them.
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.size == 0 or k <= 0:
            return []
        import faiss

        # One query, one thread. After a parallel region OpenMP's threads keep
        # spinning for a while on the cores onnxruntime needs for the next
        # query embedding: with FAISS at its default thread count a whole hybrid
        # retrieval measured 1.3 ms slower than the sum of its parts on 2 cores.
        # Restored afterwards: the setting is shared with torch's OpenMP.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self._index.search(
                query.reshape(1, -1).astype(np.float32), min(k, self.size)
            )
        finally:
            faiss.omp_set_num_threads(threads)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
