"""Running a dataset through a system and scoring every case."""

from __future__ import annotations

import logging
import secrets
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index import open_store, store_url, update_index
from index.config import COLLECTIONS_FOLDER
from qa import Answer, Chat
from qa.pipeline import Assistant

from .datasets import Dataset, EvalCase
from .metrics import Verdict, best_over_golds, contains, exact_match, f1, judge

log = logging.getLogger(__name__)

HIT_KS = (1, 3, 5)


@dataclass
class CaseResult:
    item: EvalCase
    answer: Answer
    verdict: Verdict
    em: float | None = None
    f1: float | None = None
    gold_rank: int | None = None  # 1-based rank of the first retrieved chunk holding the gold
    citation_ok: bool | None = None

    @property
    def prediction(self) -> str:
        return "" if self.answer.abstained else self.answer.text


@dataclass
class SystemRun:
    """One system's results on one dataset."""

    system: str
    dataset: str
    results: list[CaseResult] = field(default_factory=list)


class ScratchIndex(tempfile.TemporaryDirectory):
    """A temporary folder holding a dataset's documents and its index.

    The index is a collection of its own (``collections/eval-XXXX``), so with a
    server store (``--store``) the dataset lands in a scratch collection, never
    in the default one, and :meth:`cleanup` deletes that collection too.
    """

    def __init__(self, dataset: Dataset) -> None:
        super().__init__(prefix="seedqa-eval-")
        self.documents = Path(self.name) / dataset.name
        scratch = f"eval-{secrets.token_hex(6)}"
        self.index_dir = Path(self.name) / COLLECTIONS_FOLDER / scratch

    def cleanup(self) -> None:
        store = open_store(self.index_dir)
        if store_url() is not None and store.exists():
            store.delete()
        super().cleanup()


def prepare_index(dataset: Dataset) -> tuple[Path, ScratchIndex]:
    """Index a dataset's own documents in a temporary folder (removed with ``holder``)."""
    holder = ScratchIndex(dataset)
    holder.documents.mkdir(parents=True)
    for name, text in dataset.documents.items():
        (holder.documents / name).write_text(text, encoding="utf-8")
    try:
        update_index([holder.documents], holder.index_dir, progress=sys.stderr.isatty())
    except BaseException:
        holder.cleanup()
        raise
    return holder.index_dir, holder


def run_dataset(
    dataset: Dataset,
    answerer: Callable[[EvalCase], Answer],
    system: str,
    *,
    progress: bool = True,
) -> SystemRun:
    run = SystemRun(system, dataset.name)
    tty = sys.stderr.isatty()
    # Off a terminal (CI logs, nohup) a bar redrawn every 0.1 s is noise, and no
    # bar at all leaves an hour-long run silent: print a line every 30 s instead.
    bar = tqdm(
        dataset.cases,
        desc=f"{system}: {dataset.name}",
        unit="q",
        disable=progress is False,
        mininterval=0.1 if tty else 30.0,
        ascii=not tty,
    )
    for item in bar:
        answer = answerer(item)
        run.results.append(score(item, answer))
    return run


def ours(index_dir: Path, assistant: Assistant | None = None) -> Callable[[EvalCase], Answer]:
    assistant = assistant or Assistant(index_dir)

    def answer(item: EvalCase) -> Answer:
        chat = Chat(assistant=assistant)
        for earlier in item.case.history:
            chat.ask(earlier)
        return chat.ask(item.case.question)

    return answer


def score(item: EvalCase, answer: Answer) -> CaseResult:
    pred = "" if answer.abstained else answer.text
    if item.reference:
        value = f1(pred, item.reference)
        verdict = Verdict(value >= 0.5, f"F1 {value:.2f} against the reference")
    else:
        verdict = judge(answer.text, answer.abstained, item.case.expect)
    result = CaseResult(item, answer, verdict)
    if item.squad:
        result.em = best_over_golds(exact_match, pred, list(item.golds))
        result.f1 = best_over_golds(f1, pred, list(item.golds))
    if item.gold_span is not None and item.golds:
        g = item.gold_span
        for rank, (source, start, end) in enumerate(answer.retrieved, 1):
            if source.endswith(g.source.split("/", 1)[-1]) and start < g.end and end > g.start:
                result.gold_rank = rank
                break
    golds = item.golds or item.case.expect.any or item.case.expect.all
    if golds and not answer.abstained:
        result.citation_ok = any(
            contains(c.quote, gold) for c in answer.citations for gold in golds
        )
    return result


def summarize(run: SystemRun) -> dict:
    """Every aggregate figure of one run, as plain numbers for JSON and tables."""
    rs = run.results
    out: dict = {"system": run.system, "dataset": run.dataset, "cases": len(rs)}
    out["accuracy"] = _mean([r.verdict.passed for r in rs])
    kinds: dict[str, list[bool]] = {}
    for r in rs:
        kinds.setdefault(r.item.case.kind, []).append(r.verdict.passed)
    out["accuracy_by_kind"] = {k: _mean(v) for k, v in sorted(kinds.items())}
    squad = [r for r in rs if r.item.squad]
    if squad:
        has = [r for r in squad if r.item.golds]
        no = [r for r in squad if not r.item.golds]
        out["squad"] = {
            "exact": _mean([r.em for r in squad]),
            "f1": _mean([r.f1 for r in squad]),
            "HasAns_exact": _mean([r.em for r in has]),
            "HasAns_f1": _mean([r.f1 for r in has]),
            "HasAns_total": len(has),
            "NoAns_exact": _mean([r.em for r in no]),
            "NoAns_f1": _mean([r.f1 for r in no]),
            "NoAns_total": len(no),
        }
    ranked = [r for r in rs if r.item.gold_span is not None and r.item.golds]
    if ranked and any(r.answer.retrieved for r in ranked):
        out["retrieval"] = {
            **{f"hit@{k}": _mean([(r.gold_rank or 99) <= k for r in ranked]) for k in HIT_KS},
            "mrr": _mean([1 / r.gold_rank if r.gold_rank else 0.0 for r in ranked]),
        }
    cited = [r.citation_ok for r in rs if r.citation_ok is not None]
    if cited:
        out["citation_accuracy"] = _mean(cited)
    should = [r.item.case.expect.unanswerable for r in rs]
    did = [r.answer.abstained for r in rs]
    tp = sum(1 for s, d in zip(should, did, strict=True) if s and d)
    out["abstention"] = {
        "rate": _mean(did),
        "precision": tp / sum(did) if sum(did) else None,
        "recall": tp / sum(should) if sum(should) else None,
    }
    out["latency_ms"] = {
        stage: _percentiles([r.answer.timings_ms.get(stage) for r in rs])
        for stage in ("retrieve", "generate", "total")
    }
    tokens = [r.answer.signals.get("tokens") for r in rs if "tokens" in r.answer.signals]
    out["tokens_generated"] = {"total": int(sum(tokens)), "mean": _mean(tokens)} if tokens else {}
    return out


def _mean(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _percentiles(values) -> dict[str, float | None]:
    arr = np.array([v for v in values if v is not None], dtype=float)
    if not arr.size:
        return {"p50": None, "p95": None}
    return {"p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95))}
