"""Answer shapes: descriptions, questions of several parts, lists (pure rules, no models)."""

from __future__ import annotations

import pytest

from qa.shapes import asks_for_items, description_subject, enumeration, split_parts

MARKETS = (
    "The main countries to which Azercosmos exported services in 2020 were France, UK, "
    "the USA, Malaysia and the United Arab Emirates."
)
PARTNERS = (
    "Additionally, the company sealed cooperation agreement with various organizations such "
    "as SatADSL, Globecast, ViewMedia, Space Engineering, TheAngle, Prime African Media "
    "Systems etc."
)


def _grow(sentence: str, item: str) -> str:
    a = sentence.index(item)
    s, e = enumeration(sentence, a, a + len(item))
    return sentence[s:e]


def test_an_item_grows_into_its_whole_list():
    whole = "France, UK, the USA, Malaysia and the United Arab Emirates"
    assert _grow(MARKETS, "France") == whole
    assert _grow(MARKETS, "Malaysia") == whole
    grown = _grow(PARTNERS, "Globecast")
    assert grown.startswith("SatADSL, Globecast") and "Prime African Media Systems" in grown


def test_a_span_that_is_no_list_item_is_kept():
    sentence = "The company has exported services worth $45.1 million to 33 countries in 2020."
    assert _grow(sentence, "$45.1 million") == "$45.1 million"
    assert _grow("Founded in 2010, it grew.", "2010") == "2010"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which satellites does Azercosmos operate?", True),
        ("Name the organizations Azercosmos sealed cooperation agreements with.", True),
        ("Which were the main markets for Azercosmos exports in 2020?", True),
        ("How much did Azercosmos export in 2020?", False),
        ("In what year was Azercosmos founded?", False),
    ],
)
def test_questions_that_ask_for_items(question, expected):
    assert asks_for_items(question) is expected


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("Tell me about Azercosmos.", "Azercosmos"),
        ("What is Azercosmos?", "Azercosmos"),
        ("Describe the Turkish Space Agency.", "the Turkish Space Agency"),
        ("What is the capital of France?", None),
        ("What is the date of the article?", None),
        ("How much did Azercosmos export in 2020?", None),
    ],
)
def test_description_questions(question, subject):
    assert description_subject(question) == subject


def test_questions_of_several_parts_are_split():
    assert split_parts("In which year was Azercosmos founded, and how much did it export?") == [
        "In which year was Azercosmos founded",
        "how much did it export?",
    ]
    parts = split_parts("When was it founded; who leads it?")
    assert parts == ["When was it founded", "who leads it?"]
    single = "Which countries did France and the UK trade with?"
    assert split_parts(single) == [single]


def test_sentences_that_say_what_the_subject_is():
    from qa.shapes import defines, mentions

    first = "Established in 2010, the Azercosmos OJSC is the first satellite operator there."
    agency = "The Turkish Space Agency, founded in December 2018, brings together companies."
    assert defines(first, "Azercosmos")
    assert defines(agency, "the Turkish Space Agency")
    assert not defines("The countries to which Azercosmos exported were France.", "Azercosmos")
    assert mentions(agency, "the Turkish Space Agency")
    assert not mentions("The agency was founded in 2018.", "the Turkish Space Agency")
