"""Follow-up resolution: a question read in the light of the turns before it.

A stage of the answering pipeline (``qa.pipeline`` imports it); the
conversation object that keeps the turns is ``qa.chat.Chat``, a floor above.

A follow-up is rewritten by rules, not by the model: a 270M base model
rewrites questions unreliably, and a bad rewrite silently changes what is
answered. Pronouns (it, its, they...) are replaced by the named subject of the
previous turn; an elliptical question ("To how many countries?") keeps the
previous question beside it, both for retrieval and in the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import regex

from .types import Answer

_PRONOUN = re.compile(r"\b(it|its|they|them|their|he|him|his|she|her)\b", re.IGNORECASE)
_ELLIPTICAL_START = re.compile(
    r"^\s*(to|in|into|from|for|by|with|and|or|what about|how about|which of|of)\b", re.IGNORECASE
)
# `regex` rather than `re`: a name may open with a capital of any alphabet
# ("Émile Zola", "Østfold"), which only \p{Lu} names.
_NAME_RUN = regex.compile(r"\b\p{Lu}[\w'’.-]*(?:\s+(?:of|the|and|de|du)?\s*\p{Lu}[\w'’.-]*)*")
_OPENERS = {
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "tell",
    "describe",
    "explain",
    "list",
    "name",
    "give",
    "is",
    "are",
    "was",
    "were",
    "did",
    "does",
    "do",
    "can",
    "could",
    "please",
    "and",
    "the",
    "a",
    "an",
    "in",
    "to",
    "show",
    "summarise",
    "summarize",
}


@dataclass(frozen=True)
class Turn:
    question: str
    standalone: str
    answer: Answer


@dataclass(frozen=True)
class Resolved:
    """How one question is asked: for retrieval, to the model, with which context."""

    retrieval_query: str
    prompt_question: str
    previous: tuple[str, str] | None = None
    # One question that stands alone, for a reader that sees no history:
    # "To how many countries?" after "How much did Azercosmos export in 2020?"
    # reads "To how many countries did Azercosmos export in 2020?".
    standalone: str = ""

    @property
    def reader_question(self) -> str:
        return self.standalone or self.retrieval_query

    @property
    def as_standalone(self) -> str:
        """The question as one that stands alone, as the next turn will read it."""
        if self.standalone:
            return self.standalone
        return self.retrieval_query if self.previous is None else self.prompt_question


def subject_of(text: str) -> str | None:
    """The first named thing in a question ("Azercosmos" in "Tell me about Azercosmos.")."""
    for match in _NAME_RUN.finditer(text):
        words = match.group(0).split()
        while words and words[0].lower() in _OPENERS:
            words = words[1:]
        if words:
            return " ".join(words).rstrip(".?!,")
    return None


def resolve(question: str, history: Sequence[Turn]) -> Resolved:
    if not history:
        return Resolved(question, question)
    last = history[-1]
    subject = subject_of(last.standalone) or subject_of(last.answer.text)
    if subject and subject_of(question) is None and _PRONOUN.search(question):

        def replace(m: re.Match[str]) -> str:
            word = m.group(0).lower()
            return f"{subject}'s" if word in {"its", "their", "his", "her"} else subject

        rewritten = _PRONOUN.sub(replace, question, count=2)
        return Resolved(rewritten, rewritten)
    words = re.findall(r"\w+", question)
    if _ELLIPTICAL_START.match(question) or len(words) <= 3:
        previous_answer = "" if last.answer.abstained else last.answer.text
        return Resolved(
            f"{last.standalone} {question}",
            question,
            (last.standalone, previous_answer),
            merge_elliptical(last.standalone, question) or "",
        )
    return Resolved(question, question)


_ASKS = re.compile(r"\b(how|what|which|who|whom|whose|when|where|why)\b", re.IGNORECASE)
_WH_THEN_AUX = re.compile(
    r"^\s*(?:(?:in|to|for|from|by|of|at|on)\s+)?(?:how|what|which|who|whom|whose|when|where|why)"
    r"(?:\s+[\w-]+){0,3}?\s+(?P<rest>(?:did|does|do|is|was|were|are|has|have|had|can|could|"
    r"will|would|should)\b.+)$",
    re.IGNORECASE,
)


def merge_elliptical(previous: str, question: str) -> str | None:
    """The elliptical ``question`` completed from ``previous``, or None if the shapes differ.

    "To how many countries?" after "How much did Azercosmos export in 2020?"
    takes the previous question's clause from its verb on: "To how many
    countries did Azercosmos export in 2020?". Only a follow-up that asks
    something itself (a question word) is completed this way.
    """
    m = _WH_THEN_AUX.match(previous)
    if not m or not _ASKS.search(question):
        return None
    return f"{question.rstrip(' ?.!')} {m.group('rest').strip()}"
