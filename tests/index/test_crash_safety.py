"""Crash safety under random SIGKILLs, and bit flips caught by the manifest's checksums.

The kills run in ``tests/index/crash_driver.py`` (a subprocess that forks one
writer per kill; see its docstring). Here we check what every kill left and
ask the real language model about the surviving index.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from index import get_embedder, load_index, read_manifest, update_index
from index.errors import IndexCorruptError
from tests.conftest import ROOT, run_cli
from tests.index import crash_driver

SEED = 20261125
KILLS = {"files": 50, "postgresql": 20}


def test_random_sigkills_leave_exactly_the_old_or_the_new_index(store, tmp_path):
    kills = KILLS[store]
    proc = subprocess.run(
        [sys.executable, "-m", "tests.index.crash_driver", str(tmp_path), str(SEED), str(kills)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    probe, rounds, summary = lines[0], lines[1:-1], lines[-1]
    assert probe["calls_per_update"] >= 10  # the write has many sync/rename/SQL points
    killed = [r for r in rounds if r["ended"] == "killed"]
    assert len(killed) >= kills
    for r in rounds:
        assert r["ended"] in ("killed", "finished"), r
        assert r["state"] in (r["from"], r["to"]), f"a kill left a mixed or unloadable index: {r}"
        assert r["answered"], f"retrieval did not answer from the {r['state']} version: {r}"
    # Kills landed on both sides of the commit, and at many distinct sync/rename
    # points (or SQL statements).
    assert any(r["state"] == r["from"] for r in killed)
    after_commit = [r for r in killed if r["mode"] == "commit"]
    assert after_commit and all(r["state"] == r["to"] for r in after_commit), after_commit
    assert len({r["point"] for r in killed if r["mode"] == "calls"}) >= 5

    # The survivor answers through the whole pipeline, the language model included.
    from qa.pipeline import Assistant

    assistant = Assistant(crash_driver.where(tmp_path, "index"))
    answer = assistant.answer(crash_driver.QUESTION)
    assert not answer.abstained and crash_driver.ANSWER[summary["final"]] in answer.text, answer
    assert answer.citations[0].source == "docs/lighthouse.txt"


@pytest.fixture
def small_index(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The Orlan lighthouse was built in 1871 by Tomas Brek.")
    (docs / "b.md").write_text("# Port\n\nThe port handles grain and timber shipments.")
    index_dir = tmp_path / "index"
    update_index([docs], index_dir, progress=False)
    return index_dir


def test_a_flipped_bit_in_any_index_file_is_refused_with_the_rebuild_command(small_index):
    manifest = read_manifest(small_index)
    folder = small_index / manifest.generation
    rng = random.Random(SEED)
    assert len(manifest.files) >= 4  # chunks, embeddings, FAISS, BM25 files
    for rel in manifest.files:
        path = folder / rel
        original = path.read_bytes()
        damaged = bytearray(original)
        at = rng.randrange(len(damaged))
        damaged[at] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(damaged))  # same length: only the checksum can tell
        with pytest.raises(IndexCorruptError, match=r"checksum mismatch.*--rebuild") as err:
            load_index(small_index, get_embedder().info)
        assert rel in str(err.value)
        path.write_bytes(original)
    load_index(small_index, get_embedder().info)  # restored: loads again

    # Through the command line: one line naming the fix, no traceback.
    chunks = folder / "chunks.jsonl"
    data = bytearray(chunks.read_bytes())
    data[len(data) // 2] ^= 0x04
    chunks.write_bytes(bytes(data))
    res = run_cli("ask", "When was the lighthouse built?", "--index-dir", str(small_index))
    assert res.returncode == 1
    assert "damaged (checksum mismatch)" in res.stderr
    assert "seedqa index PATH... --rebuild" in res.stderr
    assert "Traceback" not in res.stderr
