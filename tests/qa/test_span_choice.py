"""Unit tests of how one answer is chosen among the decoded spans (logic only, no model)."""

from __future__ import annotations

import numpy as np

from qa.decision import Decision, Facts, Reason, Rules, decide
from qa.evidence import Evidence, Sentence
from qa.grounding import fits_question
from qa.pipeline import AnswerSettings, Assistant, Decoded, candidates
from qa.ranking import weights_of
from qa.synthesis import Generation


def test_quantity_questions_need_a_quantity():
    assert fits_question("33", "How many countries did it sell to?")
    assert fits_question("$45.1 million", "How much did Azercosmos export in 2020?")
    assert fits_question("twelve", "How many moons?")
    assert not fits_question("France, UK and the USA", "How many countries did it sell to?")
    assert not fits_question("Dunmore", "In what year was the college founded?")
    assert fits_question("Dunmore", "In which city is the college?")  # not a quantity question


def _evidence(sentences: list[str], scores: list[float]) -> Evidence:
    text = "\n".join(sentences)
    owner: list[int] = []
    for i, s in enumerate(sentences):
        owner += [i] * len(s) + ([-1] if i < len(sentences) - 1 else [])
    chosen = tuple(Sentence("doc.txt", 0, len(s), s, 0, i, 0) for i, s in enumerate(sentences))
    return Evidence(text, chosen, np.array(owner), np.arange(len(owner)), 0.5, 0.5, tuple(scores))


def _span(evidence: Evidence, text: str, logprobs: list[float], stop: float) -> Generation:
    start = evidence.text.index(text)
    return Generation(text, len(evidence.text[:start].encode()), 0.5, logprobs, stop_logprob=stop)


def _assistant(**settings) -> Assistant:
    a = Assistant.__new__(Assistant)  # no index or models: _choose is pure logic
    a.settings = AnswerSettings(**settings)
    return a


def _choose(assistant: Assistant, gen: Generation, ev: Evidence, question: str):
    decoded = Decoded(gen, candidates(gen, ev, question))
    return assistant._choose(decoded, question)


def _chosen(weights, gen, ev, question):
    return _choose(_assistant(ranker_weights=weights), gen, ev, question)


def test_whole_span_likelihood_and_relevance_decide():
    ev = _evidence(["It sold to France and Peru.", "It sold to 33 countries."], [0.5, 0.9])
    greedy = _span(ev, "France and Peru", [-0.1, -0.1, -0.1], -0.1)
    other = _span(ev, "33", [-0.9], -0.2)
    greedy.considered = [greedy, other]
    likelihood = weights_of(total_logprob=1.0)
    # Likelihood alone keeps the greedy span (-0.4 against -1.1) ...
    assert _chosen(likelihood, greedy, ev, "Where did it sell?") is greedy
    # ... relevance of the sentence (0.4 apart, weighted) moves to the other one.
    relevant = weights_of(total_logprob=1.0, relevance=30.0)
    assert _chosen(relevant, greedy, ev, "Where did it sell?") is other
    # A quantity question never gets the list, whatever the weights.
    assert _chosen(likelihood, greedy, ev, "How many countries?") is other


def test_no_span_of_the_asked_kind_means_none():
    ev = _evidence(["It sold to France and Peru."], [0.5])
    only = _span(ev, "France and Peru", [-0.1], -0.1)
    only.considered = [only]
    assert _choose(_assistant(), only, ev, "How many countries?") is None
    assert _choose(_assistant(), only, ev, "Where did it sell?") is only


def test_an_answer_the_question_did_not_make_likelier_is_abstained_on():
    ev = _evidence(["It sold to 33 countries in 2020."], [0.9])

    def decision(null_logprobs: list[float], floor: float | None = 0.0) -> Decision:
        span = _span(ev, "33", [-0.5], -0.2)  # -0.7 in all, with the question
        span.tokens = [101]
        if null_logprobs:
            span.null_logprobs, span.null_stop_logprob = null_logprobs[:1], null_logprobs[1]
        facts = Facts(retrieved=1, located=True, question_gain=span.question_gain)
        return decide(facts, Rules(min_question_gain=floor))

    assert decision([-5.0, -1.0]).reason is Reason.ANSWERED  # "33" made 5.3 nats likelier
    unmoved = decision([-0.1, -0.1])  # as likely whatever was asked: not an answer to it
    assert unmoved.reason is Reason.NO_QUESTION_GAIN and unmoved.detail == "(-0.50)"
    assert decision([-0.1, -0.1], floor=None).reason is Reason.ANSWERED
    assert decision([]).reason is Reason.ANSWERED  # not measured: no decision on it


def test_question_gain_reads_the_end_only_when_every_token_was_read():
    ev = _evidence(["It sold to 33 countries in 2020."], [0.9])
    span = _span(ev, "33 countries", [-0.5, -0.25], -0.2)
    span.tokens = [101, 102]
    assert span.question_gain is None
    span.null_logprobs, span.null_stop_logprob = [-3.0, -1.0], -0.7
    assert span.question_gain == (-0.75 - -4.0) + (-0.2 - -0.7)
    span.null_logprobs, span.null_stop_logprob = [-3.0], float("-inf")  # cut after one token
    assert span.question_gain == -0.5 - -3.0


def test_a_measured_gain_reaches_the_ranker():
    ev = _evidence(["It sold to 33 countries in 2020."], [0.9])
    gen = _span(ev, "33", [-0.5], -0.2)
    gen.tokens = [101]
    (candidate,) = candidates(gen, ev, "How many countries?")
    assert candidate.facts.question_gain is None
    gen.null_logprobs, gen.null_stop_logprob = [-3.0], -1.0
    assert candidate.with_measured_gain().facts.question_gain == 2.5 + 0.8
