"""Incremental updates, atomic writes and refusal of bad indexes, on the real embedder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from index import get_embedder, load_index, read_manifest, remove_documents, update_index
from index.errors import IndexCorruptError, IndexIncompatibleError, InputError

FACT_A = "The Orlan lighthouse was built in 1871 by the engineer Tomas Brek."
FACT_B = "The Orlan lighthouse was rebuilt in 1903 after a storm destroyed it."


@pytest.fixture
def corpus(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(FACT_A + " It stands 40 metres tall.")
    (docs / "b.md").write_text("# Port\n\nThe port handles grain and timber shipments.")
    return docs, tmp_path / "index"


def _texts(index_dir):
    index = load_index(index_dir, get_embedder().info)
    return {c.source: c.text for c in index.chunks}


def _vector(index, source):
    return index.rows(index.chunks_of(source))[0][2]


def test_unchanged_edited_and_deleted_documents(store, corpus):
    docs, index_dir = corpus
    first = update_index([docs], index_dir, progress=False)
    assert sorted(first.added) == ["docs/a.txt", "docs/b.md"] and first.embedded_chunks == 2

    again = update_index([docs], index_dir, progress=False)
    assert again.embedded_chunks == 0 and not again.changed
    assert sorted(again.unchanged) == ["docs/a.txt", "docs/b.md"]

    before = load_index(index_dir, get_embedder().info)
    b_vector = _vector(before, "docs/b.md")
    (docs / "a.txt").write_text(FACT_B)
    edited = update_index([docs], index_dir, progress=False)
    assert edited.updated == ["docs/a.txt"] and edited.embedded_chunks == 1
    after = load_index(index_dir, get_embedder().info)
    assert np.array_equal(_vector(after, "docs/b.md"), b_vector)
    assert _texts(index_dir)["docs/a.txt"] == FACT_B

    (docs / "a.txt").unlink()
    removed = update_index([docs], index_dir, progress=False)
    assert removed.removed == ["docs/a.txt"] and removed.embedded_chunks == 0
    assert set(_texts(index_dir)) == {"docs/b.md"}
    assert set(read_manifest(index_dir).documents) == {"docs/b.md"}


def test_skips_unreadable_and_duplicate_files_but_indexes_the_rest(store, corpus):
    docs, index_dir = corpus
    (docs / "junk.txt").write_bytes(b"\x00\xff\x00 binary")
    (docs / "copy.txt").write_bytes((docs / "a.txt").read_bytes())
    report = update_index([docs], index_dir, progress=False)
    reasons = dict(report.skipped)
    assert "binary" in reasons["docs/junk.txt"]
    assert reasons.get("docs/copy.txt", "").startswith("duplicate of") or reasons.get(
        "docs/a.txt", ""
    ).startswith("duplicate of")
    assert report.documents == 2


def test_remove_documents_by_name(store, corpus):
    docs, index_dir = corpus
    update_index([docs], index_dir, progress=False)
    remove_documents(["docs/b.md"], index_dir)
    assert set(_texts(index_dir)) == {"docs/a.txt"}
    with pytest.raises(InputError, match="Not in the index"):
        remove_documents(["docs/none.txt"], index_dir)


def test_empty_folder_is_a_user_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="No supported documents"):
        update_index([tmp_path / "empty"], tmp_path / "index", progress=False)


def test_refuses_other_format_versions_and_damaged_files(corpus):
    docs, index_dir = corpus
    update_index([docs], index_dir, progress=False)
    manifest_path = index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())

    damaged = index_dir / manifest["generation"] / "chunks.jsonl"
    original = damaged.read_bytes()
    damaged.write_bytes(original[:-10])
    with pytest.raises(IndexCorruptError, match="rebuild"):
        load_index(index_dir, get_embedder().info)
    damaged.write_bytes(original)

    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexIncompatibleError, match="--rebuild"):
        load_index(index_dir, get_embedder().info)
    rebuilt = update_index([docs], index_dir, rebuild=True, progress=False)
    assert rebuilt.documents == 2
    load_index(index_dir, get_embedder().info)

    manifest_path.write_text("{not json")
    with pytest.raises(IndexCorruptError):
        load_index(index_dir, get_embedder().info)


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    target = int(sys.argv[3])
    calls = {"n": 0}
    def hit():
        calls["n"] += 1
        if calls["n"] == target:
            os.kill(os.getpid(), signal.SIGKILL)
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename
    def fsync(fd):
        hit(); real_fsync(fd)
    def replace(a, b):
        hit(); real_replace(a, b); hit()
    def rename(a, b):
        hit(); real_rename(a, b); hit()
    os.fsync, os.replace, os.rename = fsync, replace, rename
    from index import update_index
    update_index([sys.argv[1]], sys.argv[2], progress=False)
    print("finished", calls["n"])
    """
)


def test_killed_writer_leaves_old_or_new_index(corpus):
    """SIGKILL the indexer at every file sync and rename of a write, in turn."""
    docs, index_dir = corpus
    update_index([docs], index_dir, progress=False)
    old = _texts(index_dir)
    (docs / "a.txt").write_text(FACT_B)
    (docs / "c.txt").write_text("The ferry to Isla Verde leaves at 7 am every Monday.")
    expected_new = {
        **old,
        "docs/a.txt": FACT_B,
        "docs/c.txt": "The ferry to Isla Verde leaves at 7 am every Monday.",
    }

    outcomes = []
    for point in range(1, 200):
        proc = subprocess.run(
            [sys.executable, "-c", KILLER, str(docs), str(index_dir), str(point)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        state = _texts(index_dir)  # must load, whatever happened
        assert proc.returncode in (0, -9), proc.stderr
        assert state in (old, expected_new), f"kill point {point} left a mixed index"
        outcomes.append("old" if state == old else "new")
        if state == expected_new:
            break
    assert outcomes.count("old") >= 8, outcomes  # many kill points inside the write
    assert outcomes[-1] == "new"


def test_the_rows_of_a_document_are_all_its_chunks_in_order(store, corpus):
    docs, index_dir = corpus
    long = " ".join(f"Harbour log entry {i} records a grain ship from port {i}." for i in range(80))
    (docs / "log.txt").write_text(long)
    update_index([docs], index_dir, progress=False)
    index = load_index(index_dir, get_embedder().info)
    rows = index.chunks_of("docs/log.txt")
    assert len(rows) > 2  # the long document is several chunks
    found = index.rows(rows)
    assert [r[0] for r in found] == rows
    assert all(chunk.source == "docs/log.txt" for _, chunk, _ in found)
    assert [chunk.start for _, chunk, _ in found] == sorted(chunk.start for _, chunk, _ in found)
    others = {c.source for c in index.chunks} - {"docs/log.txt"}
    assert sum(len(index.chunks_of(s)) for s in others) + len(rows) == len(index.chunks)
    rows.clear()  # the caller's list is its own
    assert index.chunks_of("docs/log.txt") and index.chunks_of("docs/none.txt") == []
