"""One part's reply before it becomes an :class:`~qa.types.Answer`, and the replies
that need no span choice: a byline from a document's header, a description.

A question of several parts ("Who founded it and when?") is read part by part
and the replies combined (:func:`combine`); a "Tell me about X" question is
answered with the sentences that say what X is (:func:`describe`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from index import Embedder
from index.stores import IndexView

from .byline import header_field
from .decision import Decision, Facts, Rules, decide
from .evidence import select_evidence
from .followups import Resolved, Turn, resolve
from .grounding import looks_like_injection
from .retrieval import Hit
from .shapes import defines, description_subject, mentions
from .spans import chunk_citations
from .types import Answer, Citation

Retrieved = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Reply:
    """One part's answer before it becomes an :class:`Answer`."""

    text: str
    decision: Decision
    citations: tuple[Citation, ...] = ()
    signals: dict[str, float] = field(default_factory=dict)
    retrieved: Retrieved = ()
    retrieve_ms: float = 0.0

    @property
    def abstained(self) -> bool:
        return not self.decision.answered

    @classmethod
    def abstain(
        cls, decision: Decision, signals=None, retrieved=(), retrieve_ms: float = 0.0
    ) -> Reply:
        return cls("", decision, (), dict(signals or {}), retrieved, retrieve_ms)


def combine(replies: list[Reply]) -> Reply:
    """One reply for a question of several parts: each part's answer, in order."""
    if len(replies) == 1:
        return replies[0]
    decision = Decision.of_parts([r.decision for r in replies])
    answered = [r for r in replies if not r.abstained]
    if not answered:
        return Reply.abstain(
            decision, replies[0].signals, tuple(x for r in replies for x in r.retrieved)
        )
    text = "; ".join(r.text if not r.abstained else "(not in the documents)" for r in replies)
    citations = tuple(dict.fromkeys(c for r in answered for c in r.citations))
    return Reply(
        text,
        decision,
        citations,
        answered[0].signals,
        tuple(dict.fromkeys(x for r in replies for x in r.retrieved)),
        sum(r.retrieve_ms for r in replies),
    )


def standalone_parts(parts: list[str]) -> list[Resolved]:
    """Later parts read with the first part's subject ("…and how much did it export?")."""
    first = Resolved(parts[0], parts[0])
    context = [Turn(parts[0], parts[0], Answer(parts[0], "", True))]
    return [first, *(resolve(p, context) for p in parts[1:])]


def from_header(
    index: IndexView,
    field: str,
    top: Hit,
    facts: Facts,
    retrieved: Retrieved,
    retrieve_ms: float,
    similarity: float,
) -> Reply:
    """ "Who wrote the article?": the byline (or date) in its document's header.

    The document is the top hit's, so "the article about X" is the one
    retrieval finds for X; its header is in its first chunk (the first row
    of a document: chunks are stored in document order).
    """
    signals = {"similarity": similarity}
    found = index.rows(index.chunks_of(top.chunk.source)[:1])
    head = found[0][1] if found else None
    span = header_field(head.text, field) if head is not None else None
    citations = chunk_citations(head, *span) if span else ()
    if any(looks_like_injection(c.quote) for c in citations):
        span = None
    decision = decide(replace(facts, fitting_span=span is not None), Rules())
    if span is None:
        return Reply.abstain(decision, signals, retrieved, retrieve_ms)
    return Reply(head.text[span[0] : span[1]], decision, citations, signals, retrieved, retrieve_ms)


def describe(
    question: str,
    qvec: np.ndarray,
    hits: list[Hit],
    facts: Facts,
    retrieved: Retrieved,
    retrieve_ms: float,
    embedder: Embedder,
    min_similarity: float,
) -> Reply:
    """ "Tell me about X": the one or two evidence sentences that best answer it.

    Of the retrieved sentences that name X, those that say what X is ("X
    is…", "X, founded in…, brings…") come first, then by relevance to
    the question; shown in document order.
    """
    subject = description_subject(question) or ""
    evidence = select_evidence(question, qvec, hits, embedder, max_sentences=8)
    similarity = evidence.best_similarity if evidence else 0.0
    signals = {"similarity": similarity}
    rules = Rules(min_similarity=min_similarity)
    facts = replace(facts, similarity=similarity, subject=subject)
    scored = (
        [
            (defines(sent.text, subject), score, sent)
            for sent, score in zip(evidence.sentences, evidence.scores, strict=True)
            if mentions(sent.text, subject)
        ]
        if evidence is not None
        else []
    )
    decision = decide(replace(facts, subject_named=bool(scored)), rules)
    if not decision.answered:
        return Reply.abstain(decision, signals, retrieved, retrieve_ms)
    scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
    chosen = sorted((sent for _, _, sent in scored[:2]), key=lambda c: (c.source, c.start))
    citations = tuple(Citation(c.source, c.start, c.end, c.text) for c in chosen)
    text = " ".join(" ".join(c.text.split()) for c in chosen)
    return Reply(text, decision, citations, signals, retrieved, retrieve_ms)
