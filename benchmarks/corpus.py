"""Benchmark corpora built at run time from real text (nothing large is committed).

The source is the SQuAD v2 dev subset's paragraphs plus the seed article. A
corpus of N chunks is made of documents whose paragraphs are *variations* of
the source paragraphs: sentences shuffled, one or two sentences borrowed from
another paragraph, and a unique reference tag per paragraph. So the text is
real English with the vocabulary and lengths of real documents, but no two
paragraphs are duplicates (which would flatter BM25, FAISS and the dedup
checks alike).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from eval.datasets import parse_squad, read_json
from index import ChunkingConfig, get_embedder
from index.chunking import chunk_text, sentence_spans
from index.errors import InputError

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SQUAD = "../shared/benchmarks/squad-v2-dev-subset.json"
FALLBACK_SQUAD = Path(__file__).resolve().parent / "data" / "squad-v2-sample.json"
SEEDS = REPO / "seeds"
PARAGRAPHS_PER_DOC = 8


@dataclass
class Source:
    """The real text the corpora are made of, and questions about it."""

    squad_path: Path
    paragraphs: list[str]
    squad: dict
    questions: list[str] = field(default_factory=list)  # every question, in file order
    fallback: bool = False


def load_source(squad_path: str | Path | None = None) -> Source:
    """The SQuAD file (``--squad``) or, when it is absent, the committed sample in benchmarks/data.

    The default path is relative to the repository (``../shared/...``), so the
    benchmark finds the shared data from any working directory; CI without it
    still runs on the committed sample.
    """
    named = Path(squad_path or DEFAULT_SQUAD)
    path = named
    if not path.is_absolute() and not path.exists():
        path = (REPO / path).resolve()
    fallback = not path.is_file()
    if fallback:
        if named != Path(DEFAULT_SQUAD):  # a file the user named must exist
            raise InputError(f"No such SQuAD file: {named}. Check the path given to --squad.")
        path = FALLBACK_SQUAD
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise InputError(f"{path}: not a SQuAD v2 file (its JSON is not an object).")
    squad = parse_squad(raw, str(path))
    paragraphs = [p.context for a in squad.data for p in a.paragraphs]
    for seed in sorted(SEEDS.glob("*.txt")):
        text = seed.read_text(encoding="utf-8")
        paragraphs.extend(p.strip() for p in text.split("\n\n") if len(p.strip()) > 80)
    questions = [q.question for a in squad.data for p in a.paragraphs for q in p.qas]
    if not questions:
        raise InputError(f"{path} holds no questions: the benchmark needs some.")
    return Source(path, paragraphs, raw, questions, fallback)


def _sentences(paragraphs: list[str]) -> list[list[str]]:
    out = []
    for p in paragraphs:
        sents = [p[s:e] for s, e in sentence_spans(p)]
        if sents:
            out.append(sents)
    return out


def _variant(rng: random.Random, pool: list[list[str]], uid: int) -> str:
    base = list(rng.choice(pool))
    rng.shuffle(base)
    for _ in range(rng.randint(1, 2)):
        other = rng.choice(pool)
        base.insert(rng.randrange(len(base) + 1), rng.choice(other))
    # A unique tag per paragraph: every copy is distinct text for BM25 and hashing.
    tag = f"(Ref. {_base36(uid)}-{rng.randrange(36**3):03x}.)"
    return " ".join([*base, tag])


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def _document(rng: random.Random, pool: list[list[str]], first_uid: int) -> str:
    return "\n\n".join(_variant(rng, pool, first_uid + i) for i in range(PARAGRAPHS_PER_DOC))


@dataclass
class Corpus:
    folder: Path
    files: int
    chars: int
    estimated_chunks: int


def build_corpus(
    folder: Path, target_chunks: int, source: Source, *, seed: int = 0, progress: bool = True
) -> Corpus:
    """Write documents into ``folder`` until they hold about ``target_chunks`` chunks.

    The chunks-per-character rate is measured by chunking a sample with the
    real chunker, so the corpus lands near the target whatever the source.
    """
    rng = random.Random(seed)
    pool = _sentences(source.paragraphs)
    embedder = get_embedder()
    chunking = ChunkingConfig()
    sample = [_document(random.Random(seed + 1), pool, 10_000_000 + i * 100) for i in range(20)]
    sample_chunks = sum(len(chunk_text(t, embedder.count_tokens, chunking)) for t in sample)
    chars_per_chunk = sum(len(t) for t in sample) / max(sample_chunks, 1)
    folder.mkdir(parents=True, exist_ok=True)
    target_chars = int(target_chunks * chars_per_chunk)
    chars = files = 0
    with tqdm(
        total=target_chars, desc="Corpus", unit="char", unit_scale=True, disable=not progress
    ) as bar:
        while chars < target_chars:
            text = _document(rng, pool, files * PARAGRAPHS_PER_DOC)
            sub = folder / f"{files // 1000:03d}"
            sub.mkdir(exist_ok=True)
            (sub / f"doc-{files:06d}.txt").write_text(text, encoding="utf-8")
            files += 1
            chars += len(text)
            bar.update(len(text))
    return Corpus(folder, files, chars, round(chars / chars_per_chunk))
