"""Named collections: separate sets of documents, each its own index.

The default collection is the index folder itself (``--index-dir``,
``$SEEDQA_INDEX_DIR`` or ``.seedqa/index``), so everything written before
collections existed keeps working. A named collection lives in
``<index folder>/collections/<name>/`` and is an index like any other, with the
same crash safety (each commits by its own manifest). Names are checked
before they touch the file system: lower-case letters, digits, ``-`` and
``_``, so no name can climb out of its folder.

With a server store (``--store``) the same names are rows of the database's
collection table, shared by every replica; the folders then hold only local
state (upload staging), see :mod:`index.stores`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .config import COLLECTIONS_FOLDER, resolve_index_dir
from .errors import InputError, SeedqaError
from .stores import DEFAULT_COLLECTION, FileStore, open_store, store_url

FOLDER = COLLECTIONS_FOLDER
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class CollectionMissingError(SeedqaError):
    """A collection that does not exist was named."""


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    path: Path
    documents: int
    chunks: int
    updated_at: str | None
    embedder: str | None = None


def check_name(name: str) -> str:
    """``name`` if it is a valid collection name; a one-line InputError otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"{name!r} is not a collection name: use 1-63 lower-case letters, digits, "
            "'-' or '_', starting with a letter or digit."
        )
    return name


def collection_dir(name: str | None = None, index_dir: str | Path | None = None) -> Path:
    """Where collection ``name`` lives (None or "default": the index folder itself)."""
    root = resolve_index_dir(index_dir)
    if name is None or name == DEFAULT_COLLECTION:
        return root
    return root / FOLDER / check_name(name)


def exists(name: str | None, index_dir: str | Path | None = None) -> bool:
    if name is None or name == DEFAULT_COLLECTION:
        return True
    return open_store(collection_dir(name, index_dir)).exists()


def require(name: str | None, index_dir: str | Path | None = None) -> Path:
    """The folder of an existing collection; CollectionMissingError naming the others."""
    path = collection_dir(name, index_dir)
    if not exists(name, index_dir):
        known = ", ".join(c.name for c in list_collections(index_dir))
        raise CollectionMissingError(
            f"No collection named {name!r} (there are: {known}). "
            f"Create it: seedqa index PATH --collection {name}"
        )
    return path


def create(name: str, index_dir: str | Path | None = None) -> Path:
    """Make an empty collection (no error if it exists)."""
    path = collection_dir(check_name(name), index_dir)
    path.mkdir(parents=True, exist_ok=True)  # local state (upload staging) for either store
    open_store(path).create()
    return path


def delete(name: str, index_dir: str | Path | None = None) -> None:
    """Remove a named collection and its index; the default one cannot be deleted."""
    if name == DEFAULT_COLLECTION:
        raise InputError("The default collection cannot be deleted; remove its documents instead.")
    path = require(name, index_dir)
    store = open_store(path)
    store.delete()
    if not isinstance(store, FileStore) and path.is_dir():
        FileStore(path).delete()  # its local state too


def info(name: str, index_dir: str | Path | None = None) -> CollectionInfo:
    path = require(name, index_dir)
    manifest = open_store(path).manifest()
    if manifest is None:
        return CollectionInfo(name, path, 0, 0, None)
    return CollectionInfo(
        name,
        path,
        len(manifest.documents),
        manifest.chunk_count,
        str(manifest.updated_at),
        manifest.embedder.name,
    )


def list_collections(index_dir: str | Path | None = None) -> list[CollectionInfo]:
    """The default collection first, then the named ones by name."""
    root = resolve_index_dir(index_dir)
    names = [DEFAULT_COLLECTION]
    if store_url() is not None:
        from .pgstore import collection_names

        names += [n for n in collection_names(store_url()) if n != DEFAULT_COLLECTION]
    else:
        folder = root / FOLDER
        if folder.is_dir():
            names += sorted(
                p.name for p in folder.iterdir() if p.is_dir() and _NAME.fullmatch(p.name)
            )
    return [info(n, index_dir) for n in names]
