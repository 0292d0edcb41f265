"""The query side of the benchmark, in a fresh process.

A separate process so that index load time is a real cold-ish load and peak
RSS is that of a process that only loads an index and answers (the benchmark's
own process holds corpora, baselines and build buffers). Usage::

    python -m benchmarks.worker INDEX_DIR QUESTIONS.json OUT.json
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def run(index_dir: Path, questions: list[str], answers: int) -> dict:
    from index import get_embedder, load_index
    from qa.pipeline import Assistant, warm_up
    from qa.retrieval import HybridRetriever

    out: dict = {}
    embedder = get_embedder()
    t0 = time.perf_counter()
    load_index(index_dir, embedder.info, verify="full")
    out["load_full_hash_ms"] = _ms(t0)
    t0 = time.perf_counter()
    index = load_index(index_dir, embedder.info)
    out["load_ms"] = _ms(t0)
    warm_up()  # models load once per process; not a query's latency
    retriever = HybridRetriever(index, embedder)
    for q in questions[:3]:  # warm caches (first-call allocations)
        retriever.retrieve(q)

    embed_ms, retrieve_ms, dense_ids, qvecs = [], [], [], []
    for q in questions:
        t0 = time.perf_counter()
        qvec = embedder.embed_query(q)
        embed_ms.append(_ms(t0))
        t0 = time.perf_counter()
        retriever.retrieve(q, 4)  # embeds the query itself: the whole hybrid retrieval
        retrieve_ms.append(_ms(t0))
        qvecs.append(qvec)
        dense_ids.append([row for row, _ in index.vectors.search(qvec, 10)])
    t0 = time.perf_counter()
    for qvec in qvecs:
        index.vectors.search(qvec, 10)
    out["dense_search_ms_mean"] = _ms(t0) / max(len(qvecs), 1)
    t0 = time.perf_counter()
    for q in questions:
        index.keywords.search(q, 20)
    out["bm25_search_ms_mean"] = _ms(t0) / max(len(questions), 1)
    out["query_embed_ms"] = embed_ms
    out["retrieve_ms"] = retrieve_ms
    out["dense_top10"] = dense_ids
    out["query_vectors"] = np.asarray(qvecs, dtype=np.float32).tolist()

    assistant = Assistant(index_dir)
    # Whole answers only: the reader answers whole, so a "first token" would be
    # the answer itself.
    out["answer_ms"] = []
    for q in questions[:answers]:
        t0 = time.perf_counter()
        assistant.answer(q)
        out["answer_ms"].append(_ms(t0))
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started.

    Not ``getrusage``'s ru_maxrss: Linux keeps that across execve, so a worker
    started from the benchmark's own large process reported the parent's peak
    (4.1 GB at 92k chunks, against 1.4 GB read from VmHWM in the same setup).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    index_dir, questions_file, out_file = (Path(a) for a in sys.argv[1:4])
    spec = json.loads(questions_file.read_text(encoding="utf-8"))
    result = run(index_dir, spec["questions"], spec["answers"])
    out_file.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
