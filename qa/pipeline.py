"""The whole answering flow, wired in one place.

question -> follow-up resolution (``followups``) -> hybrid retrieval
(``retrieval``) -> the trained reader's spans (``reader``) placed in their
chunks (``spans``) -> the choice among them (``choice``) -> answer or abstain
(``decision``) -> Answer with exact citations. A question of several parts is
read part by part; bylines and "Tell me about X" have replies of their own
(``replies``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel, Field

from index import get_embedder, open_store, resolve_index_dir, store_url
from index.errors import InputError
from index.stores import Store, load_from

from .byline import document_field
from .choice import Choice, choose
from .decision import Facts, Rules, decide
from .followups import Resolved, Turn, resolve
from .grounding import looks_like_injection, missing_terms
from .queueing import ANSWERING
from .reader import Reader, get_reader
from .replies import Reply, combine, describe, from_header, standalone_parts
from .retrieval import HybridRetriever
from .shapes import asks_for_items, description_subject, enumeration, split_parts
from .spans import chunk_citations, sentence_at
from .types import ABSTENTION, Answer

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000


class AnswerSettings(BaseModel, frozen=True):
    """Knobs of the answering flow; the values are chosen on validation data."""

    # Answer when the reader's best span beats its no-answer score by this
    # (None: the threshold chosen on validation articles, in reader.json).
    reader_threshold: float | None = None
    reader_spans: int = Field(default=5, ge=1, le=50)  # best spans kept per chunk
    # Decide with the combination fitted beside the reader (qa/confidence.py), if any.
    reader_combine: bool = True
    chunks: int = Field(default=4, ge=1, le=20)
    # "Tell me about X" abstains below this sentence similarity (docs/abstention.md).
    min_similarity: float = 0.20


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
        self.on_candidates: Callable[[list[Choice]], None] | None = None
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

    @property
    def reader_threshold(self) -> float:
        """The value an answer needs: the setting, else the one chosen with the model."""
        if self.settings.reader_threshold is not None:
            return self.settings.reader_threshold
        if self.settings.reader_combine and self.reader.combiner is not None:
            return self.reader.combiner.threshold
        return self.reader.config.threshold

    def warm_up(self) -> None:
        """Load what answering needs (once per process), so no question pays for it."""
        _ = self.embedder.model
        _ = self.reader.session

    def answer(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        return self._run(question, history, None)

    def stream(self, question: str, history: Sequence[Turn] = ()) -> Generator[str, None, Answer]:
        """Yield the answer's text once it is read (the reader answers whole); return the
        checked :class:`Answer`. An abstention yields nothing."""
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
            return self._read(question, history, on_text)

    def _read(
        self, question: str, history: Sequence[Turn], on_text: Callable[[str], None] | None
    ) -> Answer:
        """Each part of the question read from its own chunks, the replies combined."""
        t0 = time.perf_counter()
        resolved = resolve(question, history)
        standalone = resolved.as_standalone
        if looks_like_injection(question):
            replies = [Reply.abstain(decide(Facts(instructions=True), Rules()))]
        else:
            parts = split_parts(resolved.prompt_question) if resolved.previous is None else []
            if len(parts) > 1:
                replies = [self._read_one(p) for p in standalone_parts(parts)]
            else:
                replies = [self._read_one(resolved)]
        reply = combine(replies)
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

    def _read_one(self, resolved: Resolved) -> Reply:
        """Retrieve for one standalone question, read its chunks, decide answer or abstain."""
        s = self.settings
        t0 = time.perf_counter()
        question = resolved.prompt_question
        retriever = self.retriever()
        hits, qvec = retriever.retrieve_with_vector(resolved.retrieval_query, s.chunks)
        retrieve_ms = (time.perf_counter() - t0) * 1000
        retrieved = tuple((h.chunk.source, h.chunk.start, h.chunk.end) for h in hits)

        def abstain(decision, **signals: float) -> Reply:
            return Reply.abstain(decision, signals, retrieved, retrieve_ms)

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
            return from_header(
                retriever.index, field, hits[0], facts, retrieved, retrieve_ms, similarity
            )
        if description_subject(question):
            return describe(
                question, qvec, hits, facts, retrieved, retrieve_ms, self.embedder, s.min_similarity
            )
        choice = choose(
            self.reader,
            self.embedder,
            resolved,
            hits,
            qvec,
            spans=s.reader_spans,
            combine=s.reader_combine,
            on_candidates=self.on_candidates,
        )
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
            s0, s1 = sentence_at(chunk, start)
            a, b = enumeration(chunk.text[s0:s1], start - s0, end - s0)
            start, end = s0 + a, s0 + b
        text = chunk.text[start:end]
        citations = chunk_citations(chunk, start, end)
        return Reply(text, decision, citations, signals, retrieved, retrieve_ms)


def warm_up() -> None:
    """Load the embedder and the reader (once per process)."""
    _ = get_embedder().model
    _ = get_reader().session


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
