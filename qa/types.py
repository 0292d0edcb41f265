"""What crosses the boundary of ``qa``: answers and their citations."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .decision import Decision

ABSTENTION = "I couldn't find that in the documents."


@dataclass(frozen=True)
class Citation:
    """An exact span of a document: ``quote == document_text[start:end]``."""

    source: str
    start: int
    end: int
    quote: str


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    # Why the system answered or abstained (qa/decision.py), for evaluation and debugging.
    decision: Decision | None = None
    # The scores behind the decision (retrieval similarity, the model's opening
    # probability mass and mean log-likelihood), for evaluation and tuning.
    signals: dict[str, float] = field(default_factory=dict)
    standalone_question: str = ""
    # The chunks retrieval returned, best first, as (source, start, end).
    retrieved: tuple[tuple[str, int, int], ...] = ()

    @property
    def reason(self) -> str:
        """The decision as reports say it ("evidence not relevant (0.12)")."""
        return str(self.decision) if self.decision is not None else ""

    def to_json(self) -> dict:
        """The ``seedqa ask --json`` object of DESIGN.md."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [asdict(c) for c in self.citations],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
