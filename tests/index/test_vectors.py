"""The FAISS store: exact below the threshold, an HNSW graph above it."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from index import vectors
from index.vectors import FaissStore


def _unit_vectors(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors, like sentence embeddings (uniform noise is like no corpus)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n // 50 + 1, dim))
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _recall_at_10(store: FaissStore, data: np.ndarray, queries: np.ndarray) -> float:
    exact = faiss.IndexFlatIP(data.shape[1])
    exact.add(data)
    _, truth = exact.search(queries, 10)
    got = [{row for row, _ in store.search(q, 10)} for q in queries]
    return float(np.mean([len(g & set(t)) / 10 for g, t in zip(got, truth, strict=True)]))


def test_small_stores_search_exactly(tmp_path: Path) -> None:
    data = _unit_vectors(500)
    store = FaissStore.build(data, data.shape[1])
    assert isinstance(store._index, faiss.IndexFlatIP)
    assert _recall_at_10(store, data, data[:50]) == 1.0
    assert store.search(data[7], 1)[0][0] == 7


def test_large_stores_use_a_float16_graph_that_survives_a_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "HNSW_THRESHOLD", 1_000)
    data = _unit_vectors(4_000)
    queries = _unit_vectors(100, seed=1)
    store = FaissStore.build(data, data.shape[1])
    assert isinstance(store._index, faiss.IndexHNSWSQ)
    store.save(tmp_path / "v.faiss")
    loaded = FaissStore.load(tmp_path / "v.faiss")
    assert loaded.size == 4_000
    assert loaded._index.hnsw.efSearch == vectors.HNSW_EF_SEARCH
    assert _recall_at_10(loaded, data, queries) >= 0.95
    row, score = loaded.search(data[123], 1)[0]
    assert row == 123 and score == pytest.approx(1.0, abs=1e-3)  # float16 storage


def test_graphs_of_the_old_kind_load_with_their_own_search_width(tmp_path: Path) -> None:
    data = _unit_vectors(300)
    old = faiss.IndexHNSWFlat(data.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    old.add(data)
    faiss.write_index(old, str(tmp_path / "old.faiss"))
    loaded = FaissStore.load(tmp_path / "old.faiss")
    assert loaded._index.hnsw.efSearch == vectors.LEGACY_HNSW_EF_SEARCH
    assert loaded.search(data[5], 1)[0][0] == 5
