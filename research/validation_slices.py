"""docs/reader.md "Off Wikipedia": the validation slices as SQuAD files, for `seedqa eval`.

    .venv/bin/python research/validation_slices.py [--out out/slices]
    .venv/bin/seedqa eval out/slices/tydi.json --report out/slices/tydi-report

Writes each slice that `training.data.validation_slices` holds out of training
(``squad``: the gold pool's validation articles; ``tydi``: TyDi QA's English dev
questions; ``covid``: 20 whole COVID-QA papers) as its own SQuAD 2.0 file, so each
is indexed on its own and answered with open retrieval, as a new user would, and
prints how many answerable questions each has.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    from training.data import EXTRA_POOL, GOLD_POOL, validation_slices

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("out/slices"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, articles in validation_slices(GOLD_POOL, EXTRA_POOL).items():
        plain = [{**a, "title": a["title"].split("-", 1)[1]} for a in articles]
        path = args.out / f"{name}.json"
        path.write_text(json.dumps({"version": "v2.0", "data": plain}, ensure_ascii=False))
        qas = [q for a in plain for p in a["paragraphs"] for q in p["qas"]]
        answerable = sum(1 for q in qas if not q.get("is_impossible"))
        print(f"{path}: {len(plain)} articles, {len(qas)} questions, {answerable} answerable")


if __name__ == "__main__":
    main()
