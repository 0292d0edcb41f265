"""Documents to a persisted, updatable hybrid index (FAISS + BM25).

Knows nothing of language models or user interfaces; ``qa`` builds on it.
"""

from .config import ChunkingConfig, resolve_index_dir
from .embedding import Embedder, get_embedder
from .errors import SeedqaError
from .ingest import UpdateReport, ensure_index, ingest_batch, remove_documents, update_index
from .store import Chunk, Manifest, StoredIndex, load_index, read_manifest

__all__ = [
    "Chunk",
    "ChunkingConfig",
    "Embedder",
    "Manifest",
    "SeedqaError",
    "StoredIndex",
    "UpdateReport",
    "ensure_index",
    "get_embedder",
    "ingest_batch",
    "load_index",
    "read_manifest",
    "remove_documents",
    "resolve_index_dir",
    "update_index",
]
