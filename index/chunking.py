"""Sentence-aware chunking that keeps exact character spans.

Written here rather than taken from llama-index's ``SentenceSplitter`` because
that splitter rebuilds chunk text from pieces and recovers offsets afterwards
with ``str.find``: offsets go missing when whitespace changes and point at the
first copy when a passage repeats. Citations must quote the document exactly,
so every chunk and sentence here is a slice ``text[start:end]`` by construction.
Sentence boundaries come from NLTK's Punkt model (the one llama-index ships).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .config import ChunkingConfig

Span = tuple[int, int]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkSpan:
    """A chunk as offsets into its document, with its sentences' offsets."""

    start: int
    end: int
    sentences: tuple[Span, ...]


@lru_cache(maxsize=1)
def _punkt():
    """Punkt's English model, from the copy llama-index ships (no download)."""
    import importlib.util
    import os

    import nltk
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTokenizer

    spec = importlib.util.find_spec("llama_index.core")
    if spec and spec.submodule_search_locations:
        cache = os.path.join(spec.submodule_search_locations[0], "_static", "nltk_cache")
        if cache not in nltk.data.path:
            nltk.data.path.insert(0, cache)
    try:
        return PunktTokenizer("english")
    except LookupError:  # pragma: no cover - only without llama-index's data
        # Untrained Punkt still splits at sentence punctuation; it knows fewer
        # abbreviations.
        return PunktSentenceTokenizer()


def sentence_spans(text: str) -> list[Span]:
    """Sentences as ``(start, end)`` offsets, trimmed of surrounding white space.

    Paragraph breaks (blank lines) always end a sentence, so headings and
    list-like lines without final punctuation do not merge with what follows.
    """
    spans: list[Span] = []
    tokenizer = _punkt()
    for para_start, para_end in _paragraphs(text):
        para = text[para_start:para_end]
        for s, e in tokenizer.span_tokenize(para):
            s, e = _trim(text, para_start + s, para_start + e)
            if e > s:
                spans.append((s, e))
    return spans


def _paragraphs(text: str) -> list[Span]:
    out: list[Span] = []
    start = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        out.append((start, match.start()))
        start = match.end()
    out.append((start, len(text)))
    return [(s, e) for s, e in out if text[s:e].strip()]


def _trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_text(
    text: str,
    count_tokens: Callable[[Sequence[str]], list[int]],
    config: ChunkingConfig,
) -> list[ChunkSpan]:
    """Pack whole sentences into chunks of at most ``config.max_tokens`` word pieces.

    Consecutive chunks share trailing sentences worth up to
    ``config.overlap_tokens``, so a fact that straddles a boundary is whole in
    one of them. A sentence too long for one chunk is cut at word boundaries.
    """
    pieces: list[Span] = []
    sentences = sentence_spans(text)
    lengths = count_tokens([text[s:e] for s, e in sentences]) if sentences else []
    for (s, e), n in zip(sentences, lengths, strict=True):
        if n <= config.max_tokens:
            pieces.append((s, e))
        else:
            pieces.extend(_split_long(text, s, e, count_tokens, config.max_tokens))
    if not pieces:
        return []
    sizes = count_tokens([text[s:e] for s, e in pieces])

    chunks: list[ChunkSpan] = []
    i = 0
    while i < len(pieces):
        j, total = i, 0
        # +1 per joint: the white space between sentences rarely costs more.
        while j < len(pieces) and total + sizes[j] + (1 if j > i else 0) <= config.max_tokens:
            total += sizes[j] + (1 if j > i else 0)
            j += 1
        j = max(j, i + 1)
        members = tuple(pieces[i:j])
        chunks.append(ChunkSpan(members[0][0], members[-1][1], members))
        if j >= len(pieces):
            break
        # Step back over trailing sentences that fit in the overlap budget.
        back, carried = j, 0
        while back - 1 > i and carried + sizes[back - 1] <= config.overlap_tokens:
            back -= 1
            carried += sizes[back]
        i = back
    return chunks


def _split_long(
    text: str,
    start: int,
    end: int,
    count_tokens: Callable[[Sequence[str]], list[int]],
    max_tokens: int,
) -> list[Span]:
    """Cut one over-long sentence into word windows that each fit the embedder."""
    words = [(start + m.start(), start + m.end()) for m in _WORD.finditer(text[start:end])]
    counts = count_tokens([text[s:e] for s, e in words])
    out: list[Span] = []
    i = 0
    while i < len(words):
        j, total = i, 0
        while j < len(words) and total + counts[j] <= max_tokens:
            total += counts[j]
            j += 1
        if j == i:  # a single "word" longer than a chunk: cut it by characters
            s, e = words[i]
            step = max(1, (e - s) * max_tokens // max(counts[i], 1))
            out.extend((k, min(k + step, e)) for k in range(s, e, step))
            i += 1
            continue
        out.append((words[i][0], words[j - 1][1]))
        i = j
    return out
