"""From retrieved chunks to the few sentences the model reads.

A 270M model reads best when the context is short and on point, so the best
sentences of the retrieved chunks are picked by dense similarity to the
question plus keyword overlap. Each evidence character keeps its document
offset, so a span the model picks maps back to an exact citation.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index import Embedder

from .grounding import content_words, looks_like_injection
from .retrieval import Hit

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Sentence:
    source: str
    start: int
    end: int
    text: str  # exactly the document's text[start:end]
    hit_rank: int
    position: int  # index among its chunk's sentences
    row: int  # chunk row


@dataclass(frozen=True)
class Evidence:
    """The context string shown to the model and the way back to the documents."""

    text: str
    sentences: tuple[Sentence, ...]
    # For each character of ``text``: the index into ``sentences`` and the
    # document offset, or -1 for the separators between passages.
    owner: np.ndarray
    offset: np.ndarray
    best_similarity: float  # the best question-sentence cosine among the candidates
    best_chunk_similarity: float
    scores: tuple[float, ...] = ()  # each chosen sentence's relevance score


class SentenceVectors:
    """A bounded LRU of sentence embeddings.

    Retrieval returns the same few chunks again and again (follow-ups, related
    questions, an eval over one article), and embedding their sentences was
    most of the retrieval time; the index stores chunk vectors only, so the
    sentences are embedded on first use and kept here (20,000 vectors, ~30 MB).
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, texts: Sequence[str], embedder: Embedder) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            fresh = embedder.embed(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._vectors[text] = vector
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        with self._lock:
            out = []
            for t in texts:
                v = self._vectors.get(t)
                if v is None:  # evicted between the two locks by a huge batch
                    v = embedder.embed([t])[0]
                else:
                    self._vectors.move_to_end(t)
                out.append(v)
        return np.stack(out)


sentence_vectors = SentenceVectors()


def candidate_sentences(hits: list[Hit]) -> list[Sentence]:
    seen: set[tuple[str, int]] = set()
    out: list[Sentence] = []
    for rank, hit in enumerate(hits):
        c = hit.chunk
        for pos, (s, e) in enumerate(c.sentences):
            key = (c.source, s)
            if key in seen:
                continue
            seen.add(key)
            text = c.text[s - c.start : e - c.start]
            if looks_like_injection(text):
                continue  # instructions inside a document are never evidence
            out.append(Sentence(c.source, s, e, text, rank, pos, hit.row))
    return out


def select_evidence(
    question: str,
    query_vector: np.ndarray,
    hits: list[Hit],
    embedder: Embedder,
    *,
    max_sentences: int = 5,
    keyword_weight: float = 0.3,
) -> Evidence | None:
    candidates = candidate_sentences(hits)
    if not candidates:
        return None
    vectors = sentence_vectors.get([s.text for s in candidates], embedder)
    cosine = vectors @ query_vector
    wanted = content_words(question)
    overlap = np.array(
        [len(wanted & content_words(s.text)) / max(len(wanted), 1) for s in candidates]
    )
    score = cosine + keyword_weight * overlap
    top = np.argsort(-score, kind="stable")[:max_sentences]
    # The best sentence goes last, next to the question: a small model attends
    # most to what it read last (measured: README, "What was tried").
    chosen = [candidates[i] for i in top[::-1]]
    return _assemble(
        chosen,
        float(cosine.max()),
        max((h.cosine for h in hits), default=0.0),
        tuple(float(score[i]) for i in top[::-1]),
    )


def _assemble(
    chosen: list[Sentence], best: float, best_chunk: float, scores: tuple[float, ...]
) -> Evidence:
    parts: list[str] = []
    owner: list[int] = []
    offset: list[int] = []
    for i, s in enumerate(chosen):
        if i:
            prev = chosen[i - 1]
            adjacent = (
                prev.source == s.source and prev.row == s.row and s.position == prev.position + 1
            )
            sep = " " if adjacent else "\n"
            parts.append(sep)
            owner.append(-1)
            offset.append(-1)
        norm, offs = _normalise(s.text, s.start)
        parts.append(norm)
        owner.extend([i] * len(norm))
        offset.extend(offs)
    return Evidence(
        text="".join(parts),
        sentences=tuple(chosen),
        owner=np.array(owner, dtype=np.int64),
        offset=np.array(offset, dtype=np.int64),
        best_similarity=best,
        best_chunk_similarity=best_chunk,
        scores=scores,
    )


def _normalise(text: str, base: int) -> tuple[str, list[int]]:
    """Collapse white space runs to one space, remembering each character's offset."""
    out: list[str] = []
    offs: list[int] = []
    last = 0
    for m in _SPACE.finditer(text):
        out.append(text[last : m.start()])
        offs.extend(range(base + last, base + m.start()))
        out.append(" ")
        offs.append(base + m.start())
        last = m.end()
    out.append(text[last:])
    offs.extend(range(base + last, base + len(text)))
    return "".join(out), offs
