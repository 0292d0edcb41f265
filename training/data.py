"""Training examples for the reader, made the way answering will see them.

At answer time the reader reads the chunks that hybrid retrieval returns, not
SQuAD's tidy paragraphs, so the examples are built with the product's own
chunker and retriever: every article of the pool is indexed (one document per
article, as ``seedqa eval`` does), each question retrieves its chunks, and

- the chunk that holds a gold answer is a positive, with the answer's span;
- retrieved chunks that hold no gold answer are "no answer here" negatives,
  so the null score learns "not in this chunk" as well as "not answerable";
- an unanswerable question's retrieved chunks are all negatives (its own
  paragraph among them: SQuAD 2.0's adversarial "plausible answer" case).

Whole articles are held out for validation (questions on one paragraph are
near-duplicates of each other, so a random split would leak).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eval.datasets import Dataset, EvalCase, load_squad, parse_squad, read_json
from eval.metrics import normalize_answer
from eval.runner import prepare_index
from index import load_index
from index.errors import InputError

# Relative to the working directory, as `seedqa bench --squad` is: the pools sit in
# ../shared/ beside a checkout.
SHARED = Path("../shared/training")
GOLD_POOL = SHARED / "squad-v2-train-pool.json"
SILVER_POOL = SHARED / "squad-v2-silver-pool.json"
# 17,376 more people's questions from seven sources (every article has a `source`).
EXTRA_POOL = SHARED / "squad-extra-train-pool.json"
TYDI_DEV = "tydiqa-goldp-en-dev"  # questions written before the asker saw the passage
COVID = "covid-qa-200423"  # experts' questions over whole scientific papers
COVID_HELD_OUT = 20  # whole papers, every 5th by title

# Held out of training for every choice (epochs, thresholds): four full SQuAD 2.0
# articles (with their unanswerable questions) and two short XQuAD ones, about a
# fifth of the gold pool, chosen before any training for their spread of topics.
VALIDATION_ARTICLES = (
    "Harvard_University",
    "1973_oil_crisis",
    "Scottish_Parliament",
    "Force",
    "Apollo_program",
    "Kenya",
)


@dataclass(frozen=True)
class Example:
    """One (question, chunk) pair the reader learns from."""

    qid: str
    question: str
    context: str
    # Character spans of the answer in ``context``; empty: no answer in this chunk.
    answers: tuple[tuple[int, int], ...]
    weight: float


@dataclass(frozen=True)
class DataSettings:
    chunks: int = 4  # retrieved per question, as answering reads them
    negatives: int = 1  # retrieved non-answer chunks kept per answerable question
    unanswerable_chunks: int = 1  # retrieved chunks kept per unanswerable question
    silver_weight: float = 0.5  # loss weight of a silver-labelled example
    # The extra pool's file, if it is trained on (less its validation slices).
    extra: str | None = None
    # Loss weight of each extra pool source, as (source, weight) pairs (default 1.0).
    source_weights: tuple[tuple[str, float], ...] = ()

    def weight_of(self, pool: str | None) -> float:
        """The loss weight of a question from ``pool`` ("gold", "silver" or a source)."""
        if pool == "silver":
            return self.silver_weight
        return dict(self.source_weights).get(pool or "", 1.0)


def pool_articles(path: Path, kind: str) -> list[dict]:
    """The articles of one pool file, titles tagged with the pool they came from.

    The tag keeps apart a gold and a silver article of the same title (the
    pools share a few Wikipedia titles, with different paragraphs).
    """
    if not path.is_file():
        raise InputError(
            f"No training data at {path}. Point --gold/--silver at the SQuAD 2.0 pools "
            "(../shared/training/ in the project's workspace)."
        )
    raw = read_json(path)
    parse_squad(raw, str(path))  # a one-line error for a malformed file
    assert isinstance(raw, dict)
    articles = []
    for article in raw["data"]:
        tagged = dict(article)
        tagged["title"] = f"{kind}-{article['title']}"
        tagged.setdefault("source", kind)
        articles.append(tagged)
    return articles


def validation_slices(gold: Path, extra: Path | None) -> dict[str, list[dict]]:
    """The held-out validation slices, each a list of SQuAD articles (titles tagged).

    ``squad``: the gold pool's validation articles (as before); with the extra
    pool, ``tydi``: TyDi QA's English dev questions, and ``covid``: 20 whole
    COVID-QA papers (every 5th by title). Every choice is judged on each.
    """
    held = {f"gold-{t}" for t in VALIDATION_ARTICLES}
    slices = {"squad": [a for a in pool_articles(gold, "gold") if a["title"] in held]}
    if extra is not None:
        articles = pool_articles(extra, "extra")
        slices["tydi"] = [a for a in articles if a["source"] == TYDI_DEV]
        covid = sorted((a for a in articles if a["source"] == COVID), key=lambda a: a["title"])
        slices["covid"] = covid[::5][:COVID_HELD_OUT]
    return slices


def _bare(title: str) -> str:
    return title.split("-", 1)[-1].casefold()


def extra_training_articles(extra: Path, slices: dict[str, list[dict]]) -> list[dict]:
    """The extra pool less the validation slices, and less any article whose title a
    slice also has (TyDi passages share titles such as "Oxygen" with other pools)."""
    held = {a["title"] for s in slices.values() for a in s}
    held_titles = {_bare(t) for t in held}
    return [
        a
        for a in pool_articles(extra, "extra")
        if a["title"] not in held and _bare(a["title"]) not in held_titles
    ]


def split_pools(
    gold: Path, silver: Path | None, *, quick: bool = False, extra: Path | None = None
) -> tuple[Dataset, Dataset, dict[str, str]]:
    """Training and validation datasets, and each training question's loss weight key.

    Returns (train, validation, pool of each training question id: "gold",
    "silver", or the extra pool's source). The validation set is the SQuAD
    slice (:func:`validation_slices` gives the others). ``quick`` keeps a few
    dozen questions of two articles each way.
    """
    gold_articles = pool_articles(gold, "gold")
    silver_articles = pool_articles(silver, "silver") if silver else []
    held = {f"gold-{t}" for t in VALIDATION_ARTICLES}
    train = [a for a in gold_articles if a["title"] not in held]
    valid = [a for a in gold_articles if a["title"] in held]
    extra_articles = extra_training_articles(extra, validation_slices(gold, extra)) if extra else []
    if quick:
        train = [_excerpt(a, 3) for a in train[:2]]
        silver_articles = [_excerpt(a, 2) for a in silver_articles[:1]]
        valid = [_excerpt(a, 2) for a in valid[:2]]
        extra_articles = [_excerpt(a, 2) for a in extra_articles[:1]]
    train += silver_articles + extra_articles
    pools = {
        str(q["id"]): str(a.get("source") or a["title"].split("-", 1)[0])
        for a in train
        for p in a["paragraphs"]
        for q in p["qas"]
    }
    return (
        load_squad({"data": train}, "train"),
        load_squad({"data": valid}, "validation"),
        pools,
    )


def _excerpt(article: dict, paragraphs: int) -> dict:
    return {**article, "paragraphs": article["paragraphs"][:paragraphs]}


def build_examples(
    dataset: Dataset,
    pools: dict[str, str],
    settings: DataSettings,
    *,
    progress: bool = False,
) -> list[Example]:
    """Index the dataset's articles and pair each question with its chunks."""
    from tqdm import tqdm

    from qa.retrieval import HybridRetriever

    index_dir, holder = prepare_index(dataset)
    try:
        from index import get_embedder

        embedder = get_embedder()
        stored = load_index(index_dir, embedder.info)
        retriever = HybridRetriever(stored, embedder)
        by_source: dict[str, list[int]] = {}
        for row in range(len(stored.chunks)):
            by_source.setdefault(stored.chunks[row].source, []).append(row)
        out: list[Example] = []
        for case in tqdm(dataset.cases, desc="Pairing questions with chunks", disable=not progress):
            weight = settings.weight_of(pools.get(case.case.id))
            hits = retriever.retrieve(case.case.question, settings.chunks)
            out.extend(_pairs(case, [h.chunk for h in hits], stored, by_source, settings, weight))
        return out
    finally:
        holder.cleanup()


def _pairs(case: EvalCase, retrieved, stored, by_source, settings: DataSettings, weight: float):
    question = case.case.question
    qid = case.case.id
    if not case.golds:
        for chunk in retrieved[: settings.unanswerable_chunks]:
            yield Example(qid, question, chunk.text, (), weight)
        return
    source = case.gold_span.source if case.gold_span else ""
    offsets = case.gold_offsets

    def spans_in(chunk) -> tuple[tuple[int, int], ...]:
        if chunk.source != source:
            return ()
        return tuple(
            (s - chunk.start, e - chunk.start)
            for s, e in offsets
            if chunk.start <= s and e <= chunk.end
        )

    positives = [(c, spans_in(c)) for c in retrieved if spans_in(c)]
    if not positives and offsets:
        # Retrieval missed it: the article's chunk that holds the first answer.
        s, e = offsets[0]
        for row in by_source.get(source, []):
            chunk = stored.chunks[row]
            if chunk.start <= s and e <= chunk.end:
                positives = [(chunk, spans_in(chunk))]
                break
    for chunk, spans in positives[:1]:
        yield Example(qid, question, chunk.text, spans, weight)
    golds = [normalize_answer(g) for g in case.golds]
    negatives = 0
    for chunk in retrieved:
        if negatives >= settings.negatives:
            break
        text = normalize_answer(chunk.text)
        # A chunk that holds the answer's words elsewhere is neither: skipped.
        if spans_in(chunk) or any(g and g in text for g in golds):
            continue
        negatives += 1
        yield Example(qid, question, chunk.text, (), weight)


def shuffled(examples: Iterable[Example], seed: int) -> list[Example]:
    out = list(examples)
    random.Random(seed).shuffle(out)
    return out


def save_examples(examples: list[Example], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        "\n".join(json.dumps(e.__dict__, ensure_ascii=False) for e in examples), encoding="utf-8"
    )
    tmp.replace(path)


def load_examples(path: Path) -> list[Example]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        raw["answers"] = tuple(tuple(a) for a in raw["answers"])
        out.append(Example(**raw))
    return out
