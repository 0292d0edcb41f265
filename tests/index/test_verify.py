"""Index loading verifies files cheaply but still catches damage.

A load hashes a file only when its fingerprint (size, mtime, ctime, inode)
differs from the one recorded when its sha256 last matched; these tests pin
down that any write is still caught, even one that restores the mtime.
"""

from __future__ import annotations

import os

import pytest

import index.store as store
from index import get_embedder, load_index, read_manifest, update_index
from index.errors import IndexCorruptError


@pytest.fixture
def built(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The Orlan lighthouse was built in 1871 by Tomas Brek.")
    (docs / "b.md").write_text("# Port\n\nThe port handles grain and timber shipments.")
    index_dir = tmp_path / "index"
    update_index([docs], index_dir, progress=False)
    monkeypatch.setattr(store, "RACY_NS", 0)  # treat the fresh files as old enough to stamp
    return index_dir


def _count_hashes(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = store.sha256_file

    def counting(path):
        calls.append(path.name)
        return real(path)

    monkeypatch.setattr(store, "sha256_file", counting)
    return calls


def test_second_load_skips_hashing_and_full_still_hashes(built, monkeypatch):
    info = get_embedder().info
    load_index(built, info)  # hashes every file, writes the stamp
    calls = _count_hashes(monkeypatch)
    load_index(built, info)
    assert calls == []
    load_index(built, info, verify="full")
    assert len(calls) == len(read_manifest(built).files)


@pytest.mark.parametrize("damage", ["flip", "flip-keep-mtime", "truncate"])
def test_damage_after_stamp_is_caught(built, damage):
    info = get_embedder().info
    load_index(built, info)  # stamp written
    manifest = read_manifest(built)
    for rel in manifest.files:
        path = built / manifest.generation / rel
        original = path.read_bytes()
        st = path.stat()
        if damage == "truncate":
            path.write_bytes(original[:-1])
        else:
            data = bytearray(original)
            data[len(data) // 2] ^= 0x10
            path.write_bytes(bytes(data))
            if damage == "flip-keep-mtime":
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        with pytest.raises(IndexCorruptError, match="checksum mismatch") as err:
            load_index(built, info)
        assert rel in str(err.value)
        path.write_bytes(original)
    load_index(built, info)


def test_an_index_of_another_backend_is_refused_with_the_fix(built):
    from index.config import EmbedderInfo
    from index.errors import IndexIncompatibleError

    with pytest.raises(IndexIncompatibleError, match=r"torch backend.*--rebuild"):
        load_index(built, EmbedderInfo(backend="torch"))
