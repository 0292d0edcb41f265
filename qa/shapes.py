"""What shape of answer a question asks for, and how a span is grown into it.

The reader returns one span; people expect more for three kinds of question:

- a description ("Tell me about X", "Describe X", "What is Azercosmos?"): the
  one or two evidence sentences that best answer it;
- several parts ("…founded in which year, and how much did it export?"): each
  part answered on its own, each with its citation;
- several items ("Which satellites…", "Name the organisations…"): every item
  of the enumeration the answer span belongs to.

These are rules on the question's wording and the sentence's punctuation, not
a model: each is small, testable, and keeps every answer an exact span.
"""

from __future__ import annotations

import re

_DESCRIBE = re.compile(
    r"^\W*(?:(?:please\s+)?(?:tell me|tell us)\s+(?:more\s+)?about|describe|explain|"
    r"give (?:me |us )?(?:an? )?(?:overview|summary|description) of|summari[sz]e|"
    r"what do you know about|who (?:is|was|are|were)|what (?:is|are|was|were))\s+(?P<subject>.+?)"
    r"\W*$",
    re.IGNORECASE,
)
_DESCRIBE_VERB = re.compile(
    r"^\W*(tell|describe|explain|give|summari[sz]e|what do you know)", re.IGNORECASE
)
# A second question joined to the first: ", and how much…", "; when…".
_PART_BREAK = re.compile(
    r"(?:,\s*|\s*;\s*|\s+)(?:and|also|plus)\s+(?=(?:how|what|when|where|who|whom|which|why|"
    r"in which|in what|to how|to whom|to which|for how|by how)\b)"
    r"|\s*;\s*(?=(?:how|what|when|where|who|whom|which|why)\b)",
    re.IGNORECASE,
)
_LIST_QUESTION = re.compile(
    r"^\W*(?:name|list|enumerate)\b|\b(?:which|what)\s+(?:are|were)\b"
    r"|\b(?:which|what)\s+(?:\w+\s+){0,2}\w+(?<!ss)s\b\s+(?:do|does|did|are|were|have|has)\b"
    r"|\b(?:which|what)\s+(?:\w+\s+){0,2}(?:countries|companies|organi[sz]ations|satellites|"
    r"members|items|parts|types|kinds)\b",
    re.IGNORECASE,
)
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


def description_subject(question: str) -> str | None:
    """The X of "Tell me about X" / "What is X?" when the question asks for a description.

    "What is X?" counts only when X is a name (capitalised, not a longer
    question such as "What is the capital of France?").
    """
    m = _DESCRIBE.match(question)
    if not m:
        return None
    subject = m.group("subject").strip()
    if _DESCRIBE_VERB.match(question):
        return subject or None
    bare = _ARTICLE.sub("", subject)
    words = bare.split()
    if 1 <= len(words) <= 4 and all(w[:1].isupper() or w[:1].isdigit() for w in words):
        return bare
    return None


def mentions(sentence: str, subject: str) -> bool:
    """The sentence names the subject (its capitalised words, or all its words)."""
    words = [w for w in re.findall(r"[\w'’-]+", subject) if w[:1].isupper()] or subject.split()
    return all(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", sentence) for w in words)


def defines(sentence: str, subject: str) -> bool:
    """The sentence says what the subject is: "X is/was…", "X, founded in…, brings…"."""
    last = re.escape(subject.split()[-1]) if subject.split() else ""
    return bool(
        last
        and re.search(
            rf"(?<!\w){last}(?:\s+[A-Z][\w-]*)?\s*(?:,[^,]{{1,60}},\s*)?"
            r"(?:is|was|are|were|has been|brings|provides|serves)\b",
            sentence,
        )
    )


def split_parts(question: str) -> list[str]:
    """The questions inside one question; a single-part question comes back alone."""
    parts = [p.strip(" ,;") for p in _PART_BREAK.split(question)]
    parts = [p for p in parts if len(p.split()) >= 2]
    return parts if len(parts) > 1 else [question]


def asks_for_items(question: str) -> bool:
    return bool(_LIST_QUESTION.search(question))


_SEPARATOR = re.compile(r"\s*(?:,\s*(?:and|or)\s+|,\s*|\s+(?:and|or)\s+)")
_ITEM_WORDS = 6  # an item longer than this is a clause, not a list item
_NAME_RUN = re.compile(r"(?:[A-Z0-9][\w'’&.-]*\s+)*[A-Z0-9][\w'’&.-]*")
_END = " .;:"


def enumeration(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The span of the whole list in ``sentence`` that the item ``[start, end)`` belongs to.

    Items are separated by commas and "and"/"or". From the span's own item the
    run grows right while the next item is short (a list item, not a clause)
    until the item after an "and"; and left likewise. A long neighbour
    contributes only the name it ends (left) or starts (right) with
    ("…such as SatADSL, Globecast…"). A span that is no list item comes back
    as it was.
    """
    seps = list(_SEPARATOR.finditer(sentence))
    if not seps:
        return start, end
    items: list[tuple[int, int]] = []
    prev = 0
    for m in seps:
        items.append((prev, m.start()))
        prev = m.end()
    items.append((prev, len(sentence.rstrip(_END))))
    inside = [i for i, (a, b) in enumerate(items) if a < end and start < b]
    if not inside:
        return start, end
    lo, hi = inside[0], inside[-1]

    def short(i: int) -> bool:
        a, b = items[i]
        return 0 < len(sentence[a:b].split()) <= _ITEM_WORDS

    new_start, new_end = start, end
    first, last, closed = lo, hi, False
    if not sentence[end : items[hi][1]].strip(_END):
        j = hi
        while j + 1 < len(items):
            j += 1
            a, b = items[j]
            if not short(j):
                head = _NAME_RUN.match(sentence, a)
                if head and head.end() > a:
                    new_end, last = head.end(), j
                break
            new_end, last = b, j
            if re.search(r"\b(and|or)\s*$", sentence[items[j - 1][1] : a]):
                closed = True  # "…, X and Y": Y is the last item
                break
    if not sentence[items[lo][0] : start].strip():
        j = lo
        while j - 1 >= 0:
            j -= 1
            a, b = items[j]
            if not short(j):
                tails = list(_NAME_RUN.finditer(sentence, a, b))
                if tails and tails[-1].end() == b:
                    new_start, first = tails[-1].start(), j
                break
            new_start, first = a, j
    closed = closed or sentence[:new_end].rstrip(_END).endswith("etc")
    # Two pieces joined by a comma are as often two clauses as a list.
    if last - first + 1 < 3 and not closed:
        return start, end
    return new_start, max(new_end, end)
