"""Which decoded span answers: a linear score over a few facts about each span.

Greedy decoding's span holds the answer about a third of the time on the SQuAD
dev sample, while one of the five spans decoded holds it two thirds of the
time: choosing among them matters more than decoding. The model's own
likelihood is one fact; where the span sits is the rest. Readers of SQuAD-style
questions have long used the same cues: an answer rarely repeats the question's
words, usually sits near the words it shares with the question, and has the
shape the question word asks for (a name for "who", a number for "when").

The weights are fitted on development data by ``research/fit_ranker.py`` (README,
"Quality and speed", has the table of what each feature set gave).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .grounding import content_words

_TOKEN = re.compile(r"\S+")
_DIGIT = re.compile(r"\d")
_WHO = re.compile(r"^\s*(who|whom|whose)\b|\bwho\b", re.IGNORECASE)
_WHEN = re.compile(r"\b(when|what year|which year|what century|what decade)\b", re.IGNORECASE)
_WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)
FAR = 12  # words; a span farther than this from every question word counts as this far


@dataclass(frozen=True)
class SpanFacts:
    """One candidate span, as the ranker sees it."""

    text: str
    total_logprob: float  # the model's log-likelihood of the span and its end
    mean_logprob: float
    tokens: int
    relevance: float  # its sentence's retrieval score minus the best sentence's
    greedy: bool  # the span greedy decoding produced
    sentence: str  # the evidence sentence it lies in
    start_in_sentence: int  # character offset of the span in that sentence
    # How much likelier the question made the span than a question that asks
    # nothing (qa/synthesis.py Generation.question_gain); None: not measured.
    question_gain: float | None = None


FEATURES = (
    "total_logprob",
    "mean_logprob",
    "log_tokens",
    "relevance",
    "greedy",
    "repeats_question",  # share of the span's content words that are in the question
    "distance",  # log(1 + words between the span and the nearest question word)
    "sentence_overlap",  # share of the question's content words in the span's sentence
    "type_match",  # who→name, when→digit, where→name
    "whole_sentence",  # the span is most of its sentence
    "question_gain",  # log-likelihood gained over a question that asks nothing (0: unmeasured)
)


def features(question: str, span: SpanFacts) -> np.ndarray:
    asked = content_words(question)
    words = content_words(span.text)
    repeats = len(words & asked) / len(words) if words else 1.0
    sentence_words = content_words(span.sentence)
    overlap = len(sentence_words & asked) / len(asked) if asked else 0.0
    return np.array(
        [
            span.total_logprob,
            span.mean_logprob,
            math.log(max(span.tokens, 1)),
            span.relevance,
            1.0 if span.greedy else 0.0,
            repeats,
            math.log1p(_distance(span, asked)),
            overlap,
            _type_match(question, span.text),
            1.0 if len(span.text) >= 0.8 * len(span.sentence.strip()) else 0.0,
            _question_gain(span),
        ],
        dtype=np.float64,
    )


def _question_gain(span: SpanFacts) -> float:
    return 0.0 if span.question_gain is None else span.question_gain


def _distance(span: SpanFacts, asked: set[str]) -> float:
    """Words between the span and the nearest question word outside it, in its sentence."""
    begin, end = span.start_in_sentence, span.start_in_sentence + len(span.text)
    inside: list[int] = []
    cues: list[int] = []
    for i, m in enumerate(_TOKEN.finditer(span.sentence)):
        if m.end() > begin and m.start() < end:
            inside.append(i)
        elif content_words(m.group()) & asked:
            cues.append(i)
    if not inside or not cues:
        return float(FAR)
    gaps = [inside[0] - i if i < inside[0] else i - inside[-1] for i in cues]
    return float(min(min(gaps) - 1, FAR))


def _type_match(question: str, text: str) -> float:
    name = bool(text[:1].isupper())
    if _WHEN.search(question):
        return 1.0 if _DIGIT.search(text) else -1.0
    if _WHO.search(question) or _WHERE.search(question):
        return 1.0 if name else -1.0
    return 0.0


def comparable(spans: Sequence[SpanFacts]) -> list[int]:
    """Indices of the spans to compare: those read after the null question when
    any was (the others were left out as unable to win), else all of them."""
    measured = [i for i, s in enumerate(spans) if s.question_gain is not None]
    return measured or list(range(len(spans)))


def contenders(
    question: str, spans: list[SpanFacts], limit: int, weights: Sequence[float] | None = None
) -> list[int]:
    """Indices of the ``limit`` spans that rank best on every feature but the
    question gain: the only ones worth reading after the null question, as
    each read costs a model call (README, "Quality and speed")."""
    w = np.asarray(WEIGHTS if weights is None else weights, dtype=np.float64).copy()
    w[FEATURES.index("question_gain")] = 0.0
    order = np.argsort(-scores(question, spans, w), kind="stable")
    return [int(i) for i in order[:limit]]


def weights_of(**named: float) -> tuple[float, ...]:
    """A weight vector from feature names (unnamed features weigh nothing)."""
    unknown = set(named) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown ranking features: {sorted(unknown)}")
    return tuple(float(named.get(name, 0.0)) for name in FEATURES)


def scores(
    question: str, spans: list[SpanFacts], weights: Sequence[float] | None = None
) -> np.ndarray:
    """Each span's ranking score; ``WEIGHTS`` unless told otherwise."""
    w = np.asarray(WEIGHTS if weights is None else weights, dtype=np.float64)
    return np.array([float(features(question, s) @ w) for s in spans])


def best(question: str, spans: list[SpanFacts], weights: Sequence[float] | None = None) -> int:
    """Index of the best span (the first wins ties)."""
    return int(np.argmax(scores(question, spans, weights)))


# The model's likelihood of the whole span plus 30 x its sentence's relevance,
# chosen on the SQuAD v2 dev sample (README table). The weights that
# research/fit_ranker.py fits over every feature raised the chosen span's F1 on
# that sample by 2 points (cross-validated) but failed 4 of the 29 seed
# questions, so they are not the default.
WEIGHTS = weights_of(total_logprob=1.0, relevance=30.0, question_gain=0.25)
