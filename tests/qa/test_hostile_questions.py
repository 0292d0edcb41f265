"""Arbitrary questions through the whole answering path (real embedder, index and reader).

Whatever is typed, the reply is an Answer whose text is an exact span of the
cited document, or an abstention, or one clear InputError for an empty or
over-long question; never another exception.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.errors import InputError
from qa.pipeline import MAX_QUESTION_CHARS, validate_question
from tests.conftest import SEED_FILE, SEEDS, run_cli

SEED_TEXT = (SEEDS.parent / SEED_FILE).read_text(encoding="utf-8")
# Each example runs the language model (about a second; more for long unicode
# questions), so these stay few; the validation property above runs many.
SLOW = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _check_answer_or_user_error(assistant, question: str) -> None:
    try:
        answer = assistant.answer(question)
    except InputError as exc:
        assert not question.strip() or len(question) > MAX_QUESTION_CHARS or "too long" in str(exc)
        return
    if answer.abstained:
        assert not answer.citations
        return
    assert answer.citations
    for c in answer.citations:
        assert SEED_TEXT[c.start : c.end] == c.quote
    assert answer.text in " ".join(" ".join(c.quote.split()) for c in answer.citations)


@settings(max_examples=200, deadline=None)
@given(question=st.text(max_size=5000))
def test_question_validation_never_crashes(question):
    try:
        cleaned = validate_question(question)
    except InputError as exc:
        assert "empty" in str(exc) or "limit is 4,000" in str(exc)
        assert not question.strip() or len(question) > MAX_QUESTION_CHARS
    else:
        assert cleaned == cleaned.strip() and cleaned and "\n" not in cleaned


@SLOW
@given(question=st.text(max_size=100))
def test_arbitrary_unicode_questions_get_an_answer_or_a_clear_error(assistant, question):
    _check_answer_or_user_error(assistant, question)


@SLOW
@given(
    question=st.text(
        alphabet=st.characters(codec="utf-8", categories=["Cc", "Zs", "Zl", "Zp", "Po", "Ll"]),
        max_size=100,
    )
)
def test_control_characters_and_odd_white_space(assistant, question):
    _check_answer_or_user_error(assistant, question)


@pytest.mark.parametrize(
    "question",
    [
        "How much did Azercosmos export in 2020?\x00\x1b[2J\r\n",
        "How much " + "really " * 560 + "did Azercosmos export in 2020?",  # ~4,000 characters
        "字" * MAX_QUESTION_CHARS,  # within the character limit, far past the model's window
        "?" * MAX_QUESTION_CHARS,
    ],
    ids=["control-suffix", "long-words", "long-cjk", "only-punctuation"],
)
def test_huge_and_odd_questions(assistant, question):
    _check_answer_or_user_error(assistant, question)


def test_an_over_long_question_is_one_line_from_the_cli(seed_index):
    res = run_cli("ask", "why " * 2000, "--index-dir", str(seed_index))
    assert res.returncode == 1
    assert "the limit is 4,000" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
