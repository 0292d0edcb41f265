"""Documents to a persisted, updatable hybrid index (FAISS + BM25 files, or PostgreSQL).

Knows nothing of language models or user interfaces; ``qa`` builds on it.
"""

from .config import ChunkingConfig, resolve_index_dir
from .embedding import Embedder, get_embedder
from .errors import SeedqaError
from .ingest import UpdateReport, ensure_index, ingest_batch, remove_documents, update_index
from .store import Chunk, Manifest, StoredIndex
from .stores import IndexView, load_index, open_store, read_manifest, store_url, use_store

__all__ = [
    "Chunk",
    "ChunkingConfig",
    "Embedder",
    "IndexView",
    "Manifest",
    "SeedqaError",
    "StoredIndex",
    "UpdateReport",
    "ensure_index",
    "get_embedder",
    "ingest_batch",
    "load_index",
    "open_store",
    "read_manifest",
    "remove_documents",
    "resolve_index_dir",
    "store_url",
    "update_index",
    "use_store",
]
