"""The null-question likelihood, on the real model.

Each decoded span is read again after a question that asks nothing, reusing the
context's KV cache and one batch per span. Read after the real question
instead, the same machinery must give back the likelihood decoding measured
step by step, or the difference the ranker uses would be noise.
"""

from __future__ import annotations

import math

import pytest

from qa.synthesis import NULL_QUESTION, build_prompt, generate_span

EVIDENCE = (
    "Azercosmos was founded in 2010 in Baku.\n"
    "In 2020 the company exported services worth $45.1 million to 33 countries."
)
QUESTION = "How much did the company export in 2020?"


@pytest.fixture(scope="module")
def decoded():
    prompt = build_prompt(EVIDENCE, QUESTION)
    again = generate_span(
        prompt, EVIDENCE, alternatives=3, null_prompt=prompt
    )  # the "null" prompt is the prompt itself
    null = generate_span(
        prompt, EVIDENCE, alternatives=3, null_prompt=build_prompt(EVIDENCE, NULL_QUESTION)
    )
    return again, null


def test_rereading_after_the_same_question_gives_the_decoded_likelihood(decoded):
    again, _ = decoded
    assert len(again.considered) >= 3
    for span in again.considered:
        assert span.tokens, span
        # Batched evaluation and step-by-step decoding round differently; by little.
        assert span.null_logprob == pytest.approx(span.total_logprob, abs=0.15), span.text


def test_the_question_makes_the_answer_likelier_than_a_null_question_does(decoded):
    _, null = decoded
    assert all(math.isfinite(s.null_logprob) for s in null.considered)
    assert "45.1 million" in null.text
    assert null.total_logprob - null.null_logprob > 1.0
    # Spans were scored in their own right: the same text gets the same figures.
    again = generate_span(
        build_prompt(EVIDENCE, QUESTION),
        EVIDENCE,
        alternatives=3,
        null_prompt=build_prompt(EVIDENCE, NULL_QUESTION),
    )
    assert [(s.text, s.null_logprob) for s in again.considered] == [
        (s.text, s.null_logprob) for s in null.considered
    ]
