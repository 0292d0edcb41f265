"""`seedqa bench --store URL`: the PostgreSQL store beside the embedded one, in one run.

Phases (results written after each, as `seedqa bench` does):

1. quality   retrieval hit@5 (hybrid and dense) on the SQuAD dev subset's
             paragraphs, indexed into both stores by `seedqa index`'s own code
2. corpus    documents of real text built to about N chunks (benchmarks.corpus)
3. ingest    the embedded store's full build (read, chunk, embed, index); then the
             same chunks and vectors copied into PostgreSQL in batches of
             :data:`COPY_BATCH`, one transaction each (nothing embedded twice)
4. search    per store: dense search, keyword search and whole hybrid retrieval
             p50/p95 for the same questions (query vectors embedded once, so only
             the stores are timed), and dense recall@10 against exact search
             (numpy over every stored vector)

A ``--workdir`` keeps the corpus and both indexes: run again, and the build
and copy are skipped when nothing changed (the search figures can be taken on
an idle machine).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from .corpus import Source, build_corpus, load_source
from .run import gold_hit_rates, squad_folder

COPY_BATCH = 10_000
COLLECTION = "bench"
console = Console(stderr=True)


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _save(out: Path, results: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")


def quality(url: str, source: Source, work: Path) -> dict:
    """hit@5 of the gold paragraph on both stores (int8 ONNX embedder)."""
    from eval.datasets import load_squad
    from index import get_embedder, load_index, update_index, use_store
    from index.config import COLLECTIONS_FOLDER
    from index.stores import store_url
    from qa.retrieval import HybridRetriever

    dataset = load_squad(source.squad, "squad")
    cases = [c for c in dataset.cases if c.golds]
    folder = squad_folder(dataset, work)
    embedder = get_embedder()
    qvecs = embedder.embed([item.case.question for item in cases])
    out: dict = {"questions": len(cases), "dataset": str(source.squad_path)}
    previous = store_url()
    try:
        for kind, store in (("files", None), ("postgresql", url)):
            use_store(store)
            index_dir = work / COLLECTIONS_FOLDER / "bench-squad"
            update_index([folder], index_dir, rebuild=True, progress=False)
            retriever = HybridRetriever(load_index(index_dir, embedder.info), embedder)
            out[kind] = gold_hit_rates(retriever, cases, qvecs)
    finally:
        use_store(previous)
    for k in ("hybrid_hit@5", "dense_hit@5"):
        out[f"{k}_delta_points"] = 100 * (out["postgresql"][k] - out["files"][k])
    return out


def ingest(url: str, corpus_dir: Path, work: Path, progress: bool) -> dict:
    """Build the embedded store, then copy its chunks and vectors into PostgreSQL."""
    from index import get_embedder, load_index, update_index
    from index.config import COLLECTIONS_FOLDER
    from index.pgstore import PgStore
    from index.store import Update
    from index.stores import FileStore

    embedder = get_embedder()
    index_dir = work / COLLECTIONS_FOLDER / COLLECTION
    t0 = time.perf_counter()
    report = update_index([corpus_dir], index_dir, progress=progress)
    build_s = time.perf_counter() - t0
    files = FileStore(index_dir)
    manifest = files.manifest()
    pg = PgStore(url, COLLECTION)
    out = {
        "chunks": manifest.chunk_count,
        "files_build_s": build_s,
        "files_embedded_chunks": report.embedded_chunks,
    }
    existing = pg.manifest()
    if existing is not None and existing.documents == manifest.documents:
        out["copied"] = False
        return out
    index = load_index(index_dir, embedder.info, verify=False)
    by_source: dict[str, list[int]] = {}
    for i, c in enumerate(index.chunks):
        by_source.setdefault(c.source, []).append(i)
    sources = sorted(manifest.documents)
    t0 = time.perf_counter()
    previous = None
    with pg.lock():
        batch: list[str] = []
        done = 0
        for n, source in enumerate(sources, 1):
            batch.append(source)
            size = sum(len(by_source.get(s, [])) for s in batch)
            if size >= COPY_BATCH or n == len(sources):
                rows = [i for s in batch for i in by_source.get(s, [])]
                docs = {s: manifest.documents[s] for s in sources[:n]}
                update = Update(
                    drop=set(),
                    documents=docs,
                    chunks=[index.chunks[i] for i in rows],
                    vectors=np.asarray(index.embeddings[rows], dtype=np.float32),
                    embedder=embedder.info,
                    chunking=manifest.chunking,
                )
                previous = pg.commit(previous, update)
                done += len(rows)
                if progress:
                    console.print(f"  copied {done:,} chunks into PostgreSQL")
                batch = []
    copy_s = time.perf_counter() - t0
    out.update(copied=True, pg_copy_s=copy_s, pg_copy_chunks_per_s=out["chunks"] / copy_s)
    return out


def search(url: str, work: Path, questions: list[str]) -> dict:
    """Latency of each store's searches for the same query vectors; recall@10 vs exact."""
    from index import get_embedder, load_index
    from index.config import COLLECTIONS_FOLDER
    from index.pgstore import PgStore
    from index.stores import load_from
    from qa.retrieval import HybridRetriever

    embedder = get_embedder()
    index_dir = work / COLLECTIONS_FOLDER / COLLECTION
    files = load_index(index_dir, embedder.info, verify=False)
    pg = load_from(PgStore(url, COLLECTION), embedder.info)
    qvecs = embedder.embed(questions)
    vectors = np.asarray(files.embeddings, dtype=np.float32)
    exact = [set(np.argsort(-(vectors @ q))[:10].tolist()) for q in qvecs]
    # PostgreSQL's rows are chunk ids: map them back to (source, start) to compare.
    keys = [(c.source, c.start) for c in files.chunks]
    exact_keys = [{keys[i] for i in rows} for rows in exact]
    out: dict = {"questions": len(questions), "chunks": len(keys)}
    for kind, index in (("files", files), ("postgresql", pg)):
        retriever = HybridRetriever(index, embedder)
        for q, v in zip(questions[:3], qvecs[:3], strict=True):  # warm caches
            retriever.retrieve(q, 4, query_vector=v)
        dense_ms, keyword_ms, hybrid_ms, recall = [], [], [], []
        for q, v, want in zip(questions, qvecs, exact_keys, strict=True):
            t0 = time.perf_counter()
            found = index.vectors.search(v, 10)
            t1 = time.perf_counter()
            index.keywords.search(q, 20)
            t2 = time.perf_counter()
            retriever.retrieve(q, 4, query_vector=v)
            t3 = time.perf_counter()
            dense_ms.append(1000 * (t1 - t0))
            keyword_ms.append(1000 * (t2 - t1))
            hybrid_ms.append(1000 * (t3 - t2))
            got = {(c.source, c.start) for _, c, _ in index.rows([r for r, _ in found])}
            recall.append(len(got & want) / 10)
        out[kind] = {
            "dense_p50_ms": _p(dense_ms, 50),
            "dense_p95_ms": _p(dense_ms, 95),
            "keyword_p50_ms": _p(keyword_ms, 50),
            "keyword_p95_ms": _p(keyword_ms, 95),
            "hybrid_p50_ms": _p(hybrid_ms, 50),
            "hybrid_p95_ms": _p(hybrid_ms, 95),
            "recall@10": float(np.mean(recall)),
        }
    out["hybrid_p50_ratio"] = out["postgresql"]["hybrid_p50_ms"] / out["files"]["hybrid_p50_ms"]
    return out


def run_store_bench(
    url: str,
    chunks: int,
    *,
    squad: str | None,
    out: Path,
    workdir: Path,
    questions: int,
    progress: bool,
) -> dict:
    source = load_source(squad)
    results: dict = {
        "config": {
            "store": "postgresql",
            "chunks_target": chunks,
            "squad": str(source.squad_path),
            "questions": questions,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    }
    workdir.mkdir(parents=True, exist_ok=True)

    def phase(name: str, fn) -> None:
        console.print(f"[bold]{name}[/bold] ...")
        t0 = time.perf_counter()
        results[name] = fn()
        results[name]["phase_s"] = time.perf_counter() - t0
        _save(out, results)

    phase("quality", lambda: quality(url, source, workdir))
    corpus_dir = workdir / "corpus"
    if not corpus_dir.exists():

        def corpus() -> dict:
            c = build_corpus(corpus_dir, chunks, source, progress=progress)
            return {"files": c.files, "chars": c.chars, "estimated_chunks": c.estimated_chunks}

        phase("corpus", corpus)
    phase("ingest", lambda: ingest(url, corpus_dir, workdir, progress))
    rng = np.random.default_rng(0)
    qs = list(source.questions)
    rng.shuffle(qs)
    phase("search", lambda: search(url, workdir, qs[:questions]))
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _save(out, results)
    print_report(results)
    return results


def print_report(r: dict) -> None:
    table = Table(title=f"Stores at {r['search']['chunks']:,} chunks")
    for col in ("figure", "files (FAISS + BM25)", "PostgreSQL + pgvector"):
        table.add_column(col)
    q, s = r["quality"], r["search"]
    rows = [
        ("hybrid hit@5 (SQuAD dev subset)", "hybrid_hit@5", q, "{:.3f}"),
        ("dense hit@5", "dense_hit@5", q, "{:.3f}"),
        ("dense search p50 ms", "dense_p50_ms", s, "{:.2f}"),
        ("keyword search p50 ms", "keyword_p50_ms", s, "{:.2f}"),
        ("hybrid retrieval p50 ms", "hybrid_p50_ms", s, "{:.2f}"),
        ("hybrid retrieval p95 ms", "hybrid_p95_ms", s, "{:.2f}"),
        ("dense recall@10 vs exact", "recall@10", s, "{:.3f}"),
    ]
    for label, key, part, fmt in rows:
        table.add_row(label, fmt.format(part["files"][key]), fmt.format(part["postgresql"][key]))
    Console(stderr=True).print(table)
