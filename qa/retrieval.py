"""Hybrid retrieval: dense (FAISS) and keyword (BM25) results fused by rank.

Reciprocal rank fusion is written out here (a dozen lines) instead of going
through llama-index's ``QueryFusionRetriever``: that class wants node objects
in a docstore and runs an asyncio loop per query, which costs more than the
search itself at our sizes and hides the per-list scores we keep for the
abstention decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index import Chunk, Embedder, IndexView

RRF_K = 60


@dataclass(frozen=True)
class Hit:
    row: int
    chunk: Chunk
    score: float  # fused score, only comparable within one query
    cosine: float  # dense similarity of the query and the chunk


class HybridRetriever:
    def __init__(
        self,
        index: IndexView,
        embedder: Embedder,
        *,
        dense_weight: float = 1.0,
        keyword_weight: float = 1.0,
        depth: int = 20,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.dense_weight = dense_weight
        self.keyword_weight = keyword_weight
        self.depth = depth

    def retrieve(
        self, query: str, k: int = 4, *, query_vector: np.ndarray | None = None
    ) -> list[Hit]:
        return self.retrieve_with_vector(query, k, query_vector=query_vector)[0]

    def retrieve_with_vector(
        self, query: str, k: int = 4, *, query_vector: np.ndarray | None = None
    ) -> tuple[list[Hit], np.ndarray]:
        """The fused hits and the query's vector (callers score sentences with it too)."""
        # Run one after the other: the keyword search in a thread beside the
        # embedding was measured slower on 2 cores (it competes with
        # onnxruntime's own threads), not faster.
        qvec = self.embedder.embed_query(query) if query_vector is None else query_vector
        dense = self.index.vectors.search(qvec, self.depth)
        keyword = self.index.keywords.search(query, self.depth)
        fused: dict[int, float] = {}
        for weight, ranked in ((self.dense_weight, dense), (self.keyword_weight, keyword)):
            for rank, (row, _score) in enumerate(ranked):
                fused[row] = fused.get(row, 0.0) + weight / (RRF_K + rank + 1)
        rows = sorted(fused, key=lambda r: (-fused[r], r))[:k]
        if not rows:
            return [], qvec
        found = self.index.rows(rows)
        if not found:
            return [], qvec
        # One matrix product, as before rows() existed: the same float32 cosines.
        cosines = np.stack([vector for _, _, vector in found]).astype(np.float32) @ qvec
        hits = [
            Hit(row, chunk, fused[row], float(cos))
            for (row, chunk, _), cos in zip(found, cosines, strict=True)
        ]
        return hits, qvec
