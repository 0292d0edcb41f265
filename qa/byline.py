"""Questions about a document itself (who wrote it, when), read from its header.

A news article or report opens with a byline and a date ("date 2021-02-19 By
Ayya Lmahamad", "By Jane Doe | March 3, 2021") that no sentence of its text
repeats. The reader was trained on Wikipedia paragraphs, which have no
bylines, so "Who wrote the article?" found nothing to read. These few rules
read the header lines instead: a short line near the top, a capitalised "By"
followed by a name, or a date written as dates are. The answer stays an exact
span of the document, cited like any other.
"""

from __future__ import annotations

import re

AUTHOR = "author"
DATE = "date"

HEADER_LINES = 3  # the non-empty lines that can hold a byline
HEADER_LINE_CHARS = 120  # a longer line is body text, not a header

_DOCUMENT = re.compile(
    r"\b(?:the|this)\s+(?:article|document|text|story|piece|report|post|paper|page|news)\b",
    re.IGNORECASE,
)
_ASKS_AUTHOR = re.compile(
    r"\b(?:who\s+(?:wrote|authored|penned)|(?:author|writer)\s+of|written\s+by\s+whom|"
    r"by\s+whom\s+(?:is|was))\b",
    re.IGNORECASE,
)
_ASKS_DATE = re.compile(
    r"\b(?:(?:publication|publishing|release)?\s*date\s+of|"
    r"when\s+(?:was|is)\b.*\b(?:published|written|posted|dated|released)|"
    r"(?:on\s+)?what\s+(?:date|day)\s+(?:was|is)\b.*\b(?:published|written|posted|dated))",
    re.IGNORECASE,
)
_NAME_WORD = r"[A-Z][\w'’.-]*"
_PARTICLE = r"(?:de|del|der|van|von|al|bin|ibn|da|di|la|le)"
_BYLINE = re.compile(
    rf"(?:(?<![\w-])By|(?:[Ww]ritten|[Pp]osted|[Rr]eported)\s+by)\s+"
    rf"(?P<name>{_NAME_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_NAME_WORD}){{1,3}})"
)
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{4}}|{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|"
    rf"\d{{1,2}}\s+{_MONTH}\s+\d{{4}})\b"
)


def document_field(question: str) -> str | None:
    """``AUTHOR`` or ``DATE`` when the question asks who wrote the document or when."""
    if not _DOCUMENT.search(question):
        return None
    if _ASKS_AUTHOR.search(question):
        return AUTHOR
    if _ASKS_DATE.search(question):
        return DATE
    return None


def header_lines(text: str) -> list[tuple[int, int]]:
    """The offsets of the document's header: its first few non-empty lines, up to
    the first line long enough to be body text."""
    out: list[tuple[int, int]] = []
    for m in re.finditer(r"[^\n]*\S[^\n]*", text):
        if len(m.group().strip()) > HEADER_LINE_CHARS or len(out) == HEADER_LINES:
            break
        out.append((m.start(), m.end()))
    return out


def header_field(text: str, field: str) -> tuple[int, int] | None:
    """The span of the document's author or date in its header lines, if it has one.

    ``text`` is the document's opening (its first chunk); the offsets are into it.
    """
    pattern, group = (_BYLINE, "name") if field == AUTHOR else (_DATE, 0)
    for a, b in header_lines(text):
        m = pattern.search(text, a, b)
        if m:
            return m.start(group), m.end(group)
    return None
