"""Where a collection's index lives: files on this machine, or a PostgreSQL server.

Everything above this module (ingestion, collections, retrieval, the UI, the
API, eval) talks to a store through :func:`open_store` and never asks which
kind it is:

- :class:`FileStore` (the default): FAISS + BM25 files committed by a
  manifest (:mod:`index.store`), for one person on one machine;
- :class:`index.pgstore.PgStore`: chosen by ``$SEEDQA_STORE`` (``--store`` sets
  it), for replicas that share one index.

A collection is still named by its folder (``collections.collection_dir``):
with a server store that folder only says which collection is meant (the
default one, or ``<index>/collections/NAME``) and holds local state such as
upload staging, while the rows live in the database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import COLLECTIONS_FOLDER, EmbedderInfo, resolve_index_dir
from .errors import IndexIncompatibleError, IndexMissingError, InputError
from .store import (
    MANIFEST,
    Chunk,
    Manifest,
    StoredIndex,
    Update,
    commit_generation,
    rebuild_command,
    write_lock,
)
from .store import read_manifest as read_file_manifest

STORE_ENV = "SEEDQA_STORE"
DEFAULT_COLLECTION = "default"


class IndexView(Protocol):
    """What retrieval reads: rows found by vector or keyword search, then fetched."""

    manifest: Manifest
    chunks: Sequence[Chunk]

    def rows(self, ids: Sequence[int]) -> list[tuple[int, Chunk, np.ndarray]]: ...

    def chunks_of(self, source: str) -> list[int]: ...


class Store(Protocol):
    incremental: bool

    @property
    def location(self) -> str: ...
    @property
    def index_options(self) -> str: ...
    def stamp(self) -> object: ...
    def exists(self) -> bool: ...
    def manifest(self) -> Manifest | None: ...
    def load(self, manifest: Manifest, *, verify: bool | str = True) -> IndexView: ...
    def lock(self) -> contextlib.AbstractContextManager[None]: ...
    def create(self) -> None: ...
    def delete(self) -> None: ...
    def commit(self, previous: Manifest | None, update: Update) -> Manifest: ...


class FileStore:
    """The embedded store in one folder (see :mod:`index.store` for its layout)."""

    # A commit writes a whole new generation, so an ingestion commits once.
    incremental = False

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    @property
    def location(self) -> str:
        return str(self.index_dir)

    @property
    def index_options(self) -> str:
        return f"--index-dir {self.index_dir}"

    def __repr__(self) -> str:
        return f"FileStore({self.index_dir})"

    def stamp(self) -> object:
        try:
            st = (self.index_dir / MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def exists(self) -> bool:
        return self.index_dir.is_dir()

    def manifest(self) -> Manifest | None:
        return read_file_manifest(self.index_dir)

    def load(self, manifest: Manifest, *, verify: bool | str = True) -> StoredIndex:
        return StoredIndex(self.index_dir, manifest, verify=verify)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return write_lock(self.index_dir)

    def create(self) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)

    def delete(self) -> None:
        path = self.index_dir
        with write_lock(path):  # no writer is half-way through it
            doomed = path.with_name(f".deleting-{path.name}")
            shutil.rmtree(doomed, ignore_errors=True)
            path.rename(doomed)  # gone from listings at once, even if the removal below is cut
        shutil.rmtree(doomed, ignore_errors=True)

    def commit(self, previous: Manifest | None, update: Update) -> Manifest:
        """Write the kept chunks (all but ``update.drop``'s) and the new ones as a generation."""
        kept_chunks, kept_vectors = self._kept(previous, update.embedder, update.drop)
        all_vectors = np.concatenate([kept_vectors, update.vectors]).astype(np.float32)
        return commit_generation(
            self.index_dir,
            kept_chunks + list(update.chunks),
            all_vectors,
            update.documents,
            update.embedder,
            update.chunking,
            previous,
        )

    def _kept(
        self, previous: Manifest | None, embedder: EmbedderInfo, drop: set[str]
    ) -> tuple[list[Chunk], np.ndarray]:
        if previous is None or previous.chunk_count == 0:
            return [], np.zeros((0, embedder.dim), dtype=np.float32)
        old = StoredIndex(self.index_dir, previous)
        keep = [i for i, c in enumerate(old.chunks) if c.source not in drop]
        return [old.chunks[i] for i in keep], np.asarray(old.embeddings[keep], dtype=np.float32)


def store_url() -> str | None:
    """The server store's URL when one is configured (``--store`` / ``$SEEDQA_STORE``)."""
    return os.environ.get(STORE_ENV) or None


def _checked(url: str, given_as: str) -> str:
    from .pgstore import is_store_url

    if not is_store_url(url):
        raise InputError(
            f"{given_as} {url!r} is not a store URL: give postgresql://USER@HOST:PORT/DATABASE, "
            f"or leave it out for the files in --index-dir."
        )
    return url


def use_store(url: str | None) -> None:
    """Point this process (and the processes it starts) at ``url``, or back at files."""
    if url is None:
        os.environ.pop(STORE_ENV, None)
    else:
        os.environ[STORE_ENV] = _checked(url, "--store")


def collection_of(index_dir: Path) -> str:
    """The collection a folder names: ``<index>/collections/NAME`` is NAME, else the default."""
    if index_dir.parent.name == COLLECTIONS_FOLDER:
        return index_dir.name
    return DEFAULT_COLLECTION


def open_store(index_dir: str | Path | None = None) -> Store:
    path = resolve_index_dir(index_dir)
    url = store_url()
    if url is None:
        return FileStore(path)
    from .pgstore import PgStore

    return PgStore(_checked(url, f"${STORE_ENV}"), collection_of(path))


def read_manifest(index_dir: str | Path | None = None) -> Manifest | None:
    """The collection's committed state (documents, counts), or None when it has none yet."""
    return open_store(index_dir).manifest()


def load_index(
    index_dir: str | Path | None, embedder: EmbedderInfo, *, verify: bool | str = True
) -> IndexView:
    return load_from(open_store(index_dir), embedder, verify=verify)


def load_from(store: Store, embedder: EmbedderInfo, *, verify: bool | str = True) -> IndexView:
    """The store's committed index, checked against ``embedder``; a clear error if none."""
    manifest = store.manifest()
    if manifest is None:
        raise IndexMissingError(
            f"No index in {store.location}. Build one first: seedqa index seeds/ "
            f"(or seedqa index YOUR_FOLDER {store.index_options})."
        )
    check_compatible(store, manifest, embedder)
    return store.load(manifest, verify=verify)


def check_compatible(store: Store, manifest: Manifest, embedder: EmbedderInfo) -> None:
    """Refuse an index built by another embedder, with the command that rebuilds it."""
    if manifest.embedder != embedder:

        def describe(e: EmbedderInfo) -> str:
            return f"{e.name} ({e.dim} dimensions, {e.backend} backend)"

        raise IndexIncompatibleError(
            f"The index in {store.location} was built with {describe(manifest.embedder)}; "
            f"this seedqa uses {describe(embedder)}. {rebuild_command(store.index_options)} "
            "(or set SEEDQA_EMBEDDER to the backend it was built with)"
        )
