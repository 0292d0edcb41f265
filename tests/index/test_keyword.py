"""The keyword index: its fast query tokenizer and its ranking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.keyword import KeywordIndex, _best_rows, _query_tokens, _tokenize

ROOT = Path(__file__).resolve().parents[2]


def _texts() -> list[str]:
    seed = next((ROOT / "seeds").glob("*.txt")).read_text(encoding="utf-8")
    squad = json.loads((ROOT / "benchmarks" / "data" / "squad-v2-sample.json").read_text("utf-8"))
    paragraphs = [p for a in squad["data"] for p in a["paragraphs"]]
    return (
        seed.splitlines()
        + [p["context"] for p in paragraphs]
        + [q["question"] for p in paragraphs for q in p["qas"]]
        + [
            "",
            "a I of",  # one-letter words and stop words only
            "Don't STOP: ünïcödé words_with_underscores 45.1 $3,000 ×2 l'été",
            "Running runners RAN quickly; connections connected",
        ]
    )


def test_query_tokens_match_the_index_tokenizer() -> None:
    texts = _texts()
    assert len(texts) > 50
    assert [_query_tokens(t) for t in texts] == _tokenize(texts)


@pytest.fixture(scope="module")
def keywords() -> KeywordIndex:
    return KeywordIndex.build(
        [
            "Exports of coffee rose to 45 million dollars.",  # 0
            "The harbour handled coffee and tea.",  # 1
            "Tea exports fell.",  # 2
            "Nothing about trade here.",  # 3
            "The harbour handled coffee and tea.",  # 4: same text as row 1
        ]
    )


def test_search_ranks_best_first_and_drops_zero_scores(keywords: KeywordIndex) -> None:
    hits = keywords.search("coffee exports", 10)
    rows = [row for row, _ in hits]
    assert rows[0] == 0  # both words
    assert set(rows) == {0, 1, 2, 4}  # row 3 shares no word: not returned
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)


def test_search_breaks_ties_by_row(keywords: KeywordIndex) -> None:
    rows = [row for row, _ in keywords.search("harbour", 10)]
    assert rows == [1, 4]


def test_search_k_and_unknown_words(keywords: KeywordIndex) -> None:
    assert len(keywords.search("coffee exports tea", 2)) == 2
    assert keywords.search("zebra", 5) == []
    assert keywords.search("the and of", 5) == []  # stop words only
    assert keywords.search("coffee", 0) == []


@pytest.mark.parametrize("seed", range(20))
def test_best_rows_is_an_exact_top_k(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3_000))
    # Few distinct values: many ties, and many rows with no score at all.
    scores = rng.choice([0, 0, 0, 0.5, 1.0, 1.5, 2.0, 7.25], size=n).astype(np.float32)
    k = int(rng.integers(1, 60))
    holding = np.flatnonzero(scores)
    sample = (
        rng.choice(holding, size=min(len(holding), int(rng.integers(0, 200))), replace=False)
        if len(holding)
        else None
    )
    want = sorted(np.flatnonzero(scores), key=lambda r: (-scores[r], r))[:k]
    assert _best_rows(scores, k, sample).tolist() == want
