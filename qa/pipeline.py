"""The whole answering flow, wired in one place.

question -> follow-up resolution -> hybrid retrieval -> evidence sentences
-> span-constrained generation -> grounding checks -> Answer with citations.
"""

from __future__ import annotations

import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from index import get_embedder, load_index, resolve_index_dir
from index.errors import InputError

from . import ranking
from .chat import Resolved, Turn, resolve
from .evidence import Evidence, select_evidence
from .grounding import (
    content_words,
    echoes_question,
    fits_question,
    looks_like_injection,
    missing_terms,
    supported,
)
from .retrieval import Hit, HybridRetriever
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


class AnswerSettings(BaseModel, frozen=True):
    """Knobs of the answering flow; the values are chosen on development data."""

    chunks: int = Field(default=4, ge=1, le=20)
    evidence_sentences: int = Field(default=3, ge=1, le=20)
    max_answer_tokens: int = Field(default=32, ge=1, le=128)
    # Abstain below these (see README, "How abstention is decided").
    min_similarity: float = 0.20
    min_first_step_mass: float = 0.20
    # Off by default since the question-gain floor below (README, "Quality and speed").
    min_mean_logprob: float = -math.inf
    # Abstain when the question made the chosen span less likely than a question
    # that asks nothing did (log-likelihood difference; None: not checked).
    min_question_gain: float | None = 0.0
    # Tokens of each span read after the null question (README, "Quality and speed").
    gain_tokens: int = Field(default=8, ge=1, le=128)
    # Spans read after the null question: the best this many by the other features.
    gain_spans: int = Field(default=4, ge=1, le=17)
    # Log-priors on where the answer opens (see README, "What was tried").
    best_sentence_prior: float = 0.0
    question_word_prior: float = 0.0
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
    """Answers questions over one index directory; reloads it when it changes."""

    def __init__(self, index_dir: str | Path | None = None, settings: AnswerSettings | None = None):
        self.index_dir = resolve_index_dir(index_dir)
        self.settings = settings or AnswerSettings()
        self.embedder = get_embedder()
        self._lock = threading.Lock()
        self._retriever: HybridRetriever | None = None
        self._stamp: tuple[int, int] | None = None

    def retriever(self) -> HybridRetriever:
        manifest = self.index_dir / "manifest.json"
        try:
            st = manifest.stat()
            stamp = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if self._retriever is None or stamp != self._stamp:
                index = load_index(self.index_dir, self.embedder.info)
                self._retriever = HybridRetriever(index, self.embedder)
                self._stamp = stamp
            return self._retriever

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
        s = self.settings
        question = validate_question(question)
        self.retriever()  # a changed index is reloaded before the clock starts
        warm_up()  # one-time model loading is not this question's latency
        t0 = time.perf_counter()
        resolved, hits, evidence = self.gather(question, history)
        t1 = time.perf_counter()
        timings = {"retrieve": (t1 - t0) * 1000}

        signals: dict[str, float] = {}

        def done(text: str, abstained: bool, reason: str, citations=()) -> Answer:
            t2 = time.perf_counter()
            timings["generate"] = (t2 - t1) * 1000
            timings["total"] = (t2 - t0) * 1000
            return Answer(
                question=question,
                text=ABSTENTION if abstained else text,
                abstained=abstained,
                citations=tuple(citations),
                timings_ms=timings,
                reason=reason,
                signals=dict(signals),
                standalone_question=resolved.retrieval_query
                if resolved.previous is None
                else resolved.prompt_question,
                retrieved=tuple((h.chunk.source, h.chunk.start, h.chunk.end) for h in hits),
            )

        if looks_like_injection(question):
            # Orders to the assistant are not questions about the documents.
            return done("", True, "the question gives the assistant instructions")
        if evidence is None:
            return done("", True, "nothing retrieved")
        signals["similarity"] = evidence.best_similarity
        missing = missing_terms(resolved.prompt_question, " ".join(h.chunk.text for h in hits))
        if missing:
            return done("", True, f"the documents never mention {', '.join(sorted(missing))}")
        if evidence.best_similarity < s.min_similarity:
            return done("", True, f"evidence not relevant ({evidence.best_similarity:.2f})")

        gen = self._choose(self.decode(evidence, resolved, on_text), resolved.prompt_question)
        if gen is None:
            return done("", True, "no span of the kind asked for (a quantity)")
        signals["opening_mass"] = gen.first_step_mass
        signals["tokens"] = float(len(gen.logprobs) + 1)
        signals["mean_logprob"] = gen.mean_logprob if gen.logprobs else -99.0
        if (gain := gen.question_gain) is not None:
            signals["question_gain"] = gain
        return self._decide(gen, evidence, question, resolved, done)

    def gather(
        self, question: str, history: Sequence[Turn] = ()
    ) -> tuple[Resolved, list[Hit], Evidence | None]:
        """The question read in context, its retrieved chunks and evidence sentences.

        Public for eval/fit_ranker.py, which must see what answering sees.
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
                start_bias=self._start_prior(evidence, question),
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

    def _start_prior(self, evidence: Evidence, question: str) -> np.ndarray | None:
        """Per evidence byte, a log-prior for the answer opening there.

        The 270M model often opens on a plausible span of the wrong sentence or
        on a word the question already says; these priors lean it towards the
        sentence retrieval ranked best and away from question words.
        """
        s = self.settings
        if not s.best_sentence_prior and not s.question_word_prior:
            return None
        text = evidence.text
        prior = np.zeros(len(text.encode("utf-8")) + 1, dtype=np.float32)
        best = len(evidence.sentences) - 1
        asked = content_words(question)
        for m in _WORD.finditer(text):
            b0 = len(text[: m.start()].encode("utf-8"))
            value = 0.0
            if int(evidence.owner[m.start()]) == best:
                value += s.best_sentence_prior
            if content_words(m.group()) & asked:
                value -= s.question_word_prior
            prior[b0] = value
        return prior

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

    def _decide(self, gen: Generation, evidence: Evidence, question: str, resolved: Resolved, done):
        s = self.settings
        if gen.byte_start < 0 or not gen.text:
            return done("", True, "the model gave no answer")
        span = _locate(gen, evidence)
        if span is None:
            return done("", True, "answer not found in the evidence")
        start, end = span
        text = evidence.text[start:end]
        citations = _citations(evidence, start, end)
        if not supported(text, [c.quote for c in citations]):
            return done("", True, "answer not supported by the cited text")
        if echoes_question(text, question) or echoes_question(text, resolved.prompt_question):
            return done("", True, "answer only repeats the question")
        if gen.first_step_mass < s.min_first_step_mass:
            return done("", True, f"model expects no answer here ({gen.first_step_mass:.3f})")
        if gen.mean_logprob < s.min_mean_logprob:
            return done("", True, f"low confidence ({gen.mean_logprob:.2f})")
        gain = gen.question_gain
        if s.min_question_gain is not None and gain is not None and gain < s.min_question_gain:
            return done("", True, f"the question does not make this answer likelier ({gain:+.2f})")
        return done(text, False, "answered", citations)


def warm_up() -> None:
    """Load the embedder, the language model and its vocabulary table (once per process)."""
    from index import get_embedder

    from .synthesis import vocabulary

    _ = get_embedder().model
    vocabulary()


def _locate(gen: Generation, evidence: Evidence) -> tuple[int, int] | None:
    """Character span of the generated text in the evidence, trimmed of stray punctuation."""
    start = _char_offset(evidence, gen.byte_start)
    if not evidence.text.startswith(gen.text, start):
        found = evidence.text.find(gen.text)
        if found < 0:
            return None
        start = found
    end = start + len(gen.text)
    while end > start and (evidence.text[end - 1] in _TRAILING or evidence.text[end - 1].isspace()):
        end -= 1
    if end > start + 1 and evidence.text[end - 1] == "." and not _abbreviation(evidence.text, end):
        end -= 1
    text = evidence.text[start:end]
    # Drop an unbalanced bracket or quote at either end.
    for opener, closer in ("()", "[]", '""', "“”"):
        if text.startswith(opener) and closer not in text[1:]:
            start += 1
            text = text[1:]
        if text.endswith(closer) and opener not in text[:-1]:
            end -= 1
            text = text[:-1]
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

    eval/fit_ranker.py dumps exactly these, so weights are fitted on what is scored.
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


_assistants: dict[Path, Assistant] = {}
_assistants_lock = threading.Lock()


def get_assistant(index_dir: str | Path | None = None) -> Assistant:
    """One shared Assistant per index directory (models load once per process)."""
    path = resolve_index_dir(index_dir)
    with _assistants_lock:
        if path not in _assistants:
            _assistants[path] = Assistant(path)
        return _assistants[path]


def answer(question: str, *, index_dir: str | Path | None = None) -> Answer:
    """Answer one question from the index: ``from qa import answer``."""
    return get_assistant(index_dir).answer(question)
