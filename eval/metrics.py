"""Answer matching and SQuAD metrics.

``normalize_answer``, ``exact_match`` and ``f1`` follow the official SQuAD v2
evaluation script: lower-case, remove punctuation, remove the articles
a/an/the, collapse white space; F1 over bag-of-tokens; an empty prediction is
right exactly when the gold answer is empty (unanswerable).

Suite matching adds number normalisation on top, so that a correct answer is
not failed on form: "$45.1 million", "45.1 million dollars" and "US$45.1m" are
one amount; "1,200" and "1200" are one number.
"""

from __future__ import annotations

import collections
import re
import string
from dataclasses import dataclass, field

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)

_SCALE = {
    "thousand": 1e3, "k": 1e3,
    "million": 1e6, "millions": 1e6, "m": 1e6, "mn": 1e6, "mln": 1e6,
    "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9,
    "trillion": 1e12, "tn": 1e12,
}  # fmt: skip
_CURRENCY = r"(?:us\$|usd|\$|€|eur|£|gbp)"
_AMOUNT = re.compile(
    rf"(?<![\w.])(?P<cur>{_CURRENCY})?\s*(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    rf"\s*(?P<scale>{'|'.join(sorted(_SCALE, key=len, reverse=True))})?(?![\w])"
    r"(?:\s*(?P<unit>dollars|usd|euros|pounds))?",
    re.IGNORECASE,
)


def normalize_answer(text: str) -> str:
    """The official SQuAD normalisation."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    pred = normalize_answer(prediction).split()
    ref = normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = collections.Counter(pred) & collections.Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_over_golds(metric, prediction: str, golds: list[str]) -> float:
    """SQuAD scores a prediction against its best gold answer; no gold means unanswerable."""
    if not golds:
        return float(not normalize_answer(prediction))
    return max(metric(prediction, g) for g in golds)


def normalize_numbers(text: str) -> str:
    """Rewrite amounts canonically: '$45.1 million' -> '45100000'; '1,200' -> '1200'."""

    def canon(m: re.Match[str]) -> str:
        number = float(m.group("num").replace(",", ""))
        scale = m.group("scale")
        has_scale = scale is not None and (
            scale.lower() in {"thousand", "million", "millions", "billion", "billions", "trillion"}
            or m.group("cur")
            or m.group("unit")
        )
        if has_scale:
            number *= _SCALE[scale.lower()]
        elif not (m.group("cur") or m.group("unit")):
            return m.group(0).replace(",", "") if "," in m.group("num") else m.group(0)
        text = f"{number:.6f}".rstrip("0").rstrip(".")
        return f" {text} "

    return _AMOUNT.sub(canon, text)


def _tokens(text: str) -> list[str]:
    return normalize_answer(normalize_numbers(text)).split()


def contains(answer: str, expected: str) -> bool:
    """``expected`` appears in ``answer`` as a whole-token run, after normalisation."""
    hay, needle = _tokens(answer), _tokens(expected)
    if not needle:
        return True
    n = len(needle)
    return any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


@dataclass(frozen=True)
class Expectation:
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    unanswerable: bool = False


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str
    details: dict = field(default_factory=dict)


def judge(answer_text: str, abstained: bool, expect: Expectation) -> Verdict:
    """Pass or fail one answer against a suite expectation, with the reason."""
    if expect.unanswerable:
        if abstained:
            return Verdict(True, "abstained as expected")
        return Verdict(False, f"should have abstained, answered {answer_text!r}")
    for bad in expect.none:
        if not abstained and contains(answer_text, bad):
            return Verdict(False, f"answer contains forbidden {bad!r}")
    if expect.any or expect.all:
        if abstained:
            return Verdict(False, "abstained on an answerable question")
        if expect.any and not any(contains(answer_text, x) for x in expect.any):
            return Verdict(False, f"none of {list(expect.any)} in {answer_text!r}")
        missing = [x for x in expect.all if not contains(answer_text, x)]
        if missing:
            return Verdict(False, f"missing {missing} in {answer_text!r}")
    return Verdict(True, "ok")
