"""Conversations: a session that remembers its turns, above the answering pipeline.

``Chat`` is what the terminal chat, the web chat (one per browser session) and
``from qa import Chat`` hold; follow-up questions are resolved against its
turns by ``qa.followups`` inside the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from .followups import Turn, resolve
from .pipeline import Assistant, get_assistant
from .types import ABSTENTION, Answer


class Chat:
    """A conversation over one index; ``ask`` and ``stream`` remember each turn."""

    def __init__(
        self,
        index_dir: str | Path | None = None,
        *,
        assistant: Assistant | None = None,
        history: Sequence[Turn] = (),
    ) -> None:
        self.assistant = assistant or get_assistant(index_dir)
        self.history: list[Turn] = list(history)

    @classmethod
    def from_transcript(cls, pairs: Sequence[tuple[str, str]], assistant: Assistant) -> Chat:
        """A conversation that already holds these (question, answer text) turns.

        For clients that keep the history themselves (the HTTP API, OpenAI
        clients): each earlier question is resolved as it was when asked, so a
        follow-up of a follow-up still finds its subject. An empty answer or
        the abstention text counts as an abstention.
        """
        history: list[Turn] = []
        for question, text in pairs:
            standalone = resolve(question, history).as_standalone
            abstained = not text.strip() or text.strip() == ABSTENTION
            answer = Answer(question, text or ABSTENTION, abstained)
            history.append(Turn(question, standalone, answer))
        return cls(assistant=assistant, history=history)

    def ask(self, question: str) -> Answer:
        answer = self.assistant.answer(question, self.history)
        self._remember(question, answer)
        return answer

    def stream(self, question: str) -> Iterator[str]:
        """Yield the answer's text as it is generated; the checked Answer is ``self.last``.

        Every piece is document text (the decoder cannot write anything else).
        If the final check abstains after pieces were shown, ``self.last`` says
        so and carries the abstention text.
        """
        answer = yield from self.assistant.stream(question, self.history)
        self._remember(question, answer)

    @property
    def last(self) -> Answer | None:
        return self.history[-1].answer if self.history else None

    def reset(self) -> None:
        self.history.clear()

    def _remember(self, question: str, answer: Answer) -> None:
        self.history.append(Turn(question, answer.standalone_question or question, answer))
