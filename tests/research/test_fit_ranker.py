"""The replay command of research/fit_ranker.py on small hand-made dumps (logic only: no model)."""

from __future__ import annotations

import json
from dataclasses import asdict

from click.testing import CliRunner

from qa.ranking import SpanFacts
from research.fit_ranker import cli

SENTENCE = "The Orlan lighthouse was built in 1871 by the engineer Tomas Brek."


def _row(question: str, golds: list[str], span: str, gain: float, lists: bool) -> dict:
    facts = SpanFacts(span, -1.0, -0.5, 2, 0.0, True, SENTENCE, SENTENCE.index(span), gain)
    cand = {"facts": asdict(facts), "fits": True}
    if lists:
        cand |= {"lps": [-0.5, -0.5], "stop": -0.1, "null_lps": [-4.0, -0.5], "n_tokens": 2}
        cand["null_stop"] = -0.1
    return {
        "id": question,
        "q": question,
        "golds": golds,
        "sim": 0.6,
        "top_sentence_score": 0.6,
        "missing": [],
        "mass": 0.5,
        "cands": [cand],
    }


def _dump(tmp_path, lists: bool) -> str:
    rows = [
        _row("When was the Orlan lighthouse built?", ["1871"], "1871", 3.5, lists),
        _row("Who painted the Orlan lighthouse?", [], "Tomas Brek", -0.5, lists),
    ]
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(rows))
    return str(path)


def test_rules_replays_the_pipeline_on_a_dump(tmp_path):
    result = CliRunner().invoke(cli, ["rules", _dump(tmp_path, lists=True)])
    assert result.exit_code == 0, result.output
    # The default row: gain weight 0.25, gain floor 0. "1871"
    # (gain 3.5) is answered, "Tomas Brek" (gain -0.5) abstained on: all right.
    assert "       0.25        0.0   1.000 1.000 1.000" in result.output
    # No gain floor: the unanswerable one is answered.
    assert "       0.25       None   0.500 1.000 0.000" in result.output


def test_fewer_tokens_are_replayed_from_the_dumped_log_likelihoods(tmp_path):
    dump = _dump(tmp_path, lists=True)
    # One token read: both spans gain 3.5 (-0.5 against -4.0), so both are answered.
    result = CliRunner().invoke(cli, ["rules", dump, "--gain-tokens", "1"])
    assert result.exit_code == 0, result.output
    assert "       0.25        0.0   0.500 1.000 0.000" in result.output


def test_replaying_fewer_tokens_needs_a_dump_that_kept_them(tmp_path):
    result = CliRunner().invoke(cli, ["rules", _dump(tmp_path, lists=False), "--gain-tokens", "8"])
    assert result.exit_code == 2
    assert "hold no per-token log-likelihoods" in result.output
    assert "--gain-tokens 32 --gain-spans 17" in result.output
    assert "Traceback" not in result.output
