"""The seed article's facts, asked in other words, against the real models."""

from __future__ import annotations

import json

import pytest

from eval.metrics import judge
from eval.suites import load_suite
from index.stores import FileStore
from qa import Chat
from qa import answer as qa_answer
from tests.conftest import SEED_FILE, SEEDS, run_cli

CASES = load_suite()


def test_suite_has_the_promised_coverage():
    kinds = [c.kind for c in CASES]
    answerable = [c for c in CASES if (c.expect.any or c.expect.all) and not c.known_failure]
    assert len([c for c in answerable if not c.history]) >= 13
    assert kinds.count("unanswerable") >= 6
    assert {"follow-up", "false-premise", "injection", "list"} <= set(kinds)


PARAMS = [
    pytest.param(
        c,
        id=c.id,
        marks=[pytest.mark.xfail(strict=True, reason=c.known_failure)] if c.known_failure else [],
    )
    for c in CASES
]


@pytest.mark.parametrize("case", PARAMS)
def test_seed_case(any_assistant, seed_index, case):
    """Every case on both stores; on the embedded one through ``from qa import answer``."""
    if case.history:
        chat = Chat(assistant=any_assistant)
        for earlier in case.history:
            chat.ask(earlier)
        answer = chat.ask(case.question)
    elif isinstance(any_assistant.store, FileStore):
        answer = qa_answer(case.question, index_dir=seed_index)  # the public function
    else:
        answer = any_assistant.answer(case.question)
    verdict = judge(answer.text, answer.abstained, case.expect)
    assert verdict.passed, f"{verdict.reason} ({answer.reason})"
    if not answer.abstained:
        assert answer.citations, "an answer without a citation"
        text = (SEEDS.parent / SEED_FILE).read_text(encoding="utf-8")
        for c in answer.citations:
            assert c.source.endswith(SEED_FILE.split("/")[-1])
            assert text[c.start : c.end] == c.quote
        joined = " ".join(" ".join(c.quote.split()) for c in answer.citations)
        # A question of several parts is answered part by part ("2010; $45.1 million"):
        # each part is an exact span of its citations.
        parts = answer.text.split("; ") if case.kind == "multi-part" else [answer.text]
        for part in parts:
            assert part in joined, f"{part!r} is not an exact span of its citations"


def test_acceptance_question_from_the_cli(tmp_path):
    """`seedqa index seeds` then `seedqa ask ... --json`, in a clean working folder."""
    import shutil

    shutil.copytree(SEEDS, tmp_path / "seeds")
    built = run_cli("index", "seeds", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "1 added" in built.stdout
    asked = run_cli("ask", "How much did Azercosmos export in 2020?", "--json", cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    out = json.loads(asked.stdout)
    assert set(out) == {"question", "answer", "abstained", "citations", "timings_ms"}
    assert "45.1 million" in out["answer"] and out["abstained"] is False
    cite = out["citations"][0]
    assert cite["source"] == SEED_FILE and "$45.1 million" in cite["quote"]
    text = (tmp_path / SEED_FILE).read_text(encoding="utf-8")
    assert text[cite["start"] : cite["end"]] == cite["quote"]
    assert set(out["timings_ms"]) == {"retrieve", "generate", "total"}

    # More facts, and an abstention, through the command line too.
    for question, expected in [
        ("Who is the president of the Turkish Space Agency?", "Serdar Huseyin Yildirim"),
        ("In which region is Azercosmos the only satellite operator?", "South Caucasus"),
    ]:
        res = run_cli("ask", question, "--json", cwd=tmp_path)
        assert expected in json.loads(res.stdout)["answer"]
    res = json.loads(
        run_cli("ask", "What is the capital of France?", "--json", cwd=tmp_path).stdout
    )
    assert res["abstained"] is True and res["citations"] == []


def test_every_suite_fact_through_the_command_line(tmp_path):
    """The same standalone cases, asked through `seedqa chat` (one process, /new between)."""
    import shutil

    shutil.copytree(SEEDS, tmp_path / "seeds")
    cases = [c for c in CASES if not c.history and not c.known_failure]
    script = "".join(f"{c.question}\n/new\n" for c in cases)
    res = run_cli("chat", cwd=tmp_path, input_text=script)
    assert res.returncode == 0, res.stderr
    replies = [
        line[len("seedqa> ") :] for line in res.stdout.splitlines() if line.startswith("seedqa> ")
    ]
    assert len(replies) == len(cases)
    answered = 0
    for case, reply in zip(cases, replies, strict=True):
        abstained = reply.startswith("I couldn't find")
        verdict = judge(reply, abstained, case.expect)
        assert verdict.passed, (case.id, verdict.reason)
        answered += not abstained
    assert answered >= 12
