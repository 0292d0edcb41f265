"""Two `seedqa serve` replicas on one PostgreSQL database (all on 127.0.0.1, stopped by PID).

Each replica has its own index folder and its own models; they share only the
database. An upload through one is answered, with its citation, through the
other at its next question, and the load script's clients, spread over both,
get every reply right while a document is uploaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SEEDS, run_cli, stop_server
from tests.test_web import _free_port, _wait_http

HARBOUR = (
    "The Velmora harbour was rebuilt in 1932 by the engineer Lidia Marsh. "
    "Its breakwater is 800 metres long."
)


def _replica(work: Path, url: str) -> tuple[subprocess.Popen, str]:
    work.mkdir()
    port = _free_port()
    exe = Path(sys.executable).with_name("seedqa")
    log = (work / "server.log").open("w")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--index-dir", str(work / "index"),
         "--store", url],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )  # fmt: skip
    return proc, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, pg_cluster):
    url = pg_cluster.create_database("replicas")
    work = tmp_path_factory.mktemp("replicas")
    built = run_cli("index", str(SEEDS), "--store", url, "--index-dir", str(work / "cli"))
    assert built.returncode == 0, built.stderr
    started = [_replica(work / name, url) for name in ("a", "b")]
    try:
        for proc, address in started:
            _wait_http(address, proc)
        yield [address for _, address in started]
    finally:
        for proc, _ in started:
            stop_server(proc)
    for name in ("a", "b"):
        log = (work / name / "server.log").read_text()
        assert "Traceback" not in log, log[-3000:]


def test_an_upload_through_one_replica_is_answered_through_the_other(replicas, tmp_path):
    a, b = (httpx.Client(base_url=u, timeout=300) for u in replicas)
    assert a.post("/api/collections", json={"name": "team"}).status_code == 201
    assert "team" in [c["name"] for c in b.get("/api/collections").json()["collections"]]
    question = {"question": "Who rebuilt the Velmora harbour?", "collection": "team"}
    empty = b.post("/api/ask", json=question)  # B has seen it empty
    assert empty.status_code == 400 and "No index" in empty.json()["error"]["message"]
    up = a.post(
        "/api/collections/team/documents",
        files={"files": ("velmora.txt", HARBOUR.encode(), "text/plain")},
    )
    assert up.status_code == 200 and up.json()["results"][0]["status"] == "indexed"
    got = b.post("/api/ask", json=question).json()  # no restart: B's next question
    assert "Lidia Marsh" in got["answer"] and not got["abstained"]
    cite = got["citations"][0]
    assert cite["source"] == "uploads/velmora.txt" and cite["quote"] in HARBOUR
    # B removes it; A stops answering it at its next question.
    assert b.delete("/api/collections/team/documents/uploads/velmora.txt").status_code == 200
    assert a.post("/api/ask", json=question).json()["abstained"]
    assert a.delete("/api/collections/team").status_code == 200
    assert b.post("/api/ask", json=question).status_code == 404


def test_load_across_both_replicas_loses_and_mixes_nothing(replicas):
    urls = [arg for u in replicas for arg in ("--url", u)]
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load.py"), *urls, "--json", "--via", "api"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["replicas"] == 2 and summary["questions_sent"] >= 50
    assert summary["replies"] == summary["questions_sent"] and summary["wrong"] == 0
    assert summary["upload"].endswith("indexed") and summary["answered_after_upload"]
    assert summary["server_up"]
    print(summary)  # the figures, in `pytest -s` output
