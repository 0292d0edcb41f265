"""Are two `seedqa eval --report` runs the same answers? Prints every difference.

    python research/compare_reports.py out/before/dev3 out/after/dev3

Compares, case by case, the answer text, whether it abstained, the citations
(source, start, end, quote) and the stated reason ("why"). Exit 0 when answers,
abstentions and citations all match (reasons are listed, and only counted).
Made for refactors that must not change behaviour (issue "One clear house").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def cases(folder: str) -> dict[str, dict]:
    report = json.loads((Path(folder) / "report.json").read_text(encoding="utf-8"))
    return {c["id"]: c for c in report["cases"]["seedqa"]}


def main(before_dir: str, after_dir: str) -> int:
    before, after = cases(before_dir), cases(after_dir)
    if before.keys() != after.keys():
        print(f"different cases: {sorted(before.keys() ^ after.keys())[:10]}")
        return 1
    answers = reasons = 0
    for cid, b in before.items():
        a = after[cid]
        if (b["answer"], b["abstained"], b["citations"]) != (
            a["answer"],
            a["abstained"],
            a["citations"],
        ):
            answers += 1
            print(f"{cid}: {b['answer']!r} -> {a['answer']!r}")
        elif b["why"] != a["why"]:
            reasons += 1
            print(f"{cid}: reason {b['why']!r} -> {a['why']!r}")
    print(
        f"{len(before)} cases: {answers} answers or citations differ, "
        f"{reasons} reasons are worded differently."
    )
    return 1 if answers else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
