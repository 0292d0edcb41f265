"""Shared fixtures: the real models, loaded once, and a seed index built once.

Integration tests use the real embedder, FAISS, BM25 and the trained reader: they are
small and offline. Fakes appear only in unit tests of pure logic.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_FILE = "seeds/000_e0d75e9825ac5acc.txt"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory) -> Path:
    """An index of a copy of seeds/, built once for the session (read-only use)."""
    from index import update_index

    work = tmp_path_factory.mktemp("seedcorpus")
    shutil.copytree(SEEDS, work / "seeds")
    index_dir = work / "index"
    update_index([work / "seeds"], index_dir, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL + pgvector server for the session, stopped by its PID."""
    from tests.pgcluster import PgCluster

    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


_databases = iter(range(1_000_000))


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """A fresh, empty database on the session's server."""
    return pg_cluster.create_database(f"t{next(_databases)}")


STORES = ["files", "postgresql"]


@pytest.fixture(params=STORES)
def store(request, monkeypatch) -> str:
    """Run the test against each store: the embedded files, then PostgreSQL.

    For "postgresql" ``$SEEDQA_STORE`` points at a fresh database for the test.
    """
    if request.param == "files":
        monkeypatch.delenv("SEEDQA_STORE", raising=False)
    else:
        monkeypatch.setenv("SEEDQA_STORE", request.getfixturevalue("pg_url"))
    return request.param


@pytest.fixture(scope="session")
def pg_seed_store(pg_cluster, tmp_path_factory) -> str:
    """A database whose default collection holds seeds/, built once (read-only use)."""
    from index import update_index
    from index.stores import use_store

    url = pg_cluster.create_database("seeds")
    previous = os.environ.get("SEEDQA_STORE")
    use_store(url)
    try:
        # The folder only names the default collection; the rows go to the database.
        update_index([SEEDS], tmp_path_factory.mktemp("pg-seeds") / "index", progress=False)
    finally:
        use_store(previous)
    return url


@pytest.fixture(scope="session", params=STORES)
def any_assistant(request, seed_index):
    """The seed index's Assistant on each store (bound to its store when made)."""
    from index.pgstore import PgStore
    from qa import Assistant

    if request.param == "files":
        return Assistant(seed_index)
    url = request.getfixturevalue("pg_seed_store")
    return Assistant(seed_index, store=PgStore(url, "default"))


@pytest.fixture(scope="session")
def assistant(seed_index):
    from qa import Assistant

    return Assistant(seed_index)


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict | None = None,
    timeout: float = 300,
    input_text: str | None = None,
):
    """Run the real `seedqa` command in a subprocess."""
    exe = Path(sys.executable).with_name("seedqa")
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text if input_text is not None else "",
    )


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a server a test started, by its PID: politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)
