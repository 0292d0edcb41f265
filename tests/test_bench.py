"""The benchmark's CI mode: the 1,000-chunk run end to end, so `seedqa bench` cannot rot.

Timing ratios are not asserted (CI machines are shared and noisy); every figure
and every target must be present in the JSON and the table must print.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_small_bench_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="160")
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--size", "small", "--quick", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    r = json.loads(out.read_text())
    ing, qry, ans = r["ingestion"], r["query"], r["answers"]
    assert 700 <= ing["chunks"] <= 1300  # "about 1,000 chunks"
    for stage in ("check", "read", "chunk", "embed", "index"):
        assert stage in ing["stages_s"]
    for key in ("chunks_per_s", "mb_per_s", "reindex_fraction", "index_size_mb"):
        assert ing[key] > 0
    assert ing["stock"]["build_s"] > 0 and ing["speedup_vs_stock"] > 0
    assert r["embedding"]["plain_encode_texts_per_s"] > 0 and r["embedding"]["speedup"] > 0
    for backend in ("torch", "onnx-int8"):
        assert 0 <= r["quality"][backend]["hybrid_hit@5"] <= 1
    for key in ("query_embed_ms", "retrieve_ms", "answer_ms", "exact_flat_search_ms"):
        assert qry[key]["p50"] > 0 and qry[key]["p95"] >= qry[key]["p50"]
    assert qry["load_ms"] > 0 and qry["peak_rss_mb"] > 0
    assert 0 <= qry["recall@10_vs_exact"] <= 1
    assert ans["ours_ms"]["p50"] > 0 and ans["stock_ms"]["p50"] > 0
    assert len(r["targets"]) == 10
    # Every target is measured in the small mode (the 100k ones at 1,000 chunks).
    assert all(t["status"] in {"PASS", "FAIL"} for t in r["targets"]), r["targets"]
    assert "targets" in res.stdout and ("PASS" in res.stdout or "FAIL" in res.stdout)
