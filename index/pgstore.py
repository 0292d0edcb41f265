"""The server store: every collection in one PostgreSQL database with pgvector.

Chosen by ``--store postgresql://...`` or ``$SEEDQA_STORE``; the embedded store
(:mod:`index.store`) stays the default. Tables (created on first use)::

    seedqa_collections  name, generation (bumped by every commit), embedder,
                        chunking, chunk count and total length (for BM25)
    seedqa_documents    per collection and source: sha256, path, chunk and char counts
    seedqa_chunks       text, document offsets, sentence offsets, embedding
                        vector(384) (stored inline) with an HNSW index (inner
                        product), and a stored tsvector (PostgreSQL's English
                        parser and Snowball stemmer, stop words dropped)
    seedqa_postings     (collection, term, chunk) -> term count and chunk length,
                        derived from the tsvectors: BM25's inverted index
    seedqa_terms        per collection and term: document frequency

Why the design holds up past one machine:

- **One transaction per update.** An add, replace or remove deletes the old
  rows and copies in the new ones in one transaction, so a reader sees the old
  index or the new one, never a mix; a writer killed at any point leaves the
  old one (PostgreSQL rolls an unfinished transaction back). Writers of one
  collection take a session advisory lock, which the server drops when a
  killed writer's connection goes.
- **Replicas need no restart.** A process answers from the rows as they are;
  the collection's ``generation`` (one indexed row read per question) tells the
  answering side when to drop what it cached.
- **Nothing held in memory**: a search is an index scan in the server; a
  process keeps only the chunks of its last answers.

Keyword search is BM25 with the embedded store's formula (bm25s' defaults:
k1 1.5, b 0.75, Lucene's idf), so hybrid retrieval fuses the same kind of
ranking on either store. The terms come from the stored tsvectors, and the
scores from ``seedqa_postings``, an index-only range scan per query term.
Why not the tsvector's own GIN index: ``ts_rank`` has no idf, and scoring
BM25 from the GIN index's candidates means unnesting each candidate's
tsvector, measured at about 50 µs a row (7.6 ms for a common word at 1,800
chunks; thousands of rows at 100,000), where the postings take one index
entry per matching row.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from .config import FORMAT_VERSION, ChunkingConfig, EmbedderInfo
from .errors import IndexBusyError, IndexIncompatibleError, SeedqaError
from .store import Chunk, DocumentEntry, Manifest, Update, rebuild_command

DIM = 384
EF_SEARCH = 128  # recall@10 0.977 at 92k chunks (FAISS at 96: 0.976); 96 gave 0.966
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128
# A commit that writes this many chunks (and a tenth of the collection) refreshes
# the planner's statistics; autovacuum keeps up with smaller ones.
ANALYZE_AFTER = 500
BM25_K1 = 1.5
BM25_B = 0.75
_LOCK_NAMESPACE = 0x5EED  # pg_advisory_lock(namespace, hashtext(collection))

_SCHEMA = f"""
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS seedqa_collections (
    name text PRIMARY KEY,
    generation bigint NOT NULL DEFAULT 0,
    format_version int NOT NULL,
    embedder jsonb,
    chunking jsonb,
    updated_at text,
    chunk_count bigint NOT NULL DEFAULT 0,
    total_length bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS seedqa_documents (
    collection text NOT NULL REFERENCES seedqa_collections (name) ON DELETE CASCADE,
    source text NOT NULL,
    sha256 text NOT NULL,
    path text NOT NULL,
    chunks int NOT NULL,
    chars int NOT NULL,
    indexed_at text NOT NULL,
    PRIMARY KEY (collection, source)
);
CREATE TABLE IF NOT EXISTS seedqa_chunks (
    id bigserial PRIMARY KEY,
    collection text NOT NULL,
    source text NOT NULL,
    start_char int NOT NULL,
    end_char int NOT NULL,
    text text NOT NULL,
    sentences int[] NOT NULL,
    embedding vector({DIM}) NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    length int GENERATED ALWAYS AS (seedqa_length(to_tsvector('english', text))) STORED,
    FOREIGN KEY (collection, source)
        REFERENCES seedqa_documents (collection, source) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS seedqa_chunks_embedding ON seedqa_chunks
    USING hnsw (embedding vector_ip_ops)
    WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION});
-- Vectors inline in the row: TOAST would fetch each one from a side table.
ALTER TABLE seedqa_chunks ALTER COLUMN embedding SET STORAGE PLAIN;
CREATE INDEX IF NOT EXISTS seedqa_chunks_source ON seedqa_chunks (collection, source);
CREATE TABLE IF NOT EXISTS seedqa_postings (
    collection text NOT NULL,
    term text NOT NULL,
    chunk_id bigint NOT NULL,
    tf int NOT NULL,
    length int NOT NULL,
    PRIMARY KEY (collection, term, chunk_id) INCLUDE (tf, length)
);
CREATE TABLE IF NOT EXISTS seedqa_terms (
    collection text NOT NULL REFERENCES seedqa_collections (name) ON DELETE CASCADE,
    term text NOT NULL,
    df int NOT NULL,
    PRIMARY KEY (collection, term)
);
"""

# Number of lexeme occurrences in a tsvector: BM25's document length.
_LENGTH_FUNCTION = """
CREATE OR REPLACE FUNCTION seedqa_length(v tsvector) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT coalesce(sum(coalesce(array_length(positions, 1), 1)), 0)::int FROM unnest(v) $$;
"""

# The query's terms (stemmed as the stored tsvectors are) that occur in the
# collection, with their document frequencies; N and the mean length for BM25.
_TERMS_SQL = """
SELECT t.term, t.df, c.chunk_count, c.total_length
FROM seedqa_collections c JOIN seedqa_terms t ON t.collection = c.name
WHERE c.name = %(c)s AND t.term = ANY (tsvector_to_array(to_tsvector('english', %(q)s)))
"""

# BM25 from the postings of the query's terms (an index-only range scan per term).
_KEYWORD_SQL = """
SELECT p.chunk_id, sum(
    q.idf * p.tf / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.length / %(avgdl)s))
) AS score
FROM unnest(%(terms)s::text[], %(idfs)s::float8[]) AS q (term, idf)
JOIN seedqa_postings p ON p.collection = %(c)s AND p.term = q.term
GROUP BY p.chunk_id
ORDER BY score DESC, p.chunk_id
LIMIT %(k)s
"""

# A chunk's postings: each term of its tsvector with its count and the chunk's length.
_POSTINGS_OF = """
SELECT ch.collection, u.term, ch.id, greatest(coalesce(cardinality(u.positions), 1), 1),
       ch.length
FROM seedqa_chunks ch, unnest(ch.tsv) AS u (term, positions, weights)
WHERE ch.collection = %s AND ch.source = ANY(%s)
"""


_CREATE_COLLECTION = (
    "INSERT INTO seedqa_collections (name, format_version) VALUES (%s, %s) "
    "ON CONFLICT (name) DO NOTHING"
)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def is_store_url(value: str) -> bool:
    return bool(re.match(r"^postgres(ql)?://", value or ""))


class StoreUnavailableError(SeedqaError):
    """The configured PostgreSQL store cannot be reached or used."""


def _connect(url: str):
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise StoreUnavailableError(
            "The PostgreSQL store needs psycopg and pgvector: "
            "pip install 'psycopg[binary]' pgvector"
        ) from exc
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreUnavailableError(
            f"Cannot reach the PostgreSQL store at {redact(url)}: {reason}. "
            "Check --store / SEEDQA_STORE and that the server is running."
        ) from exc
    _ensure_schema(conn, url)
    register_vector(conn)
    conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
    # Other collections' rows share the HNSW graph: keep scanning until k rows of
    # this collection are found instead of filtering one fixed candidate list
    # (strict order: the fusion reads ranks, so they must be in distance order).
    conn.execute("SET hnsw.iterative_scan = strict_order")
    return conn


_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


def _ensure_schema(conn, url: str) -> None:
    import psycopg

    with _schema_lock:
        if url in _schema_ready:
            return
        try:
            with conn.transaction():
                # Replicas starting together must not race CREATE EXTENSION/TABLE.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_NAMESPACE,))
                conn.execute(_LENGTH_FUNCTION)
                conn.execute(_SCHEMA)
        except psycopg.errors.FeatureNotSupported as exc:
            raise StoreUnavailableError(_no_pgvector(url)) from exc
        except psycopg.errors.UndefinedFile as exc:
            raise StoreUnavailableError(_no_pgvector(url)) from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreUnavailableError(
                f"The database at {redact(url)} lacks seedqa's tables and this user may not "
                "create them: run seedqa once as a user who may (CREATE EXTENSION vector needs "
                "a superuser or a trusted extension)."
            ) from exc
        _schema_ready.add(url)


def _no_pgvector(url: str) -> str:
    return (
        f"The PostgreSQL server at {redact(url)} has no pgvector extension. Install it "
        "(tools/install_postgres.sh on Debian, or your platform's pgvector package), then "
        "try again."
    )


class _Shared:
    """One autocommit connection per process and URL, used under a lock.

    Answers are serialised per process already, and the other queries (status,
    lists) are single rows: one connection is enough and a pool would only add
    a dependency. A broken connection (server restarted) is reopened once.
    """

    _all: ClassVar[dict[str, _Shared]] = {}
    _all_lock = threading.Lock()
    # Connections a forked child inherited: kept referenced, never used or
    # closed (closing one would end the parent's session on the shared socket).
    _inherited: ClassVar[list] = []

    @classmethod
    def forget_after_fork(cls) -> None:
        for shared in cls._all.values():
            shared.forget_connection()

    def forget_connection(self) -> None:
        """In a forked child: stop using the parent's connection (kept, not closed)."""
        if self._conn is not None:
            self._inherited.append(self._conn)
            self._conn = None
        self.lock = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self._conn = None

    @classmethod
    def get(cls, url: str) -> _Shared:
        with cls._all_lock:
            if url not in cls._all:
                cls._all[url] = cls(url)
            return cls._all[url]

    def query(self, sql: str, params: object = None) -> list[tuple]:
        import psycopg

        with self.lock:
            for attempt in (0, 1):
                if self._conn is None or self._conn.closed:
                    self._conn = _connect(self.url)
                try:
                    cur = self._conn.execute(sql, params)
                    return cur.fetchall() if cur.description else []
                except psycopg.OperationalError as exc:
                    self._conn = None
                    if attempt:
                        raise StoreUnavailableError(
                            f"Lost the PostgreSQL store at {redact(self.url)}: {exc}"
                        ) from exc
        raise AssertionError("unreachable")


os.register_at_fork(after_in_child=_Shared.forget_after_fork)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class PgStore:
    """One collection of the server store; the interface of :class:`index.stores.FileStore`."""

    # Each commit changes only the documents it names (the embedded store
    # rewrites a whole generation), so a long ingestion may commit per batch.
    incremental = True

    def __init__(self, url: str, collection: str) -> None:
        self.url = url
        self.collection = collection
        self.db = _Shared.get(url)

    @property
    def location(self) -> str:
        return f"{redact(self.url)} (collection {self.collection})"

    @property
    def index_options(self) -> str:
        """The options that name this collection on the command line."""
        return f"--store URL --collection {self.collection}"

    def __repr__(self) -> str:
        return f"PgStore({self.location})"

    # reading

    def stamp(self) -> object:
        rows = self.db.query(
            "SELECT generation FROM seedqa_collections WHERE name = %s", (self.collection,)
        )
        return rows[0][0] if rows else None

    def exists(self) -> bool:
        return self.stamp() is not None

    def manifest(self) -> Manifest | None:
        rows = self.db.query(
            "SELECT generation, format_version, embedder, chunking, updated_at, chunk_count "
            "FROM seedqa_collections WHERE name = %s",
            (self.collection,),
        )
        if not rows or rows[0][0] == 0:
            return None
        generation, version, embedder, chunking, updated_at, chunk_count = rows[0]
        if version != FORMAT_VERSION:
            raise IndexIncompatibleError(
                f"The collection {self.location} has format version {version}; this seedqa "
                f"reads version {FORMAT_VERSION}. {rebuild_command(self.index_options)}"
            )
        docs = self.db.query(
            "SELECT source, sha256, path, chunks, chars, indexed_at FROM seedqa_documents "
            "WHERE collection = %s ORDER BY source",
            (self.collection,),
        )
        return Manifest(
            format_version=version,
            embedder=EmbedderInfo.model_validate(embedder),
            chunking=ChunkingConfig.model_validate(chunking),
            faiss_version="pgvector",
            generation=f"pg-{generation:06d}",
            updated_at=updated_at,
            documents={
                s: DocumentEntry(sha256=h, path=p, chunks=n, chars=c, indexed_at=t)
                for s, h, p, n, c, t in docs
            },
            chunk_count=chunk_count,
            files={},
        )

    def load(self, manifest: Manifest, *, verify: bool | str = True) -> PgIndex:
        """``verify`` is for the file store's checksums; the server keeps its own."""
        return PgIndex(self, manifest)

    # writing

    @contextlib.contextmanager
    def lock(self, timeout_s: float = 120.0) -> Iterator[None]:
        """One writer per collection; the lock goes with the writer's connection."""
        conn = _connect(self.url)
        try:
            deadline = time.monotonic() + timeout_s
            while not conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, self.collection)
            ).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise IndexBusyError(
                        f"Another seedqa process is updating {self.location}; "
                        "try again when it has finished."
                    )
                time.sleep(0.1)
            yield
        finally:
            conn.close()

    def create(self) -> None:
        self.db.query(_CREATE_COLLECTION, (self.collection, FORMAT_VERSION))

    def delete(self) -> None:
        with self.lock():
            self.db.query("DELETE FROM seedqa_collections WHERE name = %s", (self.collection,))

    def commit(self, previous: Manifest | None, update: Update) -> Manifest:
        """Apply one update in one transaction. Call under :meth:`lock`.

        Rows are deleted for ``update.drop`` (or for everything when
        ``previous`` is None: a rebuild) and inserted for the documents that
        are new or replaced, with the update's chunks and vectors.
        """
        chunks = update.chunks
        if update.embedder.dim != DIM:
            raise SeedqaError(
                f"The PostgreSQL store holds {DIM}-dimensional vectors; "
                f"{update.embedder.name} gives {update.embedder.dim}."
            )
        if update.vectors.shape != (len(chunks), DIM):
            raise ValueError("one embedding per chunk is required")
        kept = set(previous.documents) - update.drop if previous is not None else set()
        fresh = {s: e for s, e in update.documents.items() if s not in kept}
        if any(c.source not in fresh for c in chunks):
            raise ValueError("every new chunk must belong to a new or replaced document")
        # Autocommit, so conn.transaction() is a real BEGIN ... COMMIT, not a savepoint.
        conn = _connect(self.url)
        try:
            with conn.transaction():
                c = self.collection
                conn.execute(_CREATE_COLLECTION, (c, FORMAT_VERSION))
                conn.execute("SELECT 1 FROM seedqa_collections WHERE name = %s FOR UPDATE", (c,))
                gone = (
                    list(update.drop & set(previous.documents)) if previous is not None else None
                )  # None: all of them
                self._subtract_terms(conn, gone)
                if gone is None:
                    conn.execute("DELETE FROM seedqa_documents WHERE collection = %s", (c,))
                elif gone:
                    conn.execute(
                        "DELETE FROM seedqa_documents WHERE collection = %s AND source = ANY(%s)",
                        (c, gone),
                    )
                if fresh:
                    with conn.cursor().copy(
                        "COPY seedqa_documents (collection, source, sha256, path, chunks, chars, "
                        "indexed_at) FROM STDIN"
                    ) as copy:
                        for s, e in fresh.items():
                            copy.write_row(
                                (c, s, e.sha256, e.path, e.chunks, e.chars, e.indexed_at)
                            )
                if chunks:
                    self._copy_chunks(conn, chunks, update.vectors)
                    # The new postings, and the document frequencies counted from
                    # what was inserted (one posting per term and chunk).
                    conn.execute(
                        "WITH added AS (INSERT INTO seedqa_postings "
                        "(collection, term, chunk_id, tf, length) "
                        + _POSTINGS_OF
                        + " RETURNING term) "
                        "INSERT INTO seedqa_terms (collection, term, df) "
                        "SELECT %s, term, count(*) FROM added GROUP BY term "
                        "ON CONFLICT (collection, term) "
                        "DO UPDATE SET df = seedqa_terms.df + excluded.df",
                        (c, list(fresh), c),
                    )
                conn.execute("DELETE FROM seedqa_terms WHERE collection = %s AND df <= 0", (c,))
                total = conn.execute(
                    "UPDATE seedqa_collections SET generation = generation + 1, "
                    "format_version = %s, embedder = %s, chunking = %s, updated_at = %s, "
                    "chunk_count = (SELECT count(*) FROM seedqa_chunks WHERE collection = %s), "
                    "total_length = (SELECT coalesce(sum(length), 0) FROM seedqa_chunks "
                    "WHERE collection = %s) WHERE name = %s RETURNING chunk_count",
                    (
                        FORMAT_VERSION,
                        json.dumps(update.embedder.model_dump(mode="json")),
                        json.dumps(update.chunking.model_dump(mode="json")),
                        _now(),
                        c,
                        c,
                        c,
                    ),
                ).fetchone()[0]
            if len(chunks) >= max(ANALYZE_AFTER, total // 10):
                # Fresh statistics (or the planner keeps estimating from an empty
                # table and scans by collection instead of the HNSW index) and a
                # visibility map (keyword search is then an index-only scan).
                for table in ("seedqa_chunks", "seedqa_postings", "seedqa_terms"):
                    conn.execute(f"VACUUM (ANALYZE) {table}")
        finally:
            conn.close()
        manifest = self.manifest()
        assert manifest is not None
        return manifest

    def _subtract_terms(self, conn, sources: list[str] | None) -> None:
        """Take the documents' chunks out of the postings and document frequencies."""
        c = self.collection
        if sources is None:
            conn.execute("DELETE FROM seedqa_postings WHERE collection = %s", (c,))
            conn.execute("DELETE FROM seedqa_terms WHERE collection = %s", (c,))
            return
        if not sources:
            return
        # The postings go, and the document frequencies drop by what was deleted.
        conn.execute(
            "WITH gone AS (DELETE FROM seedqa_postings p USING (" + _POSTINGS_OF + ") "
            "AS g (c, term, id, tf, n) "
            "WHERE p.collection = g.c AND p.term = g.term AND p.chunk_id = g.id "
            "RETURNING p.term) "
            "UPDATE seedqa_terms t SET df = t.df - g.n "
            "FROM (SELECT term, count(*) AS n FROM gone GROUP BY term) g "
            "WHERE t.collection = %s AND t.term = g.term",
            (c, sources, c),
        )

    def _copy_chunks(self, conn, chunks: list[Chunk], vectors: np.ndarray) -> None:
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        with conn.cursor().copy(
            "COPY seedqa_chunks (collection, source, start_char, end_char, text, sentences, "
            "embedding) FROM STDIN"
        ) as copy:
            for chunk, vector in zip(chunks, data, strict=True):
                flat = [x for pair in chunk.sentences for x in pair]
                row = (self.collection, chunk.source, chunk.start, chunk.end, chunk.text)
                copy.write_row((*row, flat, vector))


def _chunk(row: tuple) -> Chunk:
    source, start, end, text, flat = row
    sentences = tuple((int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2))
    return Chunk(source, int(start), int(end), text, sentences)


class PgIndex:
    """A collection as retrieval reads it: the interface of :class:`index.store.StoredIndex`.

    Rows are chunk ids. Chunks fetched for an answer are kept (a few hundred at
    most) so citing them costs no second query.
    """

    _CACHE = 512

    def __init__(self, store: PgStore, manifest: Manifest) -> None:
        self.store = store
        self.manifest = manifest
        self._cache: dict[int, tuple[Chunk, np.ndarray]] = {}
        self.chunks = _Chunks(self)
        self.vectors = _Vectors(self)
        self.keywords = _Keywords(self)

    def chunks_of(self, source: str) -> list[int]:
        rows = self.store.db.query(
            "SELECT id FROM seedqa_chunks WHERE collection = %s AND source = %s ORDER BY id",
            (self.store.collection, source),
        )
        return [int(r[0]) for r in rows]

    def rows(self, ids: Iterable[int]) -> list[tuple[int, Chunk, np.ndarray]]:
        """The chunks and vectors of ``ids`` that still exist, in the order given.

        A row deleted by an update committed since the search is left out
        instead of failing the question (the next question sees the update).
        """
        ids = [int(i) for i in ids]
        missing = [i for i in ids if i not in self._cache]
        if missing:
            found = self.store.db.query(
                "SELECT id, source, start_char, end_char, text, sentences, embedding "
                "FROM seedqa_chunks WHERE id = ANY(%s) AND collection = %s",
                (missing, self.store.collection),
            )
            if len(self._cache) > self._CACHE:
                self._cache.clear()
            for row in found:
                self._cache[int(row[0])] = (_chunk(row[1:6]), row[6].to_numpy().astype(np.float32))
        return [(i, *self._cache[i]) for i in ids if i in self._cache]


class _Chunks:
    def __init__(self, index: PgIndex) -> None:
        self._index = index

    def __len__(self) -> int:
        return self._index.manifest.chunk_count

    def __getitem__(self, row: int) -> Chunk:
        found = self._index.rows([row])
        if not found:
            raise IndexError(row)
        return found[0][1]

    def __iter__(self) -> Iterator[Chunk]:
        """Every chunk of the collection by row (reads them all: for tools and tests)."""
        rows = self._index.store.db.query(
            "SELECT source, start_char, end_char, text, sentences FROM seedqa_chunks "
            "WHERE collection = %s ORDER BY id",
            (self._index.store.collection,),
        )
        return iter([_chunk(r) for r in rows])


class _Vectors:
    def __init__(self, index: PgIndex) -> None:
        self._index = index

    @property
    def size(self) -> int:
        return self._index.manifest.chunk_count

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Best ``k`` rows by inner product (the vectors are unit length: cosine)."""
        if k <= 0:
            return []
        rows = self._index.store.db.query(
            "SELECT id, -(embedding <#> %(q)s) FROM seedqa_chunks WHERE collection = %(c)s "
            "ORDER BY embedding <#> %(q)s LIMIT %(k)s",
            {
                "q": np.asarray(query, dtype=np.float32).reshape(-1),
                "c": self._index.store.collection,
                "k": k,
            },
        )
        return [(int(i), float(s)) for i, s in rows]


class _Keywords:
    def __init__(self, index: PgIndex) -> None:
        self._index = index

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        if k <= 0 or not query.strip():
            return []
        db, c = self._index.store.db, self._index.store.collection
        found = db.query(_TERMS_SQL, {"c": c, "q": query})
        if not found:
            return []
        n, total = found[0][2], found[0][3]
        terms = [t for t, *_ in found]
        # Lucene's idf, as bm25s computes it for the embedded store.
        idfs = [math.log(1 + (n - df + 0.5) / (df + 0.5)) for _, df, *_ in found]
        rows = db.query(
            _KEYWORD_SQL,
            {
                "c": c,
                "k": k,
                "k1": BM25_K1,
                "b": BM25_B,
                "avgdl": max(total / max(n, 1), 1.0),
                "terms": terms,
                "idfs": idfs,
            },
        )
        return [(int(i), float(s)) for i, s in rows]


def collection_names(url: str) -> list[str]:
    """Every collection in the database, by name."""
    rows = _Shared.get(url).query("SELECT name FROM seedqa_collections ORDER BY name")
    return [r[0] for r in rows]
