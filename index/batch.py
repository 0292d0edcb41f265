"""The pure part of indexing: documents in, chunks and their vectors out.

Runs in the indexing process, or as a Dask task on a worker
(:mod:`index.distributed`); either way the caller commits the result.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .chunking import chunk_text
from .config import ChunkingConfig
from .documents import Document, SourceFile, UnreadableFile, load_document
from .embedding import Embedder, get_embedder
from .store import Chunk


def ingest_batch(
    documents: Sequence[Document],
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    progress: bool = False,
    timings: dict[str, float] | None = None,
) -> tuple[list[Chunk], np.ndarray]:
    """Chunk and embed a batch of documents.

    ``timings`` (if given) receives the seconds spent chunking and embedding.
    """
    t0 = time.perf_counter()
    chunks: list[Chunk] = []
    for doc in documents:
        for span in chunk_text(doc.text, embedder.count_tokens, chunking):
            chunks.append(
                Chunk(
                    doc.source,
                    span.start,
                    span.end,
                    doc.text[span.start : span.end],
                    span.sentences,
                )
            )
    t1 = time.perf_counter()
    vectors = embedder.embed([c.text for c in chunks], progress=progress and len(chunks) > 64)
    if timings is not None:
        timings["chunk"] = timings.get("chunk", 0.0) + t1 - t0
        timings["embed"] = timings.get("embed", 0.0) + time.perf_counter() - t1
    return chunks, vectors


@dataclass
class BatchResult:
    """One batch of files read, chunked and embedded (what a Dask task sends back)."""

    documents: list[tuple[str, str, str, int]]  # source, sha256, path, chars
    skipped: list[tuple[str, str]]  # source, why it could not be read
    chunks: list[Chunk]
    vectors: np.ndarray


def ingest_files(
    files: Sequence[tuple[SourceFile, str]],
    chunking: ChunkingConfig,
    embedder: Embedder | str,
    *,
    progress: bool = False,
    timings: dict[str, float] | None = None,
) -> BatchResult:
    """Read, chunk and embed ``files`` (each with its sha256) in this process.

    ``embedder`` is the embedder, or the name of its backend (what a Dask task
    is sent). ``timings`` (if given) receives the seconds spent reading,
    chunking and embedding.
    """
    if isinstance(embedder, str):
        embedder = get_embedder(embedder)
    t0 = time.perf_counter()
    documents, skipped = [], []
    for file, digest in tqdm(files, desc="Reading", unit="file", disable=not progress):
        try:
            documents.append(load_document(file, digest))
        except UnreadableFile as exc:
            skipped.append((file.source, str(exc)))
    if timings is not None:
        timings["read"] = timings.get("read", 0.0) + time.perf_counter() - t0
    chunks, vectors = ingest_batch(
        documents, embedder, chunking, progress=progress, timings=timings
    )
    meta = [(d.source, d.sha256, str(d.path), len(d.text)) for d in documents]
    return BatchResult(meta, skipped, chunks, vectors)
