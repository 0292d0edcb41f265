"""Incremental indexing: documents in, a committed generation out.

Documents are compared with the manifest by sha256: unchanged ones keep their
chunks and embeddings (nothing is re-embedded), changed ones are replaced,
files gone from an indexed folder are removed. ``ingest_batch`` is a function of
a batch of documents, so a distributed runner could call it per shard.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .chunking import chunk_text
from .config import ChunkingConfig, resolve_index_dir
from .documents import Document, SourceFile, UnreadableFile, discover, load_document, sha256_file
from .embedding import Embedder, get_embedder
from .errors import InputError
from .store import (
    Chunk,
    DocumentEntry,
    Manifest,
    StoredIndex,
    check_compatible,
    commit_generation,
    read_manifest,
    write_lock,
)

log = logging.getLogger(__name__)


@dataclass
class UpdateReport:
    """What one ``seedqa index`` run did, for the CLI and the UI to show."""

    index_dir: Path
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    embedded_chunks: int = 0
    documents: int = 0
    chunks: int = 0
    # Seconds per stage (check, read, chunk, embed, index), for `seedqa bench`.
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def ingest_batch(
    documents: Sequence[Document],
    embedder: Embedder,
    chunking: ChunkingConfig,
    *,
    progress: bool = False,
    timings: dict[str, float] | None = None,
) -> tuple[list[Chunk], np.ndarray]:
    """Chunk and embed a batch of documents; the pure part of indexing.

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


DEFAULT_CORPUS = Path("seeds")


def ensure_index(
    index_dir: str | Path | None = None, announce: Callable[[str], None] = log.warning
) -> bool:
    """Index ``seeds/`` first when the chosen index does not exist yet and seeds/ is here.

    The one first-use policy of every way in (CLI, web chat, eval), as
    ``make serve`` promises: in a fresh checkout the seed article is indexed
    instead of an error. Anywhere without a seeds/ folder a missing index stays
    missing, and the caller says how to build one. ``announce`` is told first
    (indexing takes a few seconds). Returns whether it indexed.
    """
    path = resolve_index_dir(index_dir)
    if read_manifest(path) is not None or not DEFAULT_CORPUS.is_dir():
        return False
    announce(f"No index yet: indexing {DEFAULT_CORPUS}/ first.")
    update_index([DEFAULT_CORPUS], path, progress=False)
    return True


def update_index(
    paths: Iterable[str | Path],
    index_dir: str | Path | None = None,
    *,
    rebuild: bool = False,
    chunking: ChunkingConfig | None = None,
    embedder: Embedder | None = None,
    progress: bool | None = None,
    on_file: Callable[[str, str], None] | None = None,
) -> UpdateReport:
    """Bring the index up to date with ``paths`` (folders are scanned recursively).

    ``on_file(source, status)`` is told about each file as it is handled, for a
    UI that shows per-file messages.
    """
    index_dir = resolve_index_dir(index_dir)
    embedder = embedder or get_embedder()
    progress = sys.stderr.isatty() if progress is None else progress
    paths = list(paths)
    if not paths:
        raise InputError("Nothing to index: give at least one file or folder.")
    files, unsupported = discover(paths)
    report = UpdateReport(index_dir=index_dir, skipped=list(unsupported))
    if not files:
        where = ", ".join(str(p) for p in paths)
        raise InputError(
            f"No supported documents in {where} (looked for .txt, .md, .html, .pdf, .docx)."
        )
    notify = on_file or (lambda source, status: None)

    with write_lock(index_dir):
        previous = None if rebuild else read_manifest(index_dir)
        if previous is not None:
            check_compatible(previous, embedder.info, index_dir)
            chunking = chunking or previous.chunking
        chunking = chunking or ChunkingConfig()
        if previous is not None and previous.chunking != chunking:
            previous = None  # different chunking: every document is chunked again
        old_docs = dict(previous.documents) if previous else {}
        by_hash = {entry.sha256: src for src, entry in old_docs.items()}

        timings = report.timings_s
        t_start = time.perf_counter()
        to_read: list[tuple[SourceFile, str]] = []
        seen: set[str] = set()
        fresh: set[str] = set()
        for file in tqdm(files, desc="Checking", unit="file", disable=not progress, leave=False):
            seen.add(file.source)
            digest = sha256_file(file.path)
            old = old_docs.get(file.source)
            if old is not None and old.sha256 == digest:
                report.unchanged.append(file.source)
                notify(file.source, "unchanged")
                continue
            twin = by_hash.get(digest)
            if twin is not None and twin != file.source and _still_there(twin, old_docs, fresh):
                report.skipped.append((file.source, f"duplicate of {twin}"))
                notify(file.source, f"skipped: duplicate of {twin}")
                continue
            by_hash[digest] = file.source
            fresh.add(file.source)
            to_read.append((file, digest))

        t_read = time.perf_counter()
        timings["check"] = t_read - t_start
        documents: list[Document] = []
        stale: set[str] = set()
        for file, digest in tqdm(to_read, desc="Reading", unit="file", disable=not progress):
            try:
                documents.append(load_document(file, digest))
            except UnreadableFile as exc:
                report.skipped.append((file.source, str(exc)))
                notify(file.source, f"skipped: {exc}")
                if file.source in old_docs:
                    stale.add(file.source)  # never answer from a version that changed

        timings["read"] = time.perf_counter() - t_read
        roots = [Path(p).expanduser().resolve() for p in paths]
        for source, entry in old_docs.items():
            path = Path(entry.path)
            gone = source not in seen and any(r.is_dir() and path.is_relative_to(r) for r in roots)
            if gone or source in stale:
                report.removed.append(source)
                notify(source, "removed")

        replaced = {d.source for d in documents}
        for d in documents:
            (report.updated if d.source in old_docs else report.added).append(d.source)
            notify(d.source, "updated" if d.source in old_docs else "added")

        if not (replaced or report.removed) and previous is not None:
            report.documents, report.chunks = len(old_docs), previous.chunk_count
            return report

        new_chunks, new_vectors = ingest_batch(
            documents, embedder, chunking, progress=progress, timings=timings
        )
        t_index = time.perf_counter()
        report.embedded_chunks = len(new_chunks)
        drop = replaced | set(report.removed)
        kept_chunks, kept_vectors = _kept(index_dir, previous, embedder, drop)

        now = datetime.now(UTC).isoformat(timespec="seconds")
        docs_out = {s: e for s, e in old_docs.items() if s not in drop}
        counts: dict[str, int] = {}
        for c in new_chunks:
            counts[c.source] = counts.get(c.source, 0) + 1
        for d in documents:
            docs_out[d.source] = DocumentEntry(
                sha256=d.sha256,
                path=str(d.path),
                chunks=counts.get(d.source, 0),
                chars=len(d.text),
                indexed_at=now,
            )
        all_chunks = kept_chunks + new_chunks
        all_vectors = np.concatenate([kept_vectors, new_vectors]).astype(np.float32)
        commit_generation(
            index_dir, all_chunks, all_vectors, docs_out, embedder.info, chunking, previous
        )
        report.documents, report.chunks = len(docs_out), len(all_chunks)
        timings["index"] = time.perf_counter() - t_index
        return report


def remove_documents(sources: Iterable[str], index_dir: str | Path | None = None) -> UpdateReport:
    """Drop documents from the index by their ``source`` name."""
    index_dir = resolve_index_dir(index_dir)
    embedder = get_embedder()
    report = UpdateReport(index_dir=index_dir)
    with write_lock(index_dir):
        previous = read_manifest(index_dir)
        if previous is None:
            raise InputError(f"No index in {index_dir}: nothing to remove.")
        check_compatible(previous, embedder.info, index_dir)
        wanted = set(sources)
        unknown = sorted(wanted - previous.documents.keys())
        if unknown:
            raise InputError(
                f"Not in the index: {', '.join(unknown)}. "
                "See `seedqa status` for the indexed documents."
            )
        chunks, vectors = _kept(index_dir, previous, embedder, wanted)
        docs = {s: e for s, e in previous.documents.items() if s not in wanted}
        commit_generation(
            index_dir, chunks, vectors, docs, embedder.info, previous.chunking, previous
        )
        report.removed = sorted(wanted)
        report.documents, report.chunks = len(docs), len(chunks)
    return report


def _still_there(source: str, old_docs: dict[str, DocumentEntry], fresh: set[str]) -> bool:
    """A duplicate only counts against a copy that stays indexed (not a renamed file)."""
    if source in fresh:
        return True
    entry = old_docs.get(source)
    return entry is not None and Path(entry.path).exists()


def _kept(
    index_dir: Path, previous: Manifest | None, embedder: Embedder, drop: set[str]
) -> tuple[list[Chunk], np.ndarray]:
    if previous is None or previous.chunk_count == 0:
        return [], np.zeros((0, embedder.info.dim), dtype=np.float32)
    old = StoredIndex(index_dir, previous)
    keep = [i for i, c in enumerate(old.chunks) if c.source not in drop]
    return [old.chunks[i] for i in keep], np.asarray(old.embeddings[keep], dtype=np.float32)
