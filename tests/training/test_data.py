"""The training pools' split: validation slices held out whole, weights by source
(logic only, on small pools written here in the SQuAD 2.0 format)."""

from __future__ import annotations

import json
from pathlib import Path

from training.data import (
    COVID,
    TYDI_DEV,
    VALIDATION_ARTICLES,
    DataSettings,
    split_pools,
    validation_slices,
)


def _article(title: str, source: str | None, n: int) -> dict:
    context = f"{title} was founded in 1900 by Ann Lee."
    qas = [
        {
            "id": f"{title}-{source}-{i}",
            "question": f"Who founded {title} ({i})?",
            "answers": [{"text": "Ann Lee", "answer_start": context.index("Ann Lee")}],
            "is_impossible": False,
        }
        for i in range(n)
    ]
    article = {"title": title, "paragraphs": [{"context": context, "qas": qas}]}
    if source:
        article["source"] = source
    return article


def _pool(path: Path, articles: list[dict]) -> Path:
    path.write_text(json.dumps({"version": "v2.0", "data": articles}))
    return path


def test_the_slices_are_held_out_whole_and_titles_they_share_too(tmp_path):
    gold = _pool(
        tmp_path / "gold.json",
        [_article(t, None, 2) for t in (*VALIDATION_ARTICLES, "Rivers", "Oxygen")],
    )
    papers = [_article(f"COVID-QA_doc_{i:03d}", COVID, 3) for i in range(30)]
    extra = _pool(
        tmp_path / "extra.json",
        [
            _article("Wound healing", TYDI_DEV, 2),
            _article("Wound healing", "tydiqa-goldp-en-train", 2),  # same title: held out too
            _article("Glaciers", "tydiqa-goldp-en-train", 2),
            _article("Oxygen", "squadshifts-new_wiki", 2),
            *papers,
        ],
    )
    slices = validation_slices(gold, extra)
    assert [a["title"] for a in slices["tydi"]] == ["extra-Wound healing"]
    covid = [a["title"] for a in slices["covid"]]
    assert len(covid) == 6 and covid[0] == "extra-COVID-QA_doc_000"  # every 5th paper
    assert len(slices["squad"]) == len(VALIDATION_ARTICLES)

    train, valid, pools = split_pools(gold, None, extra=extra)
    trained = {c.case.question for c in train.cases}
    held = {
        q["question"] for s in slices.values() for a in s for p in a["paragraphs"] for q in p["qas"]
    }
    assert not trained & held
    assert "Who founded Glaciers (0)?" in trained and "Who founded Rivers (0)?" in trained
    assert not any("Wound healing" in q for q in trained)  # its TyDi train twin is out
    assert len(valid.cases) == 2 * len(VALIDATION_ARTICLES)  # the SQuAD slice
    assert pools["Glaciers-tydiqa-goldp-en-train-0"] == "tydiqa-goldp-en-train"
    assert pools["Rivers-None-0"] == "gold"
    # Without the extra pool, nothing changes.
    plain, _, plain_pools = split_pools(gold, None)
    assert set(plain_pools.values()) == {"gold"}
    assert len(plain.cases) == 4


def test_weights_follow_the_source():
    data = DataSettings(silver_weight=0.5, source_weights=((COVID, 0.25),))
    assert data.weight_of("silver") == 0.5
    assert data.weight_of(COVID) == 0.25
    assert data.weight_of("gold") == data.weight_of(TYDI_DEV) == data.weight_of(None) == 1.0
