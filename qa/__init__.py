"""Grounded question answering over an index built by ``index``.

from qa import answer, Chat
a = answer("How much did Azercosmos export in 2020?")
a.text, a.abstained, a.citations, a.timings_ms
"""

from .chat import Chat
from .pipeline import AnswerSettings, Assistant, answer, get_assistant
from .types import ABSTENTION, Answer, Citation

__all__ = [
    "ABSTENTION",
    "Answer",
    "AnswerSettings",
    "Assistant",
    "Chat",
    "Citation",
    "answer",
    "get_assistant",
]
