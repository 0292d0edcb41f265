"""An answer depends on its question and the documents, not on what was asked before.

llama-cpp-python reuses the cached part of the previous prompt; the model's
scores after a reused stretch differ from a fresh read enough to flip a close
choice between spans (it did, on the seed suite). The real model, the real
index: the same question before and after questions that share its evidence
must get the same answer with the same model scores.
"""

from __future__ import annotations

QUESTION = "Name the organizations Azercosmos sealed cooperation agreements with."
NEIGHBOURS = [
    "Azercosmos has a commercial agreement with channels from which two countries?",
    "What satellites does Azercosmos operate?",
]


def test_same_question_same_answer_whatever_came_before(assistant):
    first = assistant.answer(QUESTION)
    for other in NEIGHBOURS:
        assistant.answer(other)
        again = assistant.answer(QUESTION)
        assert again.text == first.text
        assert again.signals == first.signals
        assert again.citations == first.citations
