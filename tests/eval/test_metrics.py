"""Metric functions against hand-computed values."""

from __future__ import annotations

import pytest

from eval.metrics import Expectation, best_over_golds, contains, exact_match, f1, judge


def test_squad_normalisation_and_scores():
    assert exact_match("The  Eiffel tower!", "eiffel Tower") == 1.0
    # pred tokens: [in, 10th, century]; gold: [10th, century] -> P=2/3, R=1 -> F1=0.8
    assert f1("in the 10th century", "10th century") == pytest.approx(0.8)
    assert f1("Paris", "London") == 0.0
    # Unanswerable: an empty prediction is right, any text is wrong.
    assert best_over_golds(f1, "", []) == 1.0
    assert best_over_golds(f1, "Paris", []) == 0.0
    # Several gold answers: the best one counts.
    assert best_over_golds(exact_match, "1066", ["in 1066", "1066"]) == 1.0
    assert best_over_golds(f1, "", ["1066"]) == 0.0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("$45.1 million", "45.1 million"),
        ("45.1 million dollars", "$45.1 million"),
        ("US$45.1m", "45.1 million"),
        ("exported 1,200 units", "1200"),
        ("Azerspace-1, Azerspace-2 and Azersky", "Azersky"),
    ],
)
def test_contains_normalises_form(answer, expected):
    assert contains(answer, expected)


def test_contains_is_token_exact():
    assert not contains("$45.1 million", "45 million")
    assert not contains("133 countries", "33")


def test_judge():
    assert judge("x", True, Expectation(unanswerable=True)).passed
    assert not judge("Paris", False, Expectation(unanswerable=True)).passed
    assert not judge("$100 million", False, Expectation(none=("100 million",))).passed
    assert judge("I couldn't find that", True, Expectation(none=("100 million",))).passed
    assert not judge("France, UK", False, Expectation(all=("France", "USA"))).passed


def test_rag_dataset_loader(tmp_path):
    import json

    from eval.datasets import load_dataset

    path = tmp_path / "rag_dataset.json"
    path.write_text(
        json.dumps(
            {
                "examples": [
                    {
                        "query": "When did the mill open?",
                        "reference_contexts": ["The mill opened in 1820.", "It closed in 1901."],
                        "reference_answer": "1820",
                        "query_by": {"model_name": "x", "type": "ai"},
                    },
                    {
                        "query": "When did it close?",
                        "reference_contexts": ["It closed in 1901."],
                        "reference_answer": "It closed in 1901.",
                    },
                ]
            }
        )
    )
    data = load_dataset(path)
    assert [c.case.question for c in data.cases] == [
        "When did the mill open?",
        "When did it close?",
    ]
    assert sorted(data.documents.values()) == ["It closed in 1901.", "The mill opened in 1820."]
    assert data.cases[0].reference == "1820"
