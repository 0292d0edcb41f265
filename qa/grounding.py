"""Checks that decide whether an answer may be shown as fact.

Answers are exact spans of the documents (see ``spans``), so "is it in the
cited text" holds by construction; :func:`supported` still checks it, so the
guarantee does not rest on the decoder alone. The other checks catch what an
exact span can still get wrong: echoing the question back, and text that tries
to instruct the assistant.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# Letters of any alphabet: with ASCII-only classes "Jumièges" read as the
# name "Jumi", which no text has as a whole word, so its answers were refused.
_WORD = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"\b[^\W\d_][\w'’-]+")

# Phrases that address the assistant rather than inform the reader. A sentence
# (in a document) or a question carrying one is treated as an attempted
# instruction, never as evidence.
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.?!\n]{0,40}\b(instruction|instructions|prompt|"
    r"documents?|context|rules|above|previous)\b"
    r"|\bsystem prompt\b|\byou are now\b|\bnew instructions?\b|\bdeveloper mode\b|\bjailbreak"
    r"|\b(reply|respond|answer|say|print|output)\b[^.?!\n]{0,20}\b(only|exactly|with the word)\b"
    # An order about every answer: "Answer every question with…", "reply to all messages…".
    r"|\b(reply|respond|answer)\s+(to\s+)?(every|all|each|any)\s+"
    r"(questions?|messages?|quer(y|ies))\s+(with|by saying)\b"
    # A note addressed to the model, or an order about how to cite.
    r"|\b(note|message|instructions?|reminder)\s+(to|for)\s+(the\s+|any\s+)?(assistant|ai|"
    r"model|chatbot|bot|llm|language model)\b"
    r"|\bcite\b(?:[^.?!\n]|\.(?=\w)){0,60}\bas (the|your) sources?\b"
    # Chat-template markers (Gemma, ChatML, Llama 2) and our own prompt's labels
    # ("Context:", "Previous answer:"): text that imitates the prompt around it.
    r"|<\|?(start_of_turn|end_of_turn|im_start|im_end)\|?>|\[/?INST\]|<</?SYS>>"
    r"|^\s*(system|assistant|context|previous question|previous answer)\s*:",
    re.IGNORECASE | re.MULTILINE,
)


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    extra = {
        "much",
        "many",
        "did",
        "does",
        "do",
        "which",
        "what",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
        "whose",
        "tell",
        "name",
        "list",
        "give",
    }
    return frozenset(STOPWORDS_EN) | extra


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry meaning, with a crude plural/possessive fold."""
    out = set()
    for w in _WORD.findall(_fold(text)):
        w = w.lower().replace("’", "'")
        if w in _stopwords():
            continue
        w = w.removesuffix("'s")
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.add(w)
    return out


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION.search(text))


def _names(text: str) -> Iterator[re.Match[str]]:
    return (m for m in _CAPITALISED.finditer(text) if m.group()[0].isupper())


def key_terms(text: str) -> set[str]:
    """Numbers and capitalised names: the content an answer must not invent."""
    numbers = {n.replace(",", "") for n in _NUMBER.findall(text)}
    names = {m.group() for m in _names(text)}
    return numbers | names


def supported(answer: str, quotes: list[str]) -> bool:
    """Every number and name in ``answer`` appears in the cited text.

    A name must appear as a whole word. A number must appear as a whole
    number, but may carry letters: "10" is in "the 10th century" and "1920"
    in "the 1920s" (requiring a whole word there refused answers copied
    straight from the text), while "10" is still not in "100" or "10.5".
    """
    cited = " ".join(quotes)
    flat = cited.replace(",", "")
    return all(
        re.search(_whole(term), cited if term in cited else flat) for term in key_terms(answer)
    )


def _whole(term: str) -> str:
    """A pattern for ``term`` standing on its own (see ``supported``)."""
    if term[:1].isdigit():
        return rf"(?<![\d.]){re.escape(term)}(?![.,]?\d)"
    return rf"(?<!\w){re.escape(term)}(?!\w)"


def echoes_question(answer: str, question: str) -> bool:
    """True when the answer only repeats words of the question (it answers nothing).

    Except when the question offers a choice ("Is it abstract or concrete?",
    "Which came first, steam or sail?") and the answer takes one side of it:
    that repeats the question and answers it. "What needs time or space?"
    offers no choice, so "space" is still an echo there.
    """
    words = content_words(answer)
    if not words:
        return True
    if not words <= content_words(question):
        return False
    return not _takes_a_side(words, question)


_CHOICE = re.compile(r"([^\W_][\w'’-]*),?\s+or\s+([^\W_][\w'’-]*)", re.IGNORECASE)
# A question that offers alternatives opens like a yes/no question, or ends
# with them after a comma.
_POLAR = re.compile(
    r"^\W*(is|are|was|were|am|do|does|did|can|could|will|would|shall|should|has|have|had|may|might)"
    r"\b",
    re.IGNORECASE,
)
_TRAILING_CHOICE = re.compile(r",\s*[^,]+\s+or\s+[^,]+?\W*$", re.IGNORECASE)


def _takes_a_side(words: set[str], question: str) -> bool:
    if not (_POLAR.search(question) or _TRAILING_CHOICE.search(question)):
        return False
    for m in _CHOICE.finditer(question):
        left, right = content_words(m.group(1)), content_words(m.group(2))
        if left and right and bool(words & left) != bool(words & right):
            return True
    return False


# Capitalised only because they open the question (or a clause of it): not names.
_OPENERS = frozenset(
    "what which who whom whose when where why how is are was were did does do can could "
    "would should will tell name list give describe explain please in on at to for from "
    "by of the a an and or if according now then also so but ok okay hi hello hey "
    "pretend imagine suppose assume ignore forget translate repeat print say write show "
    "find summarise summarize answer reply respond based using".split()
)


def question_terms(question: str) -> set[str]:
    """Numbers and names a question mentions, lower-cased (question words excluded).

    The question's first word is capitalised because it opens the sentence
    ("Other than…", "Despite…", "Classification of…"), so it counts as a name
    only when more than its capital says so (an acronym, a digit, a capital
    inside it).
    """
    terms = {n.replace(",", "") for n in _NUMBER.findall(question)}
    opening = _WORD.search(question)
    for m in _names(question):
        text = m.group(0)
        if opening and m.start() == opening.start() and not _looks_like_a_name(text):
            continue
        word = text.lower().replace("’", "'").rstrip("'").removesuffix("'s")
        if word not in _OPENERS:
            terms.add(word)
    return terms


def _looks_like_a_name(word: str) -> bool:
    """More than an opening capital: an acronym, a digit, a capital inside."""
    return any(c.isupper() or c.isdigit() for c in word[1:])


def missing_terms(question: str, context: str) -> set[str]:
    """The question's numbers and names that the retrieved text never mentions.

    A question about "2019 exports" answered from a passage about 2020, or
    about a company the documents never name, rests on a premise the
    documents do not share: the answer would be about something else.
    """
    lowered = _fold(context.lower().replace("’", "'"))
    flat = lowered.replace(",", "")
    squashed = _squash(lowered)
    missing = set()
    for term in question_terms(question):
        term = _fold(term)
        stem = term[:-1] if len(term) > 4 and term.endswith("s") else term
        if re.search(rf"(?<![\w]){re.escape(stem)}", flat if term.isdigit() else lowered):
            continue
        # "COVID19" asked of "COVID-19" (or "e-mail" of "email"): the same name written
        # with or without a hyphen or a space inside it.
        if not term.isdigit() and re.search(rf"(?<![\w]){re.escape(_squash(stem))}", squashed):
            continue
        missing.add(term)
    return missing


def _squash(text: str) -> str:
    """``text`` without the hyphens inside words (``covid-19`` -> ``covid19``)."""
    return re.sub(r"(?<=\w)[-‐‑](?=\w)", "", text)


def _fold(text: str) -> str:
    """Without accents: a question typed as "Herve" or "Sao Paulo" is about the
    "Hervé" and "São Paulo" of the documents."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# Questions that ask for a quantity or a year, and what such an answer holds.
_NUMERIC_QUESTION = re.compile(
    r"\b(how (many|much|long|old|far|large|big|tall|high|often|fast)"
    r"|(what|which|in what) (year|decade|century|percentage|percent|number|amount))\b",
    re.IGNORECASE,
)
_QUANTITY = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|trillion|dozens?|half|several|few|many)\b",
    re.IGNORECASE,
)


def fits_question(answer: str, question: str) -> bool:
    """False when the question asks for a quantity and the answer names none.

    A small model asked "how many countries" may return the list of countries;
    that span is real but does not answer what was asked.
    """
    return not _NUMERIC_QUESTION.search(question) or bool(_QUANTITY.search(answer))
