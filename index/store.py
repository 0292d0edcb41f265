"""The persisted index: a manifest that commits immutable generation folders.

Layout of an index directory::

    manifest.json        the commit point: format, embedder, chunking, documents,
                         the current generation and a sha256 for each of its files
    gen-000007/          chunks.jsonl (+ chunks.offsets.npy), embeddings.npy,
                         vectors.faiss, bm25/
    .verified-gen-000007.json   size/mtime/ctime/inode of each file when its
                         sha256 last matched (see :func:`verify_files`)
    .lock                held by the one process allowed to write

A write builds a new ``gen-*`` folder beside the current one (files fsynced,
folder renamed into place), then replaces ``manifest.json`` atomically. Killed
at any moment, the directory still holds the previous manifest and the
generation it names, so readers never see half an update. The previous
generation is kept one round so a reader that loaded the old manifest a moment
ago can still open its files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ValidationError

from .config import FORMAT_VERSION, ChunkingConfig, EmbedderInfo
from .documents import sha256_file
from .errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexIncompatibleError,
)
from .keyword import KeywordIndex
from .vectors import FaissStore

MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
CHUNK_OFFSETS = "chunks.offsets.npy"  # byte offset of each line of chunks.jsonl, then the end
EMBEDDINGS = "embeddings.npy"
VECTORS = "vectors.faiss"
BM25 = "bm25"


@dataclass(frozen=True)
class Chunk:
    """A slice ``text[start:end]`` of one document, with its sentences' offsets."""

    source: str
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]


class DocumentEntry(BaseModel):
    sha256: str
    path: str
    chunks: int
    chars: int
    indexed_at: str


class Manifest(BaseModel):
    format_version: int
    embedder: EmbedderInfo
    chunking: ChunkingConfig
    faiss_version: str
    generation: str
    updated_at: str
    documents: dict[str, DocumentEntry]
    chunk_count: int
    files: dict[str, str]


@dataclass(frozen=True)
class Update:
    """One commit, for either store: the documents after it, what goes, what is new.

    ``documents`` is the whole document list after the update; ``drop`` the
    previously indexed sources whose chunks go (removed or replaced);
    ``chunks`` and ``vectors`` the new documents' chunks.
    """

    drop: set[str]
    documents: dict[str, DocumentEntry]
    chunks: list[Chunk]
    vectors: np.ndarray
    embedder: EmbedderInfo
    chunking: ChunkingConfig


def rebuild_command(index_options: str) -> str:
    """The advice that ends every refusal of an index; ``index_options`` names the index."""
    return f"Rebuild it with: seedqa index PATH... --rebuild {index_options}"


def rebuild_hint(index_dir: Path) -> str:
    return rebuild_command(f"--index-dir {index_dir}")


def read_manifest(index_dir: Path) -> Manifest | None:
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(
            f"The index manifest {path} is unreadable. {rebuild_hint(index_dir)}"
        ) from exc
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version != FORMAT_VERSION:
        raise IndexIncompatibleError(
            f"The index in {index_dir} has format version {version}; this seedqa reads "
            f"version {FORMAT_VERSION}. {rebuild_hint(index_dir)}"
        )
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise IndexCorruptError(
            f"The index manifest {path} is malformed. {rebuild_hint(index_dir)}"
        ) from exc
    return manifest


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file():
            with path.open("rb+") as fh:
                os.fsync(fh.fileno())
        else:
            _fsync_dir(path)
    _fsync_dir(folder)


def write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def write_lock(index_dir: Path, timeout_s: float = 120.0) -> Iterator[None]:
    """One writer at a time; a second one waits, then gives up with a clear message."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("a+") as fh:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() > deadline:
                    raise IndexBusyError(
                        f"Another seedqa process is updating {index_dir}; "
                        "try again when it has finished."
                    ) from exc
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def commit_generation(
    index_dir: Path,
    chunks: list[Chunk],
    embeddings: np.ndarray,
    documents: dict[str, DocumentEntry],
    embedder: EmbedderInfo,
    chunking: ChunkingConfig,
    previous: Manifest | None,
) -> Manifest:
    """Write a complete new generation and commit it. Call under :func:`write_lock`."""
    import faiss

    if embeddings.shape != (len(chunks), embedder.dim):
        raise ValueError("one embedding per chunk is required")
    number = int(previous.generation.split("-")[1]) + 1 if previous else 1
    name = f"gen-{number:06d}"
    final = index_dir / name
    staging = index_dir / f".{name}.tmp"
    for stale in (staging, final):
        if stale.exists():  # left by a writer killed before its commit
            shutil.rmtree(stale)
    staging.mkdir(parents=True)

    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    with (staging / CHUNKS).open("wb") as fh:
        for i, c in enumerate(chunks):
            record = {"source": c.source, "start": c.start, "end": c.end, "text": c.text}
            record["sentences"] = [list(s) for s in c.sentences]
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            offsets[i + 1] = offsets[i] + len(line)
    np.save(staging / CHUNK_OFFSETS, offsets)
    np.save(staging / EMBEDDINGS, np.ascontiguousarray(embeddings, dtype=np.float32))
    FaissStore.build(embeddings, embedder.dim).save(staging / VECTORS)
    KeywordIndex.build([c.text for c in chunks]).save(staging / BM25)
    _fsync_tree(staging)
    files = {
        p.relative_to(staging).as_posix(): sha256_file(p)
        for p in sorted(staging.rglob("*"))
        if p.is_file()
    }
    os.rename(staging, final)
    _fsync_dir(index_dir)

    manifest = Manifest(
        format_version=FORMAT_VERSION,
        embedder=embedder,
        chunking=chunking,
        faiss_version=faiss.__version__,
        generation=name,
        updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        documents=documents,
        chunk_count=len(chunks),
        files=files,
    )
    write_json_atomic(index_dir / MANIFEST, manifest.model_dump(mode="json"))
    _prune(index_dir, keep={name, previous.generation if previous else name})
    return manifest


def _prune(index_dir: Path, keep: set[str]) -> None:
    for path in index_dir.iterdir():
        name = path.name.lstrip(".").removesuffix(".tmp")
        if path.is_dir() and name.startswith("gen-") and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(VERIFIED_PREFIX):
            generation = path.name.removeprefix(VERIFIED_PREFIX).removesuffix(".json")
            if generation not in keep:
                path.unlink(missing_ok=True)


VERIFIED_PREFIX = ".verified-"
# A file changed within this long of its last write may keep its mtime (time
# stamps are coarse): such "racy" files are hashed until they are older.
RACY_NS = 2_000_000_000


def _fingerprint(st: os.stat_result) -> list[int]:
    # ctime cannot be set by users (utime() updates it too), so a write that
    # restores the mtime still changes the fingerprint.
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def verify_files(index_dir: Path, manifest: Manifest, *, full: bool = False) -> None:
    """Check the generation's files against the manifest's sha256s, cheaply when possible.

    Hashing every file on every load costs seconds at 100,000 chunks (hundreds
    of MB), so, like git's index, a file whose size, mtime, ctime and inode are
    those recorded when its sha256 last matched is taken as unchanged. Any
    write, truncation or replacement changes that fingerprint and the file is
    hashed again; missing files and files of the wrong size are always caught.
    What this no longer catches on every load is corruption below the file
    system (a bit rotting on disk without a write): that needs a full hash,
    which ``full=True`` still does. Fingerprints are recorded only for
    files older than :data:`RACY_NS`, so a write within the same clock tick as
    the original one cannot hide behind an unchanged mtime.
    """
    folder = index_dir / manifest.generation
    hint = rebuild_hint(index_dir)
    stamp_path = index_dir / f"{VERIFIED_PREFIX}{manifest.generation}.json"
    try:
        stamp = {} if full else json.loads(stamp_path.read_text(encoding="utf-8"))
        stamp = stamp if isinstance(stamp, dict) else {}
    except (OSError, ValueError):
        stamp = {}
    fresh: dict[str, list[int]] = {}
    now = time.time_ns()
    for rel, expected in manifest.files.items():
        path = folder / rel
        try:
            st = path.stat()
        except OSError:
            st = None
        if st is None or not path.is_file():
            raise IndexCorruptError(f"The index file {path} is missing. {hint}")
        fingerprint = _fingerprint(st)
        if stamp.get(rel) == fingerprint:
            fresh[rel] = fingerprint
            continue
        if sha256_file(path) != expected:
            raise IndexCorruptError(f"The index file {path} is damaged (checksum mismatch). {hint}")
        if now - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_NS:
            fresh[rel] = fingerprint
    if len(fresh) == len(manifest.files) and fresh != stamp:
        with contextlib.suppress(OSError):  # a read-only index is simply hashed each time
            write_json_atomic(stamp_path, fresh)


class StoredIndex:
    """A loaded, read-only generation: chunks, vectors and keyword index."""

    def __init__(self, index_dir: Path, manifest: Manifest, *, verify: bool | str = True) -> None:
        """``verify``: True checks files cheaply (:func:`verify_files`), "full" hashes
        every file, False trusts them."""
        self.index_dir = index_dir
        self.manifest = manifest
        self._rows_by_source: dict[str, list[int]] | None = None
        folder = index_dir / manifest.generation
        hint = rebuild_hint(index_dir)
        if verify:
            verify_files(index_dir, manifest, full=verify == "full")
        try:
            self.chunks = ChunkTable(folder / CHUNKS, folder / CHUNK_OFFSETS)
            self.embeddings = np.load(folder / EMBEDDINGS, mmap_mode="r")
            self.vectors = FaissStore.load(folder / VECTORS)
            self.keywords = KeywordIndex.load(folder / BM25, len(self.chunks))
        except (OSError, ValueError, RuntimeError, KeyError, json.JSONDecodeError) as exc:
            raise IndexCorruptError(f"The index in {index_dir} cannot be read. {hint}") from exc
        n = manifest.chunk_count
        if not (len(self.chunks) == n == self.vectors.size == self.embeddings.shape[0]):
            raise IndexCorruptError(f"The index in {index_dir} is inconsistent. {hint}")

    def chunks_of(self, source: str) -> list[int]:
        """The rows of one document, in order.

        The first call reads every chunk once (the table parses a line per
        access: at 100,000 chunks a scan takes seconds) and keeps each
        source's rows; the loaded generation never changes, so later calls
        are a lookup.
        """
        if self._rows_by_source is None:
            by_source: dict[str, list[int]] = {}
            for i, c in enumerate(self.chunks):
                by_source.setdefault(c.source, []).append(i)
            self._rows_by_source = by_source
        return list(self._rows_by_source.get(source, ()))

    def rows(self, ids: Sequence[int]) -> list[tuple[int, Chunk, np.ndarray]]:
        """The chunks and vectors of rows ``ids``, in that order (retrieval's one read)."""
        ids = [int(i) for i in ids]
        vectors = np.asarray(self.embeddings[ids], dtype=np.float32) if ids else []
        return [(i, self.chunks[i], v) for i, v in zip(ids, vectors, strict=True)]


class ChunkTable(Sequence[Chunk]):
    """The chunks of a generation, parsed on access from a memory-mapped chunks.jsonl.

    Parsing every line up front cost seconds at 100,000 chunks (most of an
    index load); a question needs four. The line offsets are stored beside the
    file, so ``table[i]`` is one slice and one ``json.loads``.
    """

    def __init__(self, path: Path, offsets_path: Path) -> None:
        self._offsets = np.load(offsets_path)
        if self._offsets.ndim != 1 or self._offsets.shape[0] < 1:
            raise ValueError("malformed chunk offsets")
        self._size = int(self._offsets.shape[0]) - 1
        with path.open("rb") as fh:
            length = os.fstat(fh.fileno()).st_size
            if length != int(self._offsets[-1]):
                raise ValueError("chunks.jsonl does not match its offsets")
            self._data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if length else b""

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._size))]
        if i < 0:
            i += self._size
        if not 0 <= i < self._size:
            raise IndexError(i)
        r = json.loads(self._data[int(self._offsets[i]) : int(self._offsets[i + 1])])
        sentences = tuple((int(s), int(e)) for s, e in r["sentences"])
        return Chunk(r["source"], int(r["start"]), int(r["end"]), r["text"], sentences)

    def __iter__(self) -> Iterator[Chunk]:
        for i in range(self._size):
            yield self[i]
