"""The null-question likelihood, on the real model.

Each decoded span is read again after a question that asks nothing, reusing the
context's KV cache and one batch per span. Read after the real question
instead, the same machinery must give back the likelihoods decoding measured
step by step, or the gain the ranker uses would be noise.
"""

from __future__ import annotations

import pytest

from qa.synthesis import NULL_QUESTION, build_prompt, generate_span, score_without_question

EVIDENCE = (
    "Azercosmos was founded in 2010 in Baku.\n"
    "In 2020 the company exported services worth $45.1 million to 33 countries."
)
QUESTION = "How much did the company export in 2020?"
PROMPT = build_prompt(EVIDENCE, QUESTION)
NULL = build_prompt(EVIDENCE, NULL_QUESTION)


@pytest.mark.parametrize("null_tokens", [2, 32])
def test_rereading_after_the_same_question_gains_nothing(null_tokens):
    again = generate_span(PROMPT, EVIDENCE, alternatives=3)
    score_without_question(PROMPT, again.considered, null_tokens)
    assert len(again.considered) >= 3
    for span in again.considered:
        read = min(len(span.tokens), null_tokens)
        assert len(span.null_logprobs) == read, span
        # Batched evaluation and step-by-step decoding round differently (Q4_K_M
        # weights), by up to about 0.1 nat a token; gains that decide are nats.
        assert span.null_logprobs == pytest.approx(span.logprobs[:read], abs=0.15), span.text
        assert span.question_gain == pytest.approx(0.0, abs=0.3), span.text
    cut = [s for s in again.considered if len(s.tokens) > null_tokens]
    assert all(s.null_stop_logprob == float("-inf") for s in cut)
    if null_tokens == 32:
        assert not cut


def test_the_question_makes_the_answer_likelier_than_a_null_question_does():
    first = generate_span(PROMPT, EVIDENCE, alternatives=3)
    score_without_question(NULL, first.considered)
    assert "45.1 million" in first.text
    assert first.question_gain is not None and first.question_gain > 1.0
    # The same again, with another question decoded in between (the cache then
    # holds that one's prompt): the same figures.
    again = generate_span(PROMPT, EVIDENCE, alternatives=3)
    generate_span(build_prompt(EVIDENCE, "Where is Azercosmos based?"), EVIDENCE)  # between
    score_without_question(NULL, again.considered)
    assert [(s.text, s.question_gain) for s in again.considered] == [
        (s.text, s.question_gain) for s in first.considered
    ]
