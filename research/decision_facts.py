"""docs/reader.md "Tried…": eight further decision facts, 0.532-0.540 against 0.535.

Which further facts help the answer/abstain combination choose and decide?

    .venv/bin/python research/decision_facts.py dump [--reader DIR] [--out out/facts.pkl]
    .venv/bin/python research/decision_facts.py fit [--out out/facts.pkl] [--only NAME ...]

Validation articles only. ``dump`` answers every question through the pipeline
with the threshold off (as ``seedqa train-reader --calibrate-only`` does) and
keeps, beside each candidate's facts, the words it needs to compute new ones:
the question, the candidate, its sentence and its chunk. ``fit`` adds each
candidate fact below to the product's facts, refits the combination out of
fold by article with ``training.calibrate.fit_combiner`` (the product's own
fit and balanced threshold) and prints the validation figures, so a fact is
measured in seconds before it is written into ``qa/confidence.py``.
"""

from __future__ import annotations

import argparse
import math
import pickle
import re
from collections import Counter
from pathlib import Path

_WORD = re.compile(r"\w+")


def dump(reader_dir: Path, out: Path) -> None:
    from eval.metrics import best_over_golds, f1
    from eval.runner import prepare_index
    from index.stores import open_store
    from training.calibrate import readings_without_threshold
    from training.data import GOLD_POOL, SILVER_POOL, split_pools

    def raw(choice, item) -> dict:
        text = choice.hit.chunk.text[choice.start : choice.end]
        return {
            "text": text,
            "start": choice.start,
            "end": choice.end,
            "chunk": choice.hit.chunk.text,
            "sentence": _sentence(choice.hit.chunk, choice.start),
            "facts": dict(choice.facts),
            "right": best_over_golds(f1, text, list(item.golds)) if item.golds else 0.0,
        }

    _, valid, _ = split_pools(GOLD_POOL, SILVER_POOL)
    pairs, rows = readings_without_threshold(reader_dir, valid, progress=True, record=raw)
    # The IDF corpus: every chunk of the same index, built again (deterministic; a
    # minute) so the answering loop stays the one in training.calibrate.
    index_dir, holder = prepare_index(valid)
    try:
        store = open_store(index_dir)
        corpus = [c.text for c in store.load(store.manifest()).chunks]
    finally:
        holder.cleanup()
    out.write_bytes(pickle.dumps({"pairs": pairs, "rows": rows, "corpus": corpus}))
    print(f"{len(pairs)} questions -> {out}")


def _sentence(chunk, offset: int) -> str:
    from qa.spans import sentence_at as _sentence_at

    return chunk.text[slice(*_sentence_at(chunk, offset))]


# ---- candidate facts under test -------------------------------------------------

_NUMBER_WORDS = set(
    "one two three four five six seven eight nine ten eleven twelve twenty thirty forty "
    "fifty hundred thousand million billion half dozen".split()
)
_MONTHS = set(
    "january february march april may june july august september october november december".split()
)


def expected_type(question: str) -> str | None:
    q = question.lower()
    if re.search(r"\bhow (many|much|long|old|large|big|far|high|tall|often|fast)\b", q):
        return "number"
    if re.search(r"\b(what|which) (year|decade|century|date|month|day|time)\b", q) or re.search(
        r"^\s*when\b|\bwhen (did|was|were|is|does|do|had|has)\b", q
    ):
        return "date"
    if re.search(r"\b(what|which) (percentage|percent|number|amount)\b", q):
        return "number"
    if re.search(r"\bwho(m|se)?\b", q):
        return "name"
    if re.search(r"\bwhere\b", q):
        return "name"
    return None


def has_type(text: str, kind: str) -> bool:
    words = _WORD.findall(text)
    low = [w.lower() for w in words]
    if kind == "number":
        return any(w.isdigit() or any(ch.isdigit() for ch in w) for w in words) or any(
            w in _NUMBER_WORDS for w in low
        )
    if kind == "date":
        return any(re.fullmatch(r"1\d{3}|20\d{2}|\d{1,2}(st|nd|rd|th)?s?", w) for w in low) or any(
            w in _MONTHS or w in ("century", "centuries") for w in low
        )
    if kind == "name":
        return any(w[:1].isupper() for w in words)
    return False


def _stems(words):
    from qa.confidence import _stems

    return _stems(set(words))


class Idf:
    def __init__(self, corpus: list[str]):
        from qa.grounding import content_words

        df: Counter = Counter()
        for text in corpus:
            df.update(_stems(content_words(text)))
        self.n = len(corpus)
        self.df = df

    def __call__(self, stem: str) -> float:
        return math.log((self.n + 1) / (self.df.get(stem, 0) + 0.5))


def extra_facts(question: str, cand: dict, idf: Idf) -> dict[str, float]:
    from qa.grounding import content_words

    kind = expected_type(question)
    asked = _stems(content_words(question))
    in_sent = _stems(content_words(cand["sentence"]))
    in_chunk = _stems(content_words(cand["chunk"]))
    words = _stems(content_words(cand["text"]))
    total = sum(idf(s) for s in asked) or 1.0
    missing_sent = [idf(s) for s in asked - in_sent]
    missing_chunk = [idf(s) for s in asked - in_chunk]
    # distance (in words) from the candidate to the nearest question word in its sentence
    sent = cand["sentence"]
    off = cand["chunk"].find(sent)
    a = cand["start"] - off if off >= 0 else 0
    toks = [(m.start(), m.group()) for m in _WORD.finditer(sent)]
    pos = [i for i, (s, w) in enumerate(toks) if _stems([w.lower()]) & asked]
    at = next((i for i, (s, _) in enumerate(toks) if s >= a), len(toks))
    dist = min((abs(i - at) for i in pos), default=len(toks))
    return {
        "expects_type": 1.0 if kind else 0.0,
        "type_match": (1.0 if has_type(cand["text"], kind) else -1.0) if kind else 0.0,
        "in_question": len(words & asked) / len(words) if words else 0.0,
        "idf_overlap": sum(idf(s) for s in asked & in_sent) / total,
        "idf_chunk_overlap": sum(idf(s) for s in asked & in_chunk) / total,
        "missing_idf": max(missing_sent, default=0.0),
        "missing_chunk_idf": max(missing_chunk, default=0.0),
        "log_distance": math.log1p(dist),
    }


def fit(path: Path, only: list[str] | None) -> None:
    import qa.confidence as confidence
    from training import calibrate

    data = pickle.loads(path.read_bytes())
    pairs, rows = data["pairs"], data["rows"]
    idf = Idf(data["corpus"])
    base = confidence.FEATURES
    extra_names = list(extra_facts("how many", rows_first(rows), idf))
    cands = []
    for (item, _), row in zip(pairs, rows, strict=True):
        if row is None:
            cands.append(None)
            continue
        q = item.case.question
        cands.append(
            [
                calibrate._Candidate(
                    c["text"], {**c["facts"], **extra_facts(q, c, idf)}, c["right"]
                )
                for c in row
            ]
        )
    trials = [("product facts", ())] + [(f"+ {n}", (n,)) for n in (only or extra_names)]
    if not only:
        trials.append(("+ all", tuple(extra_names)))
    print("| facts | overall | HasAns | NoAns |\n| --- | --- | --- | --- |")
    try:
        for label, names in trials:
            confidence.FEATURES = base + names
            _, fig = calibrate.fit_combiner(pairs, cands)
            print(f"| {label} | {fig['f1']:.3f} | {fig['HasAns_f1']:.3f} | {fig['NoAns_f1']:.3f} |")
    finally:
        confidence.FEATURES = base


def rows_first(rows):
    return next(c for r in rows if r for c in r)


def main() -> None:
    from qa.reader import DEFAULT_DIR

    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["dump", "fit"])
    parser.add_argument("--reader", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--out", type=Path, default=Path("out/facts.pkl"))
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    dump(args.reader, args.out) if args.what == "dump" else fit(args.out, args.only)


if __name__ == "__main__":
    main()
