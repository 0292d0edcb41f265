"""Answer or abstain: one pure function over what answering found out.

Every abstention seedqa makes is decided here, by :func:`decide`, from a
:class:`Facts` record and the :class:`Rules` (thresholds) in force; the
pipeline gathers the facts and research replays (``research/``) rebuild them
from dumps, so both apply exactly the same rules. The gates are checked in one
fixed order and the first that closes decides; a fact not gathered (None) is a
gate not reached, so the pipeline can ask after each stage and stop early
(the reader reads nothing once retrieval already says "not here"). A span
that only repeats the question, or holds a name its cited sentences do not,
never reaches the decision: ``qa.spans.place`` refuses it as a candidate.

The reasons are an enum, so tests and evaluation compare values, not text;
``str(decision)`` is the sentence shown in reports ("evidence not relevant
(0.12)").
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class Reason(enum.Enum):
    """Why an answer was given or withheld; the value is how reports say it."""

    ANSWERED = "answered"
    DESCRIBED = "answered: a description"
    ANSWERED_IN_PARTS = "answered in parts"
    ABSTAINED_IN_PARTS = "no part answered"
    INSTRUCTIONS = "the question gives the assistant instructions"
    NOTHING_RETRIEVED = "nothing retrieved"
    UNMENTIONED = "the documents never mention"
    NOT_RELEVANT = "evidence not relevant"
    NO_FITTING_SPAN = "no span of the kind asked for"
    READER_FINDS_NO_ANSWER = "the reader finds no answer in the retrieved text"
    SUBJECT_NOT_NAMED = "no retrieved sentence names"

    @property
    def answers(self) -> bool:
        return self in _ANSWERING


_ANSWERING = {Reason.ANSWERED, Reason.DESCRIBED, Reason.ANSWERED_IN_PARTS}


@dataclass(frozen=True)
class Decision:
    """A reason and the detail that goes with it (the terms, the score)."""

    reason: Reason
    detail: str = ""
    parts: tuple[Decision, ...] = ()  # a question of several parts: each part's decision

    @property
    def answered(self) -> bool:
        return self.reason.answers

    def __str__(self) -> str:
        if self.parts:
            joined = "; ".join(str(p) for p in self.parts)
            return f"{self.reason.value}: {joined}" if self.answered else joined
        return f"{self.reason.value} {self.detail}" if self.detail else self.reason.value

    @classmethod
    def of_parts(cls, parts: Sequence[Decision]) -> Decision:
        """A question of several parts is answered when any part is."""
        if len(parts) == 1:
            return parts[0]
        answered = any(p.answered for p in parts)
        reason = Reason.ANSWERED_IN_PARTS if answered else Reason.ABSTAINED_IN_PARTS
        return cls(reason, parts=tuple(parts))


@dataclass(frozen=True)
class Rules:
    """The thresholds :func:`decide` applies (None: that gate is not used)."""

    min_similarity: float | None = None
    reader_threshold: float | None = None


@dataclass(frozen=True)
class Facts:
    """What answering one question found out, stage by stage (None: not looked at)."""

    instructions: bool = False  # the question gives the assistant orders
    retrieved: int | None = None  # chunks retrieval returned
    unmentioned: tuple[str, ...] = ()  # question terms no retrieved chunk holds
    similarity: float | None = None  # the best evidence sentence's similarity
    subject: str | None = None  # "Tell me about X": X
    subject_named: bool | None = None  # some evidence sentence names X
    fitting_span: bool | None = None  # a span of the kind asked for was found
    reader_value: float | None = None  # the reader's margin (or probability) for it


def decide(facts: Facts, rules: Rules) -> Decision:
    """The first gate that closes, in order; ``ANSWERED`` when all reached are open."""
    f, r = facts, rules
    if f.instructions:
        # Orders to the assistant are not questions about the documents.
        return Decision(Reason.INSTRUCTIONS)
    if f.retrieved == 0:
        return Decision(Reason.NOTHING_RETRIEVED)
    if f.unmentioned:
        return Decision(Reason.UNMENTIONED, ", ".join(sorted(f.unmentioned)))
    if _below(f.similarity, r.min_similarity):
        return Decision(Reason.NOT_RELEVANT, f"({f.similarity:.2f})")
    if f.subject is not None and f.subject_named is False:
        return Decision(Reason.SUBJECT_NOT_NAMED, f.subject)
    if f.fitting_span is False:
        return Decision(Reason.NO_FITTING_SPAN)
    if _below(f.reader_value, r.reader_threshold):
        return Decision(Reason.READER_FINDS_NO_ANSWER, f"({f.reader_value:+.2f})")
    return Decision(Reason.DESCRIBED if f.subject is not None else Reason.ANSWERED)


def _below(value: float | None, floor: float | None) -> bool:
    return value is not None and floor is not None and value < floor
