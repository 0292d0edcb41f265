"""The sentence-vector cache: same vectors as embedding directly, bounded, no repeats."""

from __future__ import annotations

import numpy as np

from qa.evidence import SentenceVectors


class CountingEmbedder:
    """A stand-in that records what it was asked to embed (logic test only)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return np.array([[float(len(t)), float(sum(map(ord, t)))] for t in texts], np.float32)


def test_cached_vectors_equal_fresh_ones_and_are_not_recomputed():
    emb = CountingEmbedder()
    cache = SentenceVectors(capacity=10)
    first = cache.get(["a b", "cde", "a b"], emb)
    assert emb.calls == [["a b", "cde"]]  # duplicates embedded once
    np.testing.assert_array_equal(first, emb.embed(["a b", "cde", "a b"]))
    emb.calls.clear()
    again = cache.get(["cde", "a b"], emb)
    assert emb.calls == []
    np.testing.assert_array_equal(again, first[[1, 0]])


def test_capacity_evicts_least_recently_used():
    emb = CountingEmbedder()
    cache = SentenceVectors(capacity=2)
    cache.get(["x"], emb)
    cache.get(["y"], emb)
    cache.get(["x"], emb)  # x is now the most recent
    cache.get(["z"], emb)  # evicts y
    emb.calls.clear()
    cache.get(["x", "z"], emb)
    assert emb.calls == []
    cache.get(["y"], emb)
    assert emb.calls == [["y"]]


def test_a_batch_larger_than_the_capacity_still_returns_every_vector():
    emb = CountingEmbedder()
    cache = SentenceVectors(capacity=2)
    texts = ["p", "qq", "rrr", "ssss"]
    np.testing.assert_array_equal(cache.get(texts, emb), emb.embed(texts))
