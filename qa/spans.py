"""Where an answer lies in a chunk: whole words, one sentence, and the sentences it cites.

The reader proposes spans in word pieces; :func:`place` turns one into the
chunk span an answer may be (or None when it cannot be one), and
:func:`chunk_citations` gives the exact document sentences it rests on.
"""

from __future__ import annotations

from .grounding import echoes_question, fits_question, looks_like_injection, supported
from .retrieval import Hit
from .types import Citation

_TRAILING = ",;:–—-"
_JOINERS = "-/"


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


def _abbreviation(text: str, end: int) -> bool:
    """'U.S.' keeps its final dot; 'million.' does not."""
    word = text[:end].split(" ")[-1]
    return word.count(".") > 1 or (len(word) <= 3 and word[:1].isupper())


def place(hit: Hit, start: int, end: int, question: str) -> tuple[int, int] | None:
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
    start, end = whole_words(text, start, end)
    s0, s1 = sentence_at(chunk, start)
    placed = trim_span(text, start, min(end, s1))  # an answer stays within one sentence
    if placed is None:
        return None
    a, b = placed
    if looks_like_injection(text[s0:s1]):
        return None
    answer = text[a:b]
    if not fits_question(answer, question) or echoes_question(answer, question):
        return None
    if not supported(answer, [c.quote for c in chunk_citations(chunk, a, b)]):
        return None  # a guard: spans are exact, so this holds unless offsets broke
    return a, b


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
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


def sentence_at(chunk, offset: int) -> tuple[int, int]:
    """The chunk's sentence holding ``offset`` (chunk coordinates)."""
    at = chunk.start + offset
    for s, e in chunk.sentences:
        if s <= at < e:
            return s - chunk.start, e - chunk.start
    return 0, len(chunk.text)


def chunk_citations(chunk, start: int, end: int) -> tuple[Citation, ...]:
    """The chunk's sentences that the span ``[start, end)`` (chunk coordinates) touches."""
    a, b = chunk.start + start, chunk.start + end
    return tuple(
        Citation(chunk.source, s, e, chunk.text[s - chunk.start : e - chunk.start])
        for s, e in chunk.sentences
        if s < b and a < e
    )
