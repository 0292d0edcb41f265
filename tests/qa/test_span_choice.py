"""Unit tests of which spans can be an answer at all (logic only, no model)."""

from __future__ import annotations

from qa.grounding import fits_question


def test_quantity_questions_need_a_quantity():
    assert fits_question("33", "How many countries did it sell to?")
    assert fits_question("$45.1 million", "How much did Azercosmos export in 2020?")
    assert fits_question("twelve", "How many moons?")
    assert not fits_question("France, UK and the USA", "How many countries did it sell to?")
    assert not fits_question("Dunmore", "In what year was the college founded?")
    assert fits_question("Dunmore", "In which city is the college?")  # not a quantity question
