"""Which of the reader's spans to answer with, and the facts the decision weighs.

Every span the reader proposes that can be an answer (:func:`qa.spans.place`)
is a candidate, with 14 facts about it (scores, retrieval, overlaps, the
answers' agreement, the sentence's similarity); the combination fitted beside
the reader (``qa/confidence.py``) turns them into a probability, and the most
probable candidate is the choice. ``training/calibrate.py`` fits that
combination on exactly these candidates (``on_candidates``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from index import Embedder

from . import confidence
from .evidence import sentence_vectors
from .followups import Resolved
from .reader import Reader, Span
from .retrieval import Hit
from .spans import place, sentence_at


@dataclass(frozen=True)
class Choice:
    """The reader's chosen span: chunk coordinates and its margin over "no answer"."""

    hit: Hit
    start: int
    end: int
    margin: float
    # What the threshold is compared with: the combiner's probability, or the margin.
    value: float
    facts: dict[str, float]


def choose(
    reader: Reader,
    embedder: Embedder,
    resolved: Resolved,
    hits: list[Hit],
    qvec: np.ndarray | None = None,
    *,
    spans: int = 5,
    combine: bool = True,
    on_candidates: Callable[[list[Choice]], None] | None = None,
) -> Choice | None:
    """The reader's span to answer with, over all ``hits``, or None if none can be one.

    With the fitted combination (``combine``) the most probable candidate is
    chosen, without it the highest-scoring. The margin is the span's score
    over the lowest no-answer score of the chunks read: "the answer is in
    none of them" must lose in every chunk.
    """
    # An elliptical follow-up is read completed from the question it continues.
    readings = reader.read(resolved.reader_question, [h.chunk.text for h in hits], top=spans)
    lowest = min(r.null for r in readings)
    question = resolved.prompt_question
    placed: list[tuple[Hit, int, int, Span]] = []
    for span in sorted((sp for r in readings for sp in r.spans), key=lambda sp: -sp.score):
        hit = hits[span.context]
        if (where := place(hit, span.start, span.end, question)) is not None:
            placed.append((hit, *where, span))
    if not placed:
        return None
    best = placed[0][3].score
    words = [hit.chunk.text[start:end] for hit, start, end, _ in placed]
    sentences = [
        hit.chunk.text[slice(*sentence_at(hit.chunk, start))] for hit, start, _, _ in placed
    ]
    if qvec is None:
        qvec = embedder.embed([resolved.retrieval_query])[0]
    sentence_cos = sentence_vectors.get(sentences, embedder) @ qvec
    prob, votes = confidence.agreement([c[3].score for c in placed], words)
    # Per chunk and per question, not per candidate: up to 5 candidates share a chunk.
    chunk_overlap = {
        c: confidence.overlap(question, hits[c].chunk.text)
        for c in {span.context for *_, span in placed}
    }
    negated = confidence.negated(question)
    candidates = []
    for (hit, start, end, span), answer, sentence, cos, p, v in zip(
        placed, words, sentences, sentence_cos, prob, votes, strict=True
    ):
        facts = {
            "margin": span.score - lowest,
            "own_margin": span.score - span.null,
            "score": span.score,
            "null": lowest,
            "cosine": hit.cosine,
            "rank": float(span.context),
            "sentence_overlap": confidence.overlap(question, sentence),
            "chunk_overlap": chunk_overlap[span.context],
            "negated": negated,
            "log_words": math.log1p(len(answer.split())),
            "gap": span.score - best,
            "prob": p,
            "votes": v,
            "sentence_cosine": float(cos),
        }
        candidates.append(Choice(hit, start, end, facts["margin"], facts["margin"], facts))
    if on_candidates is not None:
        on_candidates(candidates)
    combiner = reader.combiner if combine else None
    if combiner is None:
        return candidates[0]
    scored = [replace(c, value=combiner.probability(c.facts)) for c in candidates]
    return max(scored, key=lambda c: c.value)  # the first of equals: the higher score
