"""qa/decision.py: the gates in their order, each with its reason (pure logic)."""

from __future__ import annotations

from qa.decision import Decision, Facts, Reason, Rules, decide

RULES = Rules(min_similarity=0.2, reader_threshold=-1.0)


def test_every_gate_closes_with_its_own_reason():
    open_facts = Facts(retrieved=4, similarity=0.6, fitting_span=True, reader_value=0.5)
    assert decide(open_facts, RULES) == Decision(Reason.ANSWERED)
    cases = {
        Reason.INSTRUCTIONS: Facts(instructions=True, retrieved=0),
        Reason.NOTHING_RETRIEVED: Facts(retrieved=0),
        Reason.UNMENTIONED: Facts(retrieved=4, unmentioned=("Mars", "Jupiter")),
        Reason.NOT_RELEVANT: Facts(retrieved=4, similarity=0.1),
        Reason.SUBJECT_NOT_NAMED: Facts(retrieved=4, subject="Orlan", subject_named=False),
        Reason.NO_FITTING_SPAN: Facts(retrieved=4, fitting_span=False),
        Reason.READER_FINDS_NO_ANSWER: Facts(retrieved=4, fitting_span=True, reader_value=-2.5),
    }
    for reason, facts in cases.items():
        decision = decide(facts, RULES)
        assert decision.reason is reason and not decision.answered, facts


def test_the_first_gate_decides_and_says_its_detail():
    facts = Facts(retrieved=4, unmentioned=("Mars", "Jupiter"), similarity=0.05)
    decision = decide(facts, RULES)
    assert decision.reason is Reason.UNMENTIONED
    assert str(decision) == "the documents never mention Jupiter, Mars"
    low = decide(Facts(retrieved=4, similarity=0.123), RULES)
    assert str(low) == "evidence not relevant (0.12)"
    below = decide(Facts(retrieved=4, fitting_span=True, reader_value=-2.5), RULES)
    assert str(below) == "the reader finds no answer in the retrieved text (-2.50)"


def test_a_gate_without_its_rule_or_fact_stays_open():
    assert decide(Facts(retrieved=4, similarity=0.01), Rules()).answered
    assert decide(Facts(retrieved=4), RULES).answered  # nothing read yet: nothing closes
    described = decide(Facts(retrieved=4, subject="Orlan", subject_named=True), RULES)
    assert described.reason is Reason.DESCRIBED and described.answered


def test_a_question_of_several_parts_is_answered_when_any_part_is():
    yes, no = Decision(Reason.ANSWERED), Decision(Reason.NOTHING_RETRIEVED)
    both = Decision.of_parts([yes, no])
    assert both.reason is Reason.ANSWERED_IN_PARTS and both.answered
    assert str(both) == "answered in parts: answered; nothing retrieved"
    neither = Decision.of_parts([no, no])
    assert not neither.answered and str(neither) == "nothing retrieved; nothing retrieved"
    assert Decision.of_parts([yes]) is yes
