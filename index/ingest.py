"""Incremental indexing: documents in, a committed generation out.

Documents are compared with the manifest by sha256: unchanged ones keep their
chunks and embeddings (nothing is re-embedded), changed ones are replaced,
files gone from an indexed folder are removed. The store (files or PostgreSQL,
:mod:`index.stores`) commits the result; reading, chunking and embedding run
here or on Dask workers (:mod:`index.distributed`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .batch import BatchResult, ingest_batch, ingest_files
from .config import ChunkingConfig, resolve_index_dir
from .documents import SourceFile, discover, sha256_file
from .embedding import Embedder, get_embedder
from .errors import InputError
from .store import DocumentEntry, Manifest, Update
from .stores import Store, check_compatible, open_store

__all__ = ["UpdateReport", "ensure_index", "ingest_batch", "remove_documents", "update_index"]

log = logging.getLogger(__name__)


@dataclass
class UpdateReport:
    """What one ``seedqa index`` run did, for the CLI and the UI to show."""

    index_dir: Path
    location: str = ""  # where it was written (the folder, or the database and collection)
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
    if open_store(path).manifest() is not None or not DEFAULT_CORPUS.is_dir():
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
    workers: int | str | None = None,
) -> UpdateReport:
    """Bring the index up to date with ``paths`` (folders are scanned recursively).

    ``on_file(source, status)`` is told about each file as it is handled, for a
    UI that shows per-file messages. ``workers`` (a number of local processes
    or a Dask scheduler address) reads, chunks and embeds on Dask workers; a
    server store then commits each batch as it arrives, one transaction each.
    """
    index_dir = resolve_index_dir(index_dir)
    store = open_store(index_dir)
    embedder = embedder or get_embedder()
    progress = sys.stderr.isatty() if progress is None else progress
    paths = list(paths)
    if not paths:
        raise InputError("Nothing to index: give at least one file or folder.")
    files, unsupported = discover(paths)
    report = UpdateReport(index_dir=index_dir, location=store.location, skipped=list(unsupported))
    if not files:
        where = ", ".join(str(p) for p in paths)
        raise InputError(
            f"No supported documents in {where} (looked for .txt, .md, .html, .pdf, .docx)."
        )
    notify = on_file or (lambda source, status: None)

    with store.lock():
        previous = None if rebuild else store.manifest()
        if previous is not None:
            check_compatible(store, previous, embedder.info)
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
        timings["check"] = time.perf_counter() - t_start
        roots = [Path(p).expanduser().resolve() for p in paths]
        gone = [
            source
            for source, entry in old_docs.items()
            if source not in seen
            and any(r.is_dir() and Path(entry.path).is_relative_to(r) for r in roots)
        ]
        if not (to_read or gone) and previous is not None:
            report.documents, report.chunks = len(old_docs), previous.chunk_count
            return report

        docs_out = {s: e for s, e in old_docs.items() if s not in gone}
        for source in gone:
            report.removed.append(source)
            notify(source, "removed")
        drop: set[str] = set(gone)
        pending: list[BatchResult] = []
        batches = (
            # Everything in this process as one batch: one embedding pass, one progress bar.
            [ingest_files(to_read, chunking, embedder, progress=progress, timings=timings)]
            if workers is None
            else _worker_batches(to_read, workers, chunking, embedder, progress)
        )
        t_index = 0.0
        for batch in batches:
            drop |= _take(batch, old_docs, docs_out, report, notify)
            if workers is not None and store.incremental:
                t0 = time.perf_counter()
                previous = _commit(store, previous, drop, docs_out, [batch], embedder, chunking)
                t_index += time.perf_counter() - t0
                drop = set()
            else:
                pending.append(batch)
        t0 = time.perf_counter()
        if any(b.documents for b in pending) or drop or previous is None:
            previous = _commit(store, previous, drop, docs_out, pending, embedder, chunking)
        timings["index"] = t_index + time.perf_counter() - t0
        report.embedded_chunks = sum(d.chunks for s, d in docs_out.items() if s in fresh)
        report.documents, report.chunks = len(docs_out), previous.chunk_count
        return report


def _worker_batches(
    to_read: list[tuple[SourceFile, str]],
    workers: int | str,
    chunking: ChunkingConfig,
    embedder: Embedder,
    progress: bool,
) -> Iterator[BatchResult]:
    from .distributed import client_for, map_batches

    if not to_read:
        return
    with (
        client_for(workers) as client,
        tqdm(total=len(to_read), desc="Indexing", unit="file", disable=not progress) as bar,
    ):
        for batch in map_batches(client, to_read, chunking, embedder.info.backend):
            bar.update(len(batch.documents) + len(batch.skipped))
            yield batch


def _take(
    batch: BatchResult,
    old_docs: dict[str, DocumentEntry],
    docs_out: dict[str, DocumentEntry],
    report: UpdateReport,
    notify: Callable[[str, str], None],
) -> set[str]:
    """Record a batch's documents in ``docs_out``; the old sources it replaces or drops."""
    drop: set[str] = set()
    for source, reason in batch.skipped:
        report.skipped.append((source, reason))
        notify(source, f"skipped: {reason}")
        if source in old_docs:  # never answer from a version that changed
            drop.add(source)
            docs_out.pop(source, None)
            report.removed.append(source)
            notify(source, "removed")
    counts: dict[str, int] = {}
    for c in batch.chunks:
        counts[c.source] = counts.get(c.source, 0) + 1
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for source, digest, path, chars in batch.documents:
        replaced = source in old_docs
        (report.updated if replaced else report.added).append(source)
        notify(source, "updated" if replaced else "added")
        if replaced:
            drop.add(source)
        docs_out[source] = DocumentEntry(
            sha256=digest, path=path, chunks=counts.get(source, 0), chars=chars, indexed_at=now
        )
    return drop


def _commit(
    store: Store,
    previous: Manifest | None,
    drop: set[str],
    docs_out: dict[str, DocumentEntry],
    batches: list[BatchResult],
    embedder: Embedder,
    chunking: ChunkingConfig,
) -> Manifest:
    """Commit ``batches``' chunks, dropping ``drop``'s, with ``docs_out`` as the documents."""
    chunks = [c for b in batches for c in b.chunks]
    dim = embedder.info.dim
    vectors = (
        np.concatenate([b.vectors.reshape(-1, dim) for b in batches]).astype(np.float32)
        if batches
        else np.zeros((0, dim), dtype=np.float32)
    )
    update = Update(set(drop), dict(docs_out), chunks, vectors, embedder.info, chunking)
    return store.commit(previous, update)


def remove_documents(sources: Iterable[str], index_dir: str | Path | None = None) -> UpdateReport:
    """Drop documents from the index by their ``source`` name."""
    index_dir = resolve_index_dir(index_dir)
    store = open_store(index_dir)
    embedder = get_embedder()
    report = UpdateReport(index_dir=index_dir, location=store.location)
    with store.lock():
        previous = store.manifest()
        if previous is None:
            raise InputError(f"No index in {store.location}: nothing to remove.")
        check_compatible(store, previous, embedder.info)
        wanted = set(sources)
        unknown = sorted(wanted - previous.documents.keys())
        if unknown:
            raise InputError(
                f"Not in the index: {', '.join(unknown)}. "
                "See `seedqa status` for the indexed documents."
            )
        docs = {s: e for s, e in previous.documents.items() if s not in wanted}
        manifest = _commit(store, previous, wanted, docs, [], embedder, previous.chunking)
        report.removed = sorted(wanted)
        report.documents, report.chunks = len(docs), manifest.chunk_count
    return report


def _still_there(source: str, old_docs: dict[str, DocumentEntry], fresh: set[str]) -> bool:
    """A duplicate only counts against a copy that stays indexed (not a renamed file)."""
    if source in fresh:
        return True
    entry = old_docs.get(source)
    return entry is not None and Path(entry.path).exists()
