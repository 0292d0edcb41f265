"""Reports: report.json, report.md (tables and failures) and PNG plots."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .runner import SystemRun, summarize

log = logging.getLogger(__name__)


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_report(runs: list[SystemRun], folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    summaries = [summarize(r) for r in runs]
    data = {
        "summaries": summaries,
        "cases": {
            run.system: [
                {
                    "id": r.item.case.id,
                    "kind": r.item.case.kind,
                    "question": r.item.case.question,
                    "answer": r.answer.text,
                    "abstained": r.answer.abstained,
                    "passed": r.verdict.passed,
                    "reason": r.verdict.reason,
                    "why": r.answer.reason,
                    "em": r.em,
                    "f1": r.f1,
                    "gold_rank": r.gold_rank,
                    "citations": [c.__dict__ for c in r.answer.citations],
                    "timings_ms": r.answer.timings_ms,
                }
                for r in run.results
            ]
            for run in runs
        },
    }
    (folder / "report.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))
    (folder / "report.md").write_text(markdown(runs, summaries), encoding="utf-8")
    plot(runs, summaries, folder)
    return data


def markdown(runs: list[SystemRun], summaries: list[dict]) -> str:
    names = [s["system"] for s in summaries]
    lines = [f"# seedqa evaluation: {summaries[0]['dataset']}", ""]
    rows: list[tuple[str, list]] = [("cases", [s["cases"] for s in summaries])]
    rows.append(("accuracy (pass rate)", [s["accuracy"] for s in summaries]))
    if all("squad" in s for s in summaries):
        for key in ("f1", "exact", "HasAns_f1", "HasAns_exact", "NoAns_exact"):
            rows.append((f"SQuAD v2 {key}", [s["squad"][key] for s in summaries]))
    measured = [s["retrieval"] for s in summaries if "retrieval" in s]
    if measured:  # the stock pipeline reports no chunk ranks: its cells read "–"
        for key in measured[0]:
            rows.append((f"retrieval {key}", [s.get("retrieval", {}).get(key) for s in summaries]))
    rows.append(("citation accuracy", [s.get("citation_accuracy") for s in summaries]))
    for key in ("rate", "precision", "recall"):
        rows.append((f"abstention {key}", [s["abstention"][key] for s in summaries]))
    for stage in ("retrieve", "generate", "total"):
        for p in ("p50", "p95"):
            rows.append(
                (f"latency {stage} {p} (ms)", [s["latency_ms"][stage][p] for s in summaries])
            )
    # With a baseline, the ratio compares the last two columns: the stock
    # pipeline and ours on the same cases.
    compare = len(names) >= 2
    header = "| metric | " + " | ".join(names) + (" | ratio |" if compare else " |")
    lines += [header, "|" + " --- |" * (len(names) + 1 + compare)]
    for label, values in rows:
        cells = [_fmt(v) for v in values]
        ratio = ""
        if compare and "latency" in label and values[-2] and values[-1]:
            ratio = f" {values[-2] / values[-1]:.2f} |"
        elif compare:
            ratio = " |"
        lines.append(f"| {label} | " + " | ".join(cells) + " |" + ratio)
    lines += ["", "## Accuracy by kind", ""]
    kinds = sorted({k for s in summaries for k in s["accuracy_by_kind"]})
    lines += ["| kind | " + " | ".join(names) + " |", "|" + " --- |" * (len(names) + 1)]
    for kind in kinds:
        cells = [_fmt(s["accuracy_by_kind"].get(kind)) for s in summaries]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    for run in runs:
        failures = [r for r in run.results if not r.verdict.passed]
        lines += ["", f"## Failures: {run.system} ({len(failures)})", ""]
        for r in failures[:200]:
            cites = "; ".join(f"{c.source}:{c.start}-{c.end}" for c in r.answer.citations) or "none"
            expected = (
                "abstain"
                if r.item.case.expect.unanswerable
                else ", ".join(r.item.golds or r.item.case.expect.any or r.item.case.expect.all)
                or r.item.reference
            )
            lines.append(
                f"- **{r.item.case.id}** {r.item.case.question}  \n"
                f"  expected: {expected}; got: {r.answer.text!r} ({r.verdict.reason}); "
                f"citations: {cites}"
            )
    return "\n".join(lines) + "\n"


def plot(runs: list[SystemRun], summaries: list[dict], folder: Path) -> None:
    """accuracy.png and latency.png, with the ``[eval]`` extra (matplotlib) installed."""
    try:
        import matplotlib
    except ImportError:
        log.warning("No plots: matplotlib is missing (pip install 'seedqa[eval]').")
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({k for s in summaries for k in s["accuracy_by_kind"]})
    fig, ax = plt.subplots(figsize=(max(5, len(kinds) * 1.2), 3.5))
    width = 0.8 / len(summaries)
    for i, s in enumerate(summaries):
        xs = [k + i * width for k in range(len(kinds))]
        ax.bar(xs, [s["accuracy_by_kind"].get(k) or 0 for k in kinds], width, label=s["system"])
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(kinds))], kinds, rotation=20)
    ax.set_ylim(0, 1)
    ax.set_ylabel("pass rate")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "accuracy_by_kind.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for run in runs:
        totals = [r.answer.timings_ms.get("total", 0) / 1000 for r in run.results]
        ax.hist(totals, bins=30, alpha=0.6, label=run.system)
    ax.set_xlabel("seconds per question")
    ax.set_ylabel("questions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "latency.png", dpi=110)
    plt.close(fig)
