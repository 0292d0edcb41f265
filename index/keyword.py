"""BM25 keyword search over chunk texts (bm25s, Snowball-stemmed English)."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=1)
def _bm25s():
    import bm25s

    # bm25s sets its own logger to DEBUG on import; keep its chatter out of the CLI.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _tokenize(texts: list[str]) -> list[list[str]]:
    return _bm25s().tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )


# bm25s' default split pattern and English stop words, for _query_tokens.
_SPLIT = re.compile(r"(?u)\b\w\w+\b").findall


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def _query_tokens(query: str) -> list[str]:
    """The tokens ``_tokenize`` gives one text, without its per-call setup.

    Written out because ``bm25s.tokenize`` costs 0.33 ms per call before it
    splits anything (three disabled progress bars, a stop-word set per text,
    vocabulary dictionaries) and a query is one short text: this takes 0.02 ms,
    a third of the whole keyword search at 92,000 chunks. Same rules: lower-case,
    bm25s' split pattern, its English stop words, then the stemmer;
    tests/index/test_keyword.py checks it matches ``_tokenize``.
    """
    return _stemmer().stemWords([t for t in _SPLIT(query.lower()) if t not in _stopwords()])


class KeywordIndex:
    """A thin wrapper so the rest of the code never sees bm25s' tokenisation rules."""

    def __init__(self, retriever, size: int) -> None:
        self._retriever = retriever
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> KeywordIndex:
        retriever = _bm25s().BM25()
        if texts:
            retriever.index(_tokenize(texts), show_progress=False)
        return cls(retriever, len(texts))

    def save(self, folder: Path) -> None:
        if self.size:
            self._retriever.save(str(folder))
        else:
            folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def load(cls, folder: Path, size: int) -> KeywordIndex:
        bm25s = _bm25s()
        if size == 0:
            return cls(bm25s.BM25(), 0)
        return cls(bm25s.BM25.load(str(folder), mmap=True), size)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Best ``k`` chunk rows for ``query`` with their BM25 scores (zero scores dropped)."""
        if self.size == 0 or k <= 0:
            return []
        tokens = [t for t in _query_tokens(query) if t in self._retriever.vocab_dict]
        if not tokens:
            return []
        ids = self._retriever.get_tokens_ids(tokens)
        scores = np.asarray(self._retriever.get_scores(ids), dtype=np.float32)
        top = _best_rows(scores, k, self._rows_with_rarest(ids, k))
        return [(int(i), float(scores[i])) for i in top]

    def _rows_with_rarest(self, token_ids: list[int], k: int) -> np.ndarray | None:
        """The rows holding the query's rarest token found in at least ``k`` rows."""
        indptr = self._retriever.scores["indptr"]
        lengths = [(int(indptr[t + 1] - indptr[t]), t) for t in token_ids]
        usable = [(n, t) for n, t in lengths if n >= k]
        if not usable:
            return None
        _, t = min(usable)
        return np.asarray(self._retriever.scores["indices"][indptr[t] : indptr[t + 1]])


def _best_rows(scores: np.ndarray, k: int, sample: np.ndarray | None) -> np.ndarray:
    """Rows of the ``k`` highest positive scores, best first, ties by row.

    Written out because selecting among all rows (``np.argpartition``) cost
    0.33 ms at 92,000 chunks, a third of the keyword search. Exact all the
    same: any ``k`` rows' scores bound the k-th best score from below, so the
    k-th best of ``sample`` (rows with a rare query word: high scores, few
    rows) leaves only the rows that can be in the answer.
    """
    if sample is not None and len(sample) >= k:
        floor = np.partition(scores[sample], len(sample) - k)[len(sample) - k]
        rows = np.flatnonzero(scores >= floor)
    else:
        rows = np.flatnonzero(scores)
    if len(rows) > 8 * k:
        kth = np.partition(scores[rows], len(rows) - k)[len(rows) - k]
        rows = rows[scores[rows] >= kth]
    rows = rows[scores[rows] > 0]
    return rows[np.lexsort((rows, -scores[rows]))][:k]
