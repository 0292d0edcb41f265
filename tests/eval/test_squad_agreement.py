"""Our SQuAD v2 figures agree with the official evaluation script's rules.

``official_*`` below restate the official SQuAD v2.0 evaluation script
(normalize_answer, compute_exact, compute_f1, get_raw_scores and the HasAns /
NoAns split) as the reference; our runner must give the same numbers on the
same predictions.
"""

from __future__ import annotations

import collections
import json
import random
import re
import string
from pathlib import Path

import pytest

from eval.datasets import load_squad
from eval.runner import SystemRun, score, summarize
from qa import Answer

SQUAD = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "squad-v2-sample.json"


def official_normalize_answer(s):
    def remove_articles(text):
        regex = re.compile(r"\b(a|an|the)\b", re.UNICODE)
        return re.sub(regex, " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def official_get_tokens(s):
    if not s:
        return []
    return official_normalize_answer(s).split()


def official_compute_exact(a_gold, a_pred):
    return int(official_normalize_answer(a_gold) == official_normalize_answer(a_pred))


def official_compute_f1(a_gold, a_pred):
    gold_toks = official_get_tokens(a_gold)
    pred_toks = official_get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def official_scores(dataset, preds):
    exact, f1, has_ans = {}, {}, {}
    for article in dataset:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                qid = qa["id"]
                gold = [a["text"] for a in qa["answers"] if official_normalize_answer(a["text"])]
                has_ans[qid] = bool(gold)
                if not gold:
                    gold = [""]
                exact[qid] = max(official_compute_exact(a, preds[qid]) for a in gold)
                f1[qid] = max(official_compute_f1(a, preds[qid]) for a in gold)

    def mean(table, ids):
        return 100.0 * sum(table[i] for i in ids) / len(ids)

    has = [k for k, v in has_ans.items() if v]
    no = [k for k, v in has_ans.items() if not v]
    every = list(has_ans)
    return {
        "exact": mean(exact, every),
        "f1": mean(f1, every),
        "HasAns_exact": mean(exact, has),
        "HasAns_f1": mean(f1, has),
        "NoAns_exact": mean(exact, no),
        "NoAns_f1": mean(f1, no),
    }


def _predictions(raw, seed):
    """Varied predictions: exact, padded, partial, wrong, empty."""
    rng = random.Random(seed)
    preds = {}
    for article in raw["data"]:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                gold = qa["answers"][0]["text"] if qa["answers"] else "nothing at all"
                preds[qa["id"]] = rng.choice(
                    [gold, f"the {gold} indeed", gold.split()[0], "Paris", "", gold.upper() + "."]
                )
    return preds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_runner_matches_official_script(seed):
    raw = json.loads(SQUAD.read_text())
    preds = _predictions(raw, seed)
    dataset = load_squad(raw)
    run = SystemRun("x", "squad")
    for item in dataset.cases:
        text = preds[item.case.id]
        run.results.append(score(item, Answer(item.case.question, text, abstained=not text)))
    ours = summarize(run)["squad"]
    theirs = official_scores(raw["data"], preds)
    for key, value in theirs.items():
        assert ours[key] * 100 == pytest.approx(value), key


def test_hand_computed_edge_cases():
    raw = {
        "data": [
            {
                "title": "T",
                "paragraphs": [
                    {
                        "context": "Rollo led the Norse in 911.",
                        "qas": [
                            {
                                "id": "a",
                                "question": "Who?",
                                "is_impossible": False,
                                "answers": [
                                    {"text": "Rollo", "answer_start": 0},
                                    {"text": "Rollo led", "answer_start": 0},
                                ],
                            },
                            {"id": "b", "question": "Why?", "is_impossible": True, "answers": []},
                            {
                                "id": "c",
                                "question": "When?",
                                "is_impossible": False,
                                "answers": [{"text": "in 911", "answer_start": 20}],
                            },
                        ],
                    }
                ],
            }
        ]
    }
    preds = {"a": "Rollo led the Norse", "b": "", "c": "911"}
    # a: best of golds -> "rollo led" vs "rollo led norse": P=2/3 R=1 F1=0.8; EM 0
    # b: empty on unanswerable -> 1 ; c: "911" vs "in 911": P=1 R=1/2 F1=2/3; EM 0
    theirs = official_scores(raw["data"], preds)
    assert theirs["f1"] == pytest.approx(100 * (0.8 + 1 + 2 / 3) / 3)
    dataset = load_squad(raw)
    run = SystemRun("x", "t")
    for item in dataset.cases:
        text = preds[item.case.id]
        run.results.append(score(item, Answer(item.case.question, text, abstained=not text)))
    assert summarize(run)["squad"]["f1"] * 100 == pytest.approx(theirs["f1"])
    assert summarize(run)["squad"]["NoAns_exact"] == 1.0
