"""Whether the reader's chosen span should be given as the answer.

The reader's own margin (best span over "no answer") is one signal; the
pipeline has others that catch SQuAD 2.0's unanswerable questions, which
are written to look answerable: how much of the question the answer's
sentence actually covers, how similar retrieval found the chunk, whether the
question is negated. A logistic combination of them, fitted on the held-out
validation articles by ``training/calibrate.py`` (cross-validated by article,
then refitted on all), is stored in ``reader.json`` beside the model; without
one the margin alone is compared with the threshold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
)
_NEGATION = re.compile(r"\b(not|never|no|none|neither|nor|without|except)\b|n't\b", re.IGNORECASE)


def overlap(question: str, text: str) -> float:
    asked = content_words(question)
    return len(asked & content_words(text)) / len(asked) if asked else 0.0


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

    @classmethod
    def from_config(cls, raw: Mapping | None) -> Combiner | None:
        if not raw:
            return None
        if tuple(raw["features"]) != FEATURES:
            raise ValueError("the combiner was fitted on other features")
        return cls(
            tuple(map(float, raw["mean"])),
            tuple(map(float, raw["scale"])),
            tuple(map(float, raw["weights"])),
            float(raw["bias"]),
            float(raw["threshold"]),
        )

    def to_config(self) -> dict:
        return {
            "features": list(FEATURES),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
        }

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.bias + sum(
            w * (values[name] - m) / s
            for name, w, m, s in zip(FEATURES, self.weights, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def vector(values: Mapping[str, float]) -> list[float]:
    return [float(values[name]) for name in FEATURES]


def as_rows(signals: Sequence[Mapping[str, float]]) -> list[list[float]]:
    return [vector(s) for s in signals]
