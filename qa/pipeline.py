"""The whole answering flow, wired in one place.

question -> follow-up resolution -> hybrid retrieval -> evidence sentences
-> span-constrained generation -> grounding checks -> Answer with citations.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from index import get_embedder, open_store, resolve_index_dir, store_url
from index.errors import InputError
from index.stores import IndexView, Store, load_from

from . import confidence, ranking
from .byline import document_field, header_field
from .decision import Decision, Facts, Rules, decide
from .evidence import Evidence, select_evidence, sentence_vectors
from .followups import Resolved, Turn, resolve
from .grounding import (
    echoes_question,
    fits_question,
    looks_like_injection,
    missing_terms,
    supported,
)
from .queueing import ANSWERING
from .reader import Reader, Span, get_reader
from .retrieval import Hit, HybridRetriever
from .shapes import (
    asks_for_items,
    defines,
    description_subject,
    enumeration,
    mentions,
    split_parts,
)
from .synthesis import (
    NULL_QUESTION,
    Generation,
    build_prompt,
    generate_span,
    score_without_question,
)
from .types import ABSTENTION, Answer, Citation

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000
_TRAILING = ",;:–—-"
_WORD = re.compile(r"\S+")


SYNTHESISERS = ("reader", "gemma", "combined")


def default_synthesiser() -> str:
    """``$SEEDQA_SYNTHESISER``: the trained reader (default), Gemma 3 270M, or Gemma
    with the reader deciding whether to answer ("combined")."""
    chosen = os.environ.get("SEEDQA_SYNTHESISER", "reader")
    if chosen not in SYNTHESISERS:
        raise InputError(
            f"SEEDQA_SYNTHESISER={chosen!r} is not known; choose {' or '.join(SYNTHESISERS)}."
        )
    return chosen


class AnswerSettings(BaseModel, frozen=True):
    """Knobs of the answering flow; the values are chosen on development data."""

    # Who reads the retrieved text: the trained extractive reader (qa/reader.py),
    # Gemma 3 270M under span-constrained decoding, or Gemma with the reader's
    # margin as the abstention gate (README, "Quality and speed").
    synthesiser: str = Field(
        default_factory=default_synthesiser, pattern="^(reader|gemma|combined)$"
    )
    # Answer when the reader's best span beats its no-answer score by this
    # (None: the threshold chosen on validation articles, in reader.json).
    reader_threshold: float | None = None
    reader_spans: int = Field(default=5, ge=1, le=50)  # best spans kept per chunk
    # Decide with the combination fitted beside the reader (qa/confidence.py), if any.
    reader_combine: bool = True
    chunks: int = Field(default=4, ge=1, le=20)
    evidence_sentences: int = Field(default=3, ge=1, le=20)
    max_answer_tokens: int = Field(default=32, ge=1, le=128)
    # Abstain below these (see README, "How abstention is decided").
    min_similarity: float = 0.20
    min_first_step_mass: float = 0.20
    # Abstain when the question made the chosen span less likely than a question
    # that asks nothing did (log-likelihood difference; None: not checked).
    min_question_gain: float | None = 0.0
    # Tokens of each span read after the null question (README, "Quality and speed").
    gain_tokens: int = Field(default=8, ge=1, le=128)
    # Spans read after the null question: the best this many by the other features.
    gain_spans: int = Field(default=4, ge=1, le=17)
    # Spans compared (see README, "Quality and speed"): the greedy one and
    # this many other openings, ranked by qa/ranking.py.
    alternatives: int = Field(default=4, ge=0, le=16)
    ranker_weights: tuple[float, ...] = tuple(ranking.WEIGHTS)


def validate_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InputError("Ask a question: the text is empty.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(
            f"The question is {len(question):,} characters long; the limit is "
            f"{MAX_QUESTION_CHARS:,}. Shorten it and ask again."
        )
    return " ".join(question.split())


class Assistant:
    """Answers questions over one collection; reloads it when a commit changes it."""

    def __init__(
        self,
        index_dir: str | Path | None = None,
        settings: AnswerSettings | None = None,
        *,
        reader: Reader | None = None,
        store: Store | None = None,
    ):
        self.index_dir = resolve_index_dir(index_dir)
        # Bound once: the store configured when the assistant is made (files, or
        # the database in $SEEDQA_STORE) is the one it answers from.
        self.store = store or open_store(self.index_dir)
        self.settings = settings or AnswerSettings()
        self.embedder = get_embedder()
        self._reader = reader
        # Called with every candidate span the reader proposes for a question
        # (training/calibrate.py fits the combination on them).
        self.on_candidates: Callable[[list[_Choice]], None] | None = None
        self._lock = threading.Lock()
        self._retriever: HybridRetriever | None = None
        self._stamp: tuple[int, int] | None = None

    def retriever(self) -> HybridRetriever:
        # The store's commit stamp (a manifest's mtime and inode, or a database
        # collection's generation): a change committed by any process, or a
        # replica, is seen at the next question.
        stamp = self.store.stamp()
        with self._lock:
            if self._retriever is None or stamp != self._stamp:
                index = load_from(self.store, self.embedder.info)
                self._retriever = HybridRetriever(index, self.embedder)
                self._stamp = stamp
            return self._retriever

    @property
    def reader(self) -> Reader:
        """The trained reader (loaded and sha256-checked on first use)."""
        if self._reader is None:
            self._reader = get_reader()
        return self._reader

    def warm_up(self) -> None:
        """Load what answering needs (once per process), so no question pays for it."""
        _load_models(self.settings.synthesiser, self.embedder, lambda: self.reader)

    def answer(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        return self._run(question, history, None)

    def stream(self, question: str, history: Sequence[Turn] = ()) -> Generator[str, None, Answer]:
        """Yield answer text as it is decoded; return the checked :class:`Answer`."""
        question = validate_question(question)
        pieces: queue.Queue[str | None] = queue.Queue()
        result: dict[str, object] = {}

        def work() -> None:
            try:
                result["answer"] = self._run(question, history, pieces.put)
            except BaseException as exc:  # handed to the consumer below
                result["error"] = exc
            finally:
                pieces.put(None)

        threading.Thread(target=work, name="seedqa-answer", daemon=True).start()
        while (piece := pieces.get()) is not None:
            yield piece
        if "error" in result:
            raise result["error"]  # type: ignore[misc]
        answer = result["answer"]
        assert isinstance(answer, Answer)
        return answer

    def _run(
        self, question: str, history: Sequence[Turn], on_text: Callable[[str], None] | None
    ) -> Answer:
        question = validate_question(question)
        # One answer at a time per process, in arrival order, whichever way the
        # question came in (web chat, API, Python): qa/queueing.py.
        with ANSWERING:
            self.retriever()  # a changed index is reloaded before the clock starts
            self.warm_up()  # one-time model loading is not this question's latency
            if self.settings.synthesiser == "reader":
                return self._run_reader(question, history, on_text)
            return self._run_gemma(question, history, on_text)

    def _run_gemma(
        self, question: str, history: Sequence[Turn], on_text: Callable[[str], None] | None
    ) -> Answer:
        """Gemma's flow (``gemma``, or ``combined`` with the reader deciding whether to answer)."""
        s = self.settings
        t0 = time.perf_counter()
        resolved, hits, evidence = self.gather(question, history)
        t1 = time.perf_counter()
        timings = {"retrieve": (t1 - t0) * 1000}

        signals: dict[str, float] = {}

        def done(decision: Decision, text: str = "", citations=()) -> Answer:
            t2 = time.perf_counter()
            timings["generate"] = (t2 - t1) * 1000
            timings["total"] = (t2 - t0) * 1000
            abstained = not decision.answered
            return Answer(
                question=question,
                text=ABSTENTION if abstained else text,
                abstained=abstained,
                citations=tuple(citations),
                timings_ms=timings,
                decision=decision,
                signals=dict(signals),
                standalone_question=resolved.retrieval_query
                if resolved.previous is None
                else resolved.prompt_question,
                retrieved=tuple((h.chunk.source, h.chunk.start, h.chunk.end) for h in hits),
            )

        combined = s.synthesiser == "combined"
        rules = Rules(
            min_similarity=s.min_similarity,
            reader_threshold=self.reader_threshold if combined else None,
            min_first_step_mass=s.min_first_step_mass,
            min_question_gain=s.min_question_gain,
        )
        facts = Facts(
            instructions=looks_like_injection(question),
            retrieved=0 if evidence is None else len(hits),
        )
        if not (decision := decide(facts, rules)).answered:
            return done(decision)
        signals["similarity"] = evidence.best_similarity
        missing = missing_terms(resolved.prompt_question, " ".join(h.chunk.text for h in hits))
        facts = replace(facts, unmentioned=tuple(missing), similarity=evidence.best_similarity)
        if not (decision := decide(facts, rules)).answered:
            return done(decision)
        if combined:
            # Gemma answers; the trained reader's margin decides whether to.
            choice = self._reader_choice(resolved, hits)
            signals["answer_score"] = choice.value if choice else -99.0
            facts = replace(
                facts,
                fitting_span=choice is not None,
                reader_value=choice.value if choice else None,
            )
            if not (decision := decide(facts, rules)).answered:
                return done(decision)

        gen = self._choose(self.decode(evidence, resolved, on_text), resolved.prompt_question)
        if gen is None:
            return done(decide(replace(facts, fitting_span=False), rules))
        signals["opening_mass"] = gen.first_step_mass
        signals["tokens"] = float(len(gen.logprobs) + 1)
        signals["mean_logprob"] = gen.mean_logprob if gen.logprobs else -99.0
        if (gain := gen.question_gain) is not None:
            signals["question_gain"] = gain
        return self._decide(gen, evidence, resolved, facts, rules, done)

    def _run_reader(
        self, question: str, history: Sequence[Turn], on_text: Callable[[str], None] | None
    ) -> Answer:
        """The trained reader's flow: each part of the question read from its own chunks."""
        t0 = time.perf_counter()
        resolved = resolve(question, history)
        standalone = resolved.as_standalone
        if looks_like_injection(question):
            replies = [_Reply.abstain(decide(Facts(instructions=True), Rules()))]
        else:
            parts = split_parts(resolved.prompt_question) if resolved.previous is None else []
            if len(parts) > 1:
                replies = [self._read_one(p) for p in _standalone_parts(parts)]
            else:
                replies = [self._read_one(resolved)]
        reply = _combine(replies)
        if on_text is not None and not reply.abstained:
            on_text(reply.text)
        t2 = time.perf_counter()
        retrieve_ms = sum(r.retrieve_ms for r in replies)
        return Answer(
            question=question,
            text=ABSTENTION if reply.abstained else reply.text,
            abstained=reply.abstained,
            citations=reply.citations,
            timings_ms={
                "retrieve": retrieve_ms,
                "generate": (t2 - t0) * 1000 - retrieve_ms,
                "total": (t2 - t0) * 1000,
            },
            decision=reply.decision,
            signals=reply.signals,
            standalone_question=standalone,
            retrieved=reply.retrieved,
        )

    def _read_one(self, resolved: Resolved) -> _Reply:
        """Retrieve for one standalone question, read its chunks, decide answer or abstain."""
        s = self.settings
        t0 = time.perf_counter()
        question = resolved.prompt_question
        retriever = self.retriever()
        hits, qvec = retriever.retrieve_with_vector(resolved.retrieval_query, s.chunks)
        retrieve_ms = (time.perf_counter() - t0) * 1000
        retrieved = tuple((h.chunk.source, h.chunk.start, h.chunk.end) for h in hits)

        def abstain(decision: Decision, **signals: float) -> _Reply:
            return _Reply.abstain(decision, signals, retrieved, retrieve_ms)

        rules = Rules(reader_threshold=self.reader_threshold)
        facts = Facts(retrieved=len(hits))
        if not hits:
            return abstain(decide(facts, rules))
        similarity = max(h.cosine for h in hits)
        missing = missing_terms(question, " ".join(h.chunk.text for h in hits))
        facts = replace(facts, unmentioned=tuple(missing))
        if not (decision := decide(facts, rules)).answered:
            return abstain(decision, similarity=similarity)
        if (field := document_field(question)) is not None:
            return _from_header(
                retriever.index, field, hits[0], facts, retrieved, retrieve_ms, similarity
            )
        if description_subject(question):
            return self._describe(question, qvec, hits, facts, retrieved, retrieve_ms)
        choice = self._reader_choice(resolved, hits, qvec)
        facts = replace(facts, fitting_span=choice is not None)
        if choice is None:
            return abstain(decide(facts, rules), similarity=similarity)
        signals = {
            "similarity": similarity,
            "reader_margin": choice.margin,
            "answer_score": choice.value,
            **{f"reader_{k}": v for k, v in choice.facts.items()},
        }
        decision = decide(replace(facts, reader_value=choice.value), rules)
        if not decision.answered:
            return abstain(decision, **signals)
        chunk, start, end = choice.hit.chunk, choice.start, choice.end
        if asks_for_items(question):
            s0, s1 = _sentence_at(chunk, start)
            a, b = enumeration(chunk.text[s0:s1], start - s0, end - s0)
            start, end = s0 + a, s0 + b
        text = chunk.text[start:end]
        citations = _chunk_citations(chunk, start, end)
        return _Reply(text, decision, citations, signals, retrieved, retrieve_ms)

    @property
    def reader_threshold(self) -> float:
        """The margin an answer needs: the setting, else the one chosen with the model."""
        if self.settings.reader_threshold is not None:
            return self.settings.reader_threshold
        if self.settings.reader_combine and self.reader.combiner is not None:
            return self.reader.combiner.threshold
        return self.reader.config.threshold

    def _reader_choice(
        self, resolved: Resolved, hits: list[Hit], qvec: np.ndarray | None = None
    ) -> _Choice | None:
        """The reader's span to answer with, over all ``hits``, or None if none can be one.

        Every span the reader proposes that can be an answer is a candidate;
        with the fitted combination (qa/confidence.py) the most probable one is
        chosen, without it the highest-scoring. The margin is the span's score
        over the lowest no-answer score of the chunks read: "the answer is in
        none of them" must lose in every chunk.
        """
        # An elliptical follow-up is read completed from the question it continues.
        readings = self.reader.read(
            resolved.reader_question, [h.chunk.text for h in hits], top=self.settings.reader_spans
        )
        lowest = min(r.null for r in readings)
        question = resolved.prompt_question
        placed: list[tuple[Hit, int, int, Span]] = []
        for span in sorted((sp for r in readings for sp in r.spans), key=lambda sp: -sp.score):
            hit = hits[span.context]
            if (where := _place(hit, span.start, span.end, question)) is not None:
                placed.append((hit, *where, span))
        if not placed:
            return None
        best = placed[0][3].score
        words = [hit.chunk.text[start:end] for hit, start, end, _ in placed]
        sentences = [
            hit.chunk.text[slice(*_sentence_at(hit.chunk, start))] for hit, start, _, _ in placed
        ]
        if qvec is None:
            qvec = self.embedder.embed([resolved.retrieval_query])[0]
        sentence_cos = sentence_vectors.get(sentences, self.embedder) @ qvec
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
            candidates.append(_Choice(hit, start, end, facts["margin"], facts["margin"], facts))
        if self.on_candidates is not None:
            self.on_candidates(candidates)
        combiner = self.reader.combiner if self.settings.reader_combine else None
        if combiner is None:
            return candidates[0]
        scored = [replace(c, value=combiner.probability(c.facts)) for c in candidates]
        return max(scored, key=lambda c: c.value)  # the first of equals: the higher score

    def _describe(
        self,
        question: str,
        qvec: np.ndarray,
        hits: list[Hit],
        facts: Facts,
        retrieved: tuple[tuple[str, int, int], ...],
        retrieve_ms: float,
    ) -> _Reply:
        """ "Tell me about X": the one or two evidence sentences that best answer it.

        Of the retrieved sentences that name X, those that say what X is ("X
        is…", "X, founded in…, brings…") come first, then by relevance to
        the question; shown in document order.
        """
        subject = description_subject(question) or ""
        evidence = select_evidence(question, qvec, hits, self.embedder, max_sentences=8)
        similarity = evidence.best_similarity if evidence else 0.0
        signals = {"similarity": similarity}
        rules = Rules(min_similarity=self.settings.min_similarity)
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
            return _Reply.abstain(decision, signals, retrieved, retrieve_ms)
        scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
        chosen = sorted((sent for _, _, sent in scored[:2]), key=lambda c: (c.source, c.start))
        citations = tuple(Citation(c.source, c.start, c.end, c.text) for c in chosen)
        text = " ".join(" ".join(c.text.split()) for c in chosen)
        return _Reply(text, decision, citations, signals, retrieved, retrieve_ms)

    def gather(
        self, question: str, history: Sequence[Turn] = ()
    ) -> tuple[Resolved, list[Hit], Evidence | None]:
        """The question read in context, its retrieved chunks and evidence sentences.

        Public for research/fit_ranker.py, which must see what answering sees.
        """
        s = self.settings
        resolved = resolve(question, history)
        hits, qvec = self.retriever().retrieve_with_vector(resolved.retrieval_query, s.chunks)
        evidence = select_evidence(
            resolved.prompt_question, qvec, hits, self.embedder, max_sentences=s.evidence_sentences
        )
        return resolved, hits, evidence

    def decode(
        self,
        evidence: Evidence,
        resolved: Resolved,
        on_text: Callable[[str], None] | None = None,
    ) -> Decoded:
        """The greedy span and its alternatives, as answering decodes them.

        The spans that can still be chosen are then read after a question that
        asks nothing, for their question gain (qa/synthesis.py).
        """
        s = self.settings
        question = resolved.prompt_question
        prompt = build_prompt(evidence.text, question, resolved.previous)
        try:
            gen = generate_span(
                prompt,
                evidence.text,
                max_tokens=s.max_answer_tokens,
                on_text=on_text,
                alternatives=s.alternatives,
                min_first_step_mass=s.min_first_step_mass,
            )
        except ValueError as exc:
            raise InputError(
                "The question and its context are too long for the model; ask a shorter question."
            ) from exc
        located = candidates(gen, evidence, question)
        gain_weight = s.ranker_weights[ranking.FEATURES.index("question_gain")]
        # Below the opening-mass bar the answer is abstained on whatever the gain.
        if (gain_weight or s.min_question_gain is not None) and (
            gen.first_step_mass >= s.min_first_step_mass
        ):
            contenders = self._contenders(located, question)
            if contenders:
                null_prompt = build_prompt(evidence.text, NULL_QUESTION, resolved.previous)
                score_without_question(null_prompt, contenders, s.gain_tokens)
                located = [c.with_measured_gain() for c in located]
        return Decoded(gen, located)

    def _contenders(self, located: list[Candidate], question: str) -> list[Generation]:
        """The spans worth reading after the null question: those of the kind
        asked for that can still win (``ranking.contenders``)."""
        fitting = [c for c in located if c.fits]
        s = self.settings
        best = ranking.contenders(
            question, [c.facts for c in fitting], s.gain_spans, s.ranker_weights
        )
        return [fitting[i].generation for i in best]

    def _choose(self, decoded: Decoded, question: str) -> Generation | None:
        """The best of the spans decoded (qa/ranking.py), or None when none fits the question.

        A span that cannot answer the kind of question asked (no quantity for
        "how many") is never chosen.
        """
        if not decoded.candidates:
            return decoded.generation  # _decide reports that no answer was found in the evidence
        fitting = [c for c in decoded.candidates if c.fits]
        if not fitting:
            return None
        fitting = [fitting[i] for i in ranking.comparable([c.facts for c in fitting])]
        best = ranking.best(question, [c.facts for c in fitting], self.settings.ranker_weights)
        return fitting[best].generation

    def _decide(
        self,
        gen: Generation,
        evidence: Evidence,
        resolved: Resolved,
        facts: Facts,
        rules: Rules,
        done: Callable[..., Answer],
    ) -> Answer:
        """The decoded span's own gates (qa/decision.py), then the answer with its citations."""
        question = resolved.prompt_question
        facts = replace(facts, generated=gen.byte_start >= 0 and bool(gen.text))
        span = _locate(gen, evidence) if facts.generated else None
        facts = replace(facts, located=span is not None if facts.generated else None)
        if span is None:
            return done(decide(facts, rules))
        start, end = span
        text = evidence.text[start:end]
        citations = _citations(evidence, start, end)
        facts = replace(
            facts,
            supported=supported(text, [c.quote for c in citations]),
            echoes_question=echoes_question(text, question),
            opening_mass=gen.first_step_mass,
            question_gain=gen.question_gain,
        )
        decision = decide(facts, rules)
        return done(decision, text, citations) if decision.answered else done(decision)


def warm_up(settings: AnswerSettings | None = None) -> None:
    """Load the embedder and the synthesiser the settings choose (once per process)."""
    settings = settings or AnswerSettings()
    _load_models(settings.synthesiser, get_embedder(), get_reader)


def _load_models(synthesiser: str, embedder, reader: Callable[[], Reader]) -> None:
    """The embedder, plus the reader's session and/or Gemma's vocabulary as chosen."""
    _ = embedder.model
    if synthesiser != "gemma":
        _ = reader().session
    if synthesiser != "reader":
        from .synthesis import vocabulary

        vocabulary()


def _locate(gen: Generation, evidence: Evidence) -> tuple[int, int] | None:
    """Character span of the generated text in the evidence, trimmed of stray punctuation."""
    start = _char_offset(evidence, gen.byte_start)
    if not evidence.text.startswith(gen.text, start):
        found = evidence.text.find(gen.text)
        if found < 0:
            return None
        start = found
    return trim_span(evidence.text, start, start + len(gen.text))


def trim_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``text[start:end]`` without stray punctuation at its ends, or None if nothing is left.

    Trailing commas, dashes and a sentence's final dot go (an abbreviation's
    dot stays), and an unbalanced bracket or quote at either end.
    """
    while end > start and (text[end - 1] in _TRAILING or text[end - 1].isspace()):
        end -= 1
    if end > start + 1 and text[end - 1] == "." and not _abbreviation(text, end):
        end -= 1
    span = text[start:end]
    for opener, closer in ("()", "[]", '""', "“”"):
        if span.startswith(opener) and closer not in span[1:]:
            start += 1
            span = span[1:]
        if span.endswith(closer) and opener not in span[:-1]:
            end -= 1
            span = span[:-1]
    if end <= start:
        return None
    return start, end


@dataclass(frozen=True)
class Candidate:
    """A decoded span found in the evidence."""

    generation: Generation
    facts: ranking.SpanFacts  # what the ranker scores
    fits: bool  # it can answer the kind of question asked (a quantity for "how many")

    def with_measured_gain(self) -> Candidate:
        """The same span once its generation has been read after the null question."""
        gain = self.generation.question_gain
        return replace(self, facts=replace(self.facts, question_gain=gain))


@dataclass(frozen=True)
class Decoded:
    """What decoding one question produced: the greedy span, and every decoded
    span found in the evidence (greedy first) with the facts the ranker scores."""

    generation: Generation
    candidates: list[Candidate]


def candidates(gen: Generation, evidence: Evidence, question: str) -> list[Candidate]:
    """Every span decoded for ``question`` that lies in the evidence, greedy first.

    research/fit_ranker.py dumps exactly these, so weights are fitted on what is scored.
    """
    out = []
    for g in gen.considered or [gen]:
        if g.byte_start < 0 or not g.text:
            continue
        facts = _span_facts(g, evidence, g is gen)
        if facts is not None:
            out.append(Candidate(g, facts, fits_question(facts.text, question)))
    return out


def _span_facts(gen: Generation, evidence: Evidence, greedy: bool) -> ranking.SpanFacts | None:
    """What the ranker needs about one decoded span; None if it is not found in the evidence."""
    span = _locate(gen, evidence)
    if span is None:
        return None
    start, end = span
    owner = int(evidence.owner[start])
    if owner < 0:
        return None
    sentence = np.nonzero(evidence.owner == owner)[0]
    s0, s1 = int(sentence[0]), int(sentence[-1]) + 1
    top = max(evidence.scores, default=0.0)
    return ranking.SpanFacts(
        text=evidence.text[start:end],
        total_logprob=gen.total_logprob,
        mean_logprob=gen.mean_logprob,
        tokens=len(gen.logprobs),
        relevance=evidence.scores[owner] - top if evidence.scores else 0.0,
        greedy=greedy,
        sentence=evidence.text[s0:s1],
        start_in_sentence=start - s0,
        question_gain=gen.question_gain,
    )


def _char_offset(evidence: Evidence, byte_offset: int) -> int:
    """The evidence character at a byte offset of its UTF-8 text (where decoding works)."""
    return len(evidence.text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def _abbreviation(text: str, end: int) -> bool:
    """'U.S.' keeps its final dot; 'million.' does not."""
    word = text[:end].split(" ")[-1]
    return word.count(".") > 1 or (len(word) <= 3 and word[:1].isupper())


def _citations(evidence: Evidence, start: int, end: int) -> list[Citation]:
    owners = sorted({int(o) for o in evidence.owner[start:end] if o >= 0})
    return [
        Citation(s.source, s.start, s.end, s.text) for s in (evidence.sentences[i] for i in owners)
    ]


@dataclass(frozen=True)
class _Choice:
    """The reader's chosen span: chunk coordinates and its margin over "no answer"."""

    hit: Hit
    start: int
    end: int
    margin: float
    # What the threshold is compared with: the combiner's probability, or the margin.
    value: float
    facts: dict[str, float]


@dataclass(frozen=True)
class _Reply:
    """One part's answer before it becomes an :class:`Answer`."""

    text: str
    decision: Decision
    citations: tuple[Citation, ...] = ()
    signals: dict[str, float] = field(default_factory=dict)
    retrieved: tuple[tuple[str, int, int], ...] = ()
    retrieve_ms: float = 0.0

    @property
    def abstained(self) -> bool:
        return not self.decision.answered

    @classmethod
    def abstain(
        cls, decision: Decision, signals=None, retrieved=(), retrieve_ms: float = 0.0
    ) -> _Reply:
        return cls("", decision, (), dict(signals or {}), retrieved, retrieve_ms)


def _combine(replies: list[_Reply]) -> _Reply:
    """One reply for a question of several parts: each part's answer, in order."""
    if len(replies) == 1:
        return replies[0]
    decision = Decision.of_parts([r.decision for r in replies])
    answered = [r for r in replies if not r.abstained]
    if not answered:
        return _Reply.abstain(
            decision, replies[0].signals, tuple(x for r in replies for x in r.retrieved)
        )
    text = "; ".join(r.text if not r.abstained else "(not in the documents)" for r in replies)
    citations = tuple(dict.fromkeys(c for r in answered for c in r.citations))
    return _Reply(
        text,
        decision,
        citations,
        answered[0].signals,
        tuple(dict.fromkeys(x for r in replies for x in r.retrieved)),
        sum(r.retrieve_ms for r in replies),
    )


def _from_header(
    index: IndexView,
    field: str,
    top: Hit,
    facts: Facts,
    retrieved: tuple[tuple[str, int, int], ...],
    retrieve_ms: float,
    similarity: float,
) -> _Reply:
    """ "Who wrote the article?": the byline (or date) in its document's header.

    The document is the top hit's, so "the article about X" is the one
    retrieval finds for X; its header is in its first chunk (the first row
    of a document: chunks are stored in document order).
    """
    signals = {"similarity": similarity}
    found = index.rows(index.chunks_of(top.chunk.source)[:1])
    head = found[0][1] if found else None
    span = header_field(head.text, field) if head is not None else None
    citations = _chunk_citations(head, *span) if span else ()
    if any(looks_like_injection(c.quote) for c in citations):
        span = None
    decision = decide(replace(facts, fitting_span=span is not None), Rules())
    if span is None:
        return _Reply.abstain(decision, signals, retrieved, retrieve_ms)
    return _Reply(
        head.text[span[0] : span[1]], decision, citations, signals, retrieved, retrieve_ms
    )


def _standalone_parts(parts: list[str]) -> list[Resolved]:
    """Later parts read with the first part's subject ("…and how much did it export?")."""
    first = Resolved(parts[0], parts[0])
    context = [Turn(parts[0], parts[0], Answer(parts[0], "", True))]
    return [first, *(resolve(p, context) for p in parts[1:])]


def _place(hit: Hit, start: int, end: int, question: str) -> tuple[int, int] | None:
    """A reader span as a chunk span of whole words, or None when it cannot be the answer.

    Word pieces can cut a word ("OJSC" read as "O", "##JS", "##C"), so the
    span grows to whole words, ends with the sentence it starts in, and
    loses stray punctuation. It cannot be
    the answer when it lies in a sentence that addresses the assistant, is
    not of the kind asked for (a quantity for "how many"), only repeats the
    question, or holds a name or number its cited sentences do not.
    """
    chunk = hit.chunk
    text = chunk.text
    start, end = _whole_words(text, start, end)
    s0, s1 = _sentence_at(chunk, start)
    placed = trim_span(text, start, min(end, s1))  # an answer stays within one sentence
    if placed is None:
        return None
    a, b = placed
    if looks_like_injection(text[s0:s1]):
        return None
    answer = text[a:b]
    if not fits_question(answer, question) or echoes_question(answer, question):
        return None
    if not supported(answer, [c.quote for c in _chunk_citations(chunk, a, b)]):
        return None  # a guard: spans are exact, so this holds unless offsets broke
    return a, b


_JOINERS = "-/"


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` grown to whole words, a joined compound counting as one word.

    Word pieces can cut a word ("OJSC" read as "O", "##JS", "##C") or a
    compound ("2021-02-19" read up to "2021"; "Azerspace-1"): a hyphen or slash
    between two letters or digits does not end a word.
    """

    def inside(i: int) -> bool:  # does text[i] belong to the word around it?
        if text[i].isalnum():
            return True
        return (
            text[i] in _JOINERS
            and 0 < i < len(text) - 1
            and text[i - 1].isalnum()
            and text[i + 1].isalnum()
        )

    while start > 0 and inside(start - 1):
        start -= 1
    while end < len(text) and inside(end):
        end += 1
    return start, end


def _sentence_at(chunk, offset: int) -> tuple[int, int]:
    """The chunk's sentence holding ``offset`` (chunk coordinates)."""
    at = chunk.start + offset
    for s, e in chunk.sentences:
        if s <= at < e:
            return s - chunk.start, e - chunk.start
    return 0, len(chunk.text)


def _chunk_citations(chunk, start: int, end: int) -> tuple[Citation, ...]:
    """The chunk's sentences that the span ``[start, end)`` (chunk coordinates) touches."""
    a, b = chunk.start + start, chunk.start + end
    return tuple(
        Citation(chunk.source, s, e, chunk.text[s - chunk.start : e - chunk.start])
        for s, e in chunk.sentences
        if s < b and a < e
    )


_assistants: dict[tuple[str | None, Path], Assistant] = {}
_assistants_lock = threading.Lock()


def get_assistant(index_dir: str | Path | None = None) -> Assistant:
    """One shared Assistant per store and collection (models load once per process)."""
    path = resolve_index_dir(index_dir)
    key = (store_url(), path)
    with _assistants_lock:
        if key not in _assistants:
            _assistants[key] = Assistant(path)
        return _assistants[key]


def answer(question: str, *, index_dir: str | Path | None = None) -> Answer:
    """Answer one question from the index: ``from qa import answer``."""
    return get_assistant(index_dir).answer(question)
