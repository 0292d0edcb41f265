"""Ingestion on a real Dask cluster (worker processes on 127.0.0.1), on both stores."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from index import get_embedder, load_index, update_index
from index.distributed import parse_workers
from index.errors import InputError


def _corpus(folder, n: int = 24):
    folder.mkdir()
    for i in range(n):
        sentences = [
            f"Harbour {i} shipped {100 + 7 * i} tonnes of grain in {1990 + i % 30}.",
            f"Its harbour master, Person{i}, keeps {i % 5 + 2} cranes and {i % 3 + 1} tugs.",
            f"The town beside harbour {i} holds a fish market every {('Monday', 'Friday')[i % 2]}.",
        ]
        (folder / f"h{i:02d}.txt").write_text(" ".join(sentences * (1 + i % 4)))
    return folder


def _contents(index_dir):
    """Every chunk (source, offsets, text) with its vector, in a store-independent order."""
    index = load_index(index_dir, get_embedder().info)
    rows = {}
    for source in sorted(index.manifest.documents):
        for _, chunk, vector in index.rows(index.chunks_of(source)):
            rows[(chunk.source, chunk.start, chunk.end)] = (chunk.text, chunk.sentences, vector)
    return rows


def test_two_local_workers_give_the_chunks_and_vectors_of_the_embedded_path(store, tmp_path):
    docs = _corpus(tmp_path / "docs")
    here = update_index([docs], tmp_path / "collections" / "here", progress=False)
    environment = dict(os.environ)
    there = update_index([docs], tmp_path / "collections" / "dask", progress=False, workers=2)
    assert dict(os.environ) == environment  # Dask's settings for its workers do not leak
    assert sorted(there.added) == sorted(here.added) and len(here.added) == 24
    a, b = (
        _contents(tmp_path / "collections" / "here"),
        _contents(tmp_path / "collections" / "dask"),
    )
    assert a.keys() == b.keys() and len(a) == here.chunks == there.chunks
    for key in a:
        assert a[key][0].encode() == b[key][0].encode()  # byte-equal texts
        assert a[key][1] == b[key][1]
        np.testing.assert_allclose(a[key][2], b[key][2], atol=1e-6)


def test_a_worker_killed_mid_run_costs_its_batch_a_retry_not_the_run(tmp_path, monkeypatch):
    from distributed import Client, LocalCluster

    import index.distributed

    monkeypatch.delenv("SEEDQA_STORE", raising=False)
    monkeypatch.setattr(index.distributed, "BATCH_FILES", 2)  # 20 tasks
    docs = _corpus(tmp_path / "docs", n=40)
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    )
    try:
        with Client(cluster) as client:
            pids = client.run(os.getpid)
            assert len(pids) == 2
            victim = sorted(pids.values())[0]
            seen: list[str] = []

            def on_file(source: str, status: str) -> None:
                seen.append(status)
                if len(seen) == 1:  # the first batch is back; the others are in flight
                    os.kill(victim, signal.SIGKILL)

            report = update_index(
                [docs], tmp_path / "index", progress=False, on_file=on_file,
                workers=cluster.scheduler_address,
            )  # fmt: skip
            assert len(seen) == 40  # 38 of them arrived after the kill
            with pytest.raises(ProcessLookupError):
                os.kill(victim, 0)
    finally:
        cluster.close()
    assert len(report.added) == 40 and report.documents == 40
    serial = update_index([docs], tmp_path / "serial", progress=False)
    assert _contents(tmp_path / "index").keys() == _contents(tmp_path / "serial").keys()
    assert report.chunks == serial.chunks


@pytest.mark.parametrize("bad", ["0", "many", "http://x:1"])
def test_bad_workers_values_are_user_errors(bad):
    with pytest.raises(InputError, match="--workers"):
        parse_workers(bad)


def test_the_command_line_indexes_on_local_workers(tmp_path):
    from tests.conftest import run_cli

    docs = _corpus(tmp_path / "docs", n=6)
    out = run_cli(
        "index", str(docs), "--workers", "2", "--index-dir", str(tmp_path / "index"),
        env={"SEEDQA_STORE": ""},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "6 added" in out.stdout and "Traceback" not in out.stderr
    # Dask's own INFO records (some 40 lines, sometimes with the traceback of a comm
    # closed on shutdown) stay off the user's terminal.
    assert "INFO distributed" not in out.stderr, out.stderr
    bad = run_cli("index", str(docs), "--workers", "lots", env={"SEEDQA_STORE": ""})
    assert bad.returncode != 0 and "--workers 'lots'" in bad.stderr
