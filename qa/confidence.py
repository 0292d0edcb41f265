"""Which of the reader's spans to give, and whether to give it at all.

The reader's own margin (best span over "no answer") is one signal; the
pipeline has others that catch SQuAD 2.0's unanswerable questions, which
are written to look answerable: how much of the question the answer's
sentence actually covers, how similar retrieval found the chunk, whether the
question is negated. A logistic combination of them, fitted on the held-out
validation articles by ``training/calibrate.py`` (cross-validated by article,
then refitted on all), is stored in ``reader.json`` beside the model; without
one the margin alone is compared with the threshold.

The combination scores every candidate span the reader proposes (up to five
per chunk), not only the highest-scoring one, and the pipeline answers with
the most probable: on the validation articles the reader's top span is right
(HasAns F1, nothing abstained) 0.63 of the time while the best of its
candidates reaches 0.87, and facts the span score does not see (how much of
the reader's probability mass agrees on the same words, the sentence's
similarity to and coverage of the question) recover part of that gap. One model both chooses
and decides, so the choice and the threshold are fitted to the same labels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .grounding import content_words

FEATURES = (
    "margin",  # best span score minus the lowest no-answer score of the chunks read
    "own_margin",  # the same against the span's own chunk's no-answer score
    "score",  # start + end logit of the span
    "null",  # the lowest no-answer score
    "cosine",  # dense similarity of the question and the span's chunk
    "rank",  # the span's chunk's place in retrieval (0: first)
    "sentence_overlap",  # share of the question's content words in the span's sentence
    "chunk_overlap",  # the same in its chunk
    "negated",  # the question says "not", "never", "n't"…
    "log_words",  # log(1 + words in the span)
    "gap",  # the span's score minus the best candidate's (0 for the best)
    "prob",  # softmax of the span's score over all candidates of the question
    "votes",  # the summed "prob" of the candidates with the same words as this one
    "sentence_cosine",  # dense similarity of the question and the span's sentence
)
_WORD = re.compile(r"\w+")
_NEGATION = re.compile(r"\b(not|never|no|none|neither|nor|without|except)\b|n't\b", re.IGNORECASE)


def overlap(question: str, text: str) -> float:
    """Share of the question's content words that ``text`` has, compared as stems.

    Stems, because a sentence answers "When did it open?" with "It opened
    in…": exact words miss the inflection that carries the question's verb.
    """
    asked = _stems(content_words(question))
    return len(asked & _stems(content_words(text))) / len(asked) if asked else 0.0


def _stems(words: set[str]) -> set[str]:
    return set(_stemmer().stemWords(sorted(words)))


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer, already the keyword index's stemmer

    return Stemmer.Stemmer("english")


def negated(question: str) -> float:
    return 1.0 if _NEGATION.search(question) else 0.0


@dataclass(frozen=True)
class Combiner:
    """Standardised features, logistic weights, and the probability an answer needs."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    # The facts it was fitted on, in order. A reader.json from before "gap",
    # "prob", "votes" and "sentence_cosine" still loads with the ten it names,
    # but it was fitted on top spans only: `seedqa train-reader
    # --calibrate-only` refits it for choosing among candidates.
    features: tuple[str, ...] = FEATURES

    @classmethod
    def from_config(cls, raw: Mapping | None) -> Combiner | None:
        if not raw:
            return None
        features = tuple(raw["features"])
        if unknown := set(features) - set(FEATURES):
            raise ValueError(f"the combiner names facts the pipeline has no longer: {unknown}")
        return cls(
            tuple(map(float, raw["mean"])),
            tuple(map(float, raw["scale"])),
            tuple(map(float, raw["weights"])),
            float(raw["bias"]),
            float(raw["threshold"]),
            features,
        )

    def to_config(self) -> dict:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
        }

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.bias + sum(
            w * (values[name] - m) / s
            for name, w, m, s in zip(
                self.features, self.weights, self.mean, self.scale, strict=True
            )
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def agreement(scores: Sequence[float], texts: Sequence[str]) -> tuple[list[float], list[float]]:
    """Each candidate's softmax share of the scores, and the share of all with its words.

    When the reader finds the same words in two chunks (case and punctuation
    aside), that agreement is evidence the single best score does not carry.
    (Comparing content-word stems instead, so that "in 1964" agrees with
    "1964", scored 0.4 points lower on the validation articles.)
    """
    keys = [" ".join(_WORD.findall(t.lower())) for t in texts]
    if not scores:
        return [], []
    top = max(scores)
    raw = [math.exp(v - top) for v in scores]
    total = sum(raw)
    prob = [v / total for v in raw]
    by_key: dict[str, float] = {}
    for key, p in zip(keys, prob, strict=True):
        by_key[key] = by_key.get(key, 0.0) + p
    return prob, [by_key[key] for key in keys]
