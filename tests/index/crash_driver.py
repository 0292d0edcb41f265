"""Kill the indexer at random points, many times, and record what each kill left.

Run as ``python -m tests.index.crash_driver WORK SEED KILLS``; prints one JSON
object per line (one per kill, then a summary). It is a separate process
because SIGKILL takes the whole process: this driver loads the real MiniLM
embedder once, then forks one writer per kill (a fork starts in milliseconds;
a fresh Python that imports torch takes seconds), so 50+ kills fit in about
a minute. The language model is never loaded here; the test asks it
questions on the surviving index afterwards.

The corpus flips between two versions, A and B, that differ in many ways at
once (edited, added and removed documents). Each round the writer updates the
index towards the other version and is killed after a random number of
``fsync``/``rename``/``replace`` calls, after a random delay (which also
lands inside file writes, chunking and embedding), or just after the commit
(the manifest's replace), which must leave the new version. With
``$SEEDQA_STORE`` set the same rounds run against PostgreSQL, the counted
points being its SQL statements (inside the transaction too) and the commit
being the transaction's COMMIT. Debris from
killed writers is never cleaned by the driver: the next writer must cope
with it.
"""

from __future__ import annotations

import faulthandler
import json
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from index import get_embedder, load_index, store_url, update_index
from index.chunking import _punkt
from index.config import COLLECTIONS_FOLDER
from index.errors import SeedqaError
from index.store import MANIFEST
from qa.retrieval import HybridRetriever

DOCS = 24
TOWNS = (
    "Quillon Ardmere Bexford Calder Dunmore Elstow Farrow Glenrith Harwick Ilsby Jarrow Kelso "
    "Larkin Morcott Nethy Orrin Pellow Quorra Rasen Selby Tarrant Ulver Venn Wickam"
).split()


LIGHTHOUSE = {
    "A": "The Orlan lighthouse was built in 1871 by the engineer Tomas Brek. It is 40 metres tall.",
    "B": "The Orlan lighthouse was built in 1884 by the engineer Mira Solano. It is 52 m tall.",
}
QUESTION = "When was the Orlan lighthouse built?"
ANSWER = {"A": "1871", "B": "1884"}
DEPOT_QUESTION = f"Who keeps the depot at {TOWNS[4]}?"
WRITER_TIMEOUT_S = 120  # a whole update takes about a second


def version(name: str) -> dict[str, str]:
    """The corpus as ``{file name: text}``; B edits 8, removes 4 and adds 6 documents of A."""
    docs = {
        f"depot{i:02d}.txt": (
            f"The depot at {TOWNS[i]} stores {100 + i} wagons. "
            f"Its keeper in version A is named Aldo{i}. The depot opened in {1900 + i}."
        )
        for i in range(DOCS)
    }
    docs["lighthouse.txt"] = LIGHTHOUSE[name]
    if name == "B":
        for i in range(0, 16, 2):
            docs[f"depot{i:02d}.txt"] = (
                f"The depot at {TOWNS[i]} stores {500 + i} wagons. "
                f"Its keeper in version B is named Bruna{i}. The depot closed in {2000 + i}."
            )
        for i in range(20, 24):
            del docs[f"depot{i:02d}.txt"]
        for i in range(6):
            docs[f"yard{i}.md"] = f"# Yard {i}\n\nYard {i} was added in version B with {i} cranes."
    return docs


def write_version(folder: Path, name: str) -> None:
    wanted = version(name)
    for path in folder.iterdir():
        if path.name not in wanted:
            path.unlink()
    for file_name, text in wanted.items():
        path = folder / file_name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def signature(index_dir: Path) -> list[tuple[str, int, int, str]]:
    """Everything a reader sees: every chunk with its source and offsets, in order."""
    index = load_index(index_dir, get_embedder().info)
    return sorted((c.source, c.start, c.end, c.text) for c in index.chunks)


def answers_from(index_dir: Path, state: str, vectors: dict[str, np.ndarray]) -> bool:
    """Retrieval on the loaded index returns this state's text for a changed document.

    ``vectors`` are the questions' embeddings, made by a child (see prepare):
    this parent never embeds."""
    index = load_index(index_dir, get_embedder().info)
    retriever = HybridRetriever(index, get_embedder())
    depot = retriever.retrieve(DEPOT_QUESTION, 1, query_vector=vectors[DEPOT_QUESTION])
    lighthouse = retriever.retrieve(QUESTION, 1, query_vector=vectors[QUESTION])
    keeper = "Bruna4" if state == "B" else "Aldo4"
    return (
        bool(depot and lighthouse)
        and keeper in depot[0].chunk.text
        and ANSWER[state] in lighthouse[0].chunk.text
    )


KillAt = tuple[str, int]  # ("calls", n) or ("commit", n); see instrument


def instrument(kill_at: KillAt | None, report_fd: int) -> None:
    """Count this process's fsync/rename/replace calls, and SIGKILL it at one of them.

    Every call writes a byte to ``report_fd``, so the parent learns how far a
    writer got. ``("calls", n)`` kills at the n-th call; ``("commit", n)`` at
    the n-th call after the manifest's replace returned (0: right then). The
    commit is the last of about twenty calls, so kills drawn over all of them
    rarely land after it; the commit mode makes sure some do.
    """
    calls = 0
    after_commit: int | None = None

    def hit(commit: bool = False) -> None:
        nonlocal calls, after_commit
        calls += 1
        os.write(report_fd, b".")
        if commit:
            after_commit = 0
        elif after_commit is not None:
            after_commit += 1
        if kill_at is not None:
            kind, n = kill_at
            if (kind, n) == ("calls", calls) or (kind, n) == ("commit", after_commit):
                os.kill(os.getpid(), signal.SIGKILL)

    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def fsync(fd: int) -> None:
        hit()
        real_fsync(fd)

    def replace(a, b) -> None:
        hit()
        real_replace(a, b)
        hit(commit=Path(b).name == MANIFEST)

    def rename(a, b) -> None:
        hit()
        real_rename(a, b)
        hit()

    os.fsync, os.replace, os.rename = fsync, replace, rename  # type: ignore[assignment]
    if on_server():
        # The database writer's points: before and after each statement (inside
        # the transaction too), and right after its COMMIT returned.
        import psycopg

        real_execute, real_exit = psycopg.Connection.execute, psycopg.Transaction.__exit__

        publishing = {"pending": False}  # the transaction bumped the generation

        def execute(self, query, *args, **kwargs):
            hit()
            result = real_execute(self, query, *args, **kwargs)
            if "SET generation = generation + 1" in str(query):
                publishing["pending"] = True
            hit()
            return result

        def exit_transaction(self, exc_type, exc, tb):
            result = real_exit(self, exc_type, exc, tb)
            hit(commit=exc_type is None and publishing["pending"])
            publishing["pending"] = False
            return result

        psycopg.Connection.execute = execute  # type: ignore[method-assign]
        psycopg.Transaction.__exit__ = exit_transaction  # type: ignore[method-assign]


def _spawn(work: Callable[[], None]) -> int:
    """Fork a child that runs ``work`` and exits 0, or 3 if it raised; returns its pid.

    A child that hangs prints where (every thread) and exits, instead of
    leaving the test to time out with nothing to go on.
    """
    pid = os.fork()
    if pid == 0:
        faulthandler.dump_traceback_later(WRITER_TIMEOUT_S, exit=True)
        code = 0
        try:
            work()
        except BaseException:
            traceback.print_exc()
            code = 3
        os._exit(code)
    return pid


def run_writer(docs: Path, index_dir: Path, kill_at: KillAt | None, delay: float | None):
    """Fork a writer; returns (how it ended, seconds, sync/rename calls it made)."""
    read, write = os.pipe()
    start = time.monotonic()

    def work() -> None:
        os.close(read)
        instrument(kill_at, write)
        update_index([docs], index_dir, progress=False)

    pid = _spawn(work)
    os.close(write)
    status = None
    if delay is not None:
        deadline = start + delay
        while status is None and time.monotonic() < deadline:
            done, ended = os.waitpid(pid, os.WNOHANG)
            if done:
                status = ended
            else:
                time.sleep(0.002)
        if status is None:
            os.kill(pid, signal.SIGKILL)
    if status is None:
        _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - start
    with os.fdopen(read, "rb") as fh:
        calls = len(fh.read())
    return _ended(status), seconds, calls


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return "killed" if os.WTERMSIG(status) == signal.SIGKILL else "signal"
    return "finished" if os.WEXITSTATUS(status) == 0 else "failed"


def _wait_finished(pid: int, what: str) -> None:
    _, status = os.waitpid(pid, 0)
    if _ended(status) != "finished":
        raise RuntimeError(f"{what} ended: {_ended(status)}")


def in_child(work: Callable[[], None]) -> None:
    """Run ``work`` in a forked child and wait for it; raise if it failed."""
    _wait_finished(_spawn(work), "a preparing child")


def where(work: Path, name: str) -> Path:
    """An index of its own: a folder with the files store, a collection with PostgreSQL."""
    return work / COLLECTIONS_FOLDER / name


def on_server() -> bool:
    return store_url() is not None


def prepare(work: Path, docs: Path) -> None:
    """Clean builds of both versions, the index at A, and the questions' vectors."""
    for name in ("A", "B"):  # clean builds give each version's exact signature
        write_version(docs, name)
        update_index([docs], where(work, f"clean-{name.lower()}"), progress=False)
    write_version(docs, "A")
    update_index([docs], where(work, "index"), progress=False)
    np.save(work / "questions.npy", get_embedder().embed([DEPOT_QUESTION, QUESTION]))


def main(work: Path, seed: int, kills: int) -> None:
    # What a writer needs that runs no thread is loaded here once, so that each
    # fork starts with it: the sentence splitter (importing NLTK takes ~4 s) and
    # the word-piece tables. The onnxruntime sessions are made in each child.
    _punkt()
    _ = get_embedder().tokenizer
    rng = random.Random(seed)
    docs, index_dir = work / "docs", where(work, "index")
    docs.mkdir(parents=True, exist_ok=True)
    in_child(lambda: prepare(work, docs))
    depot_vector, question_vector = np.load(work / "questions.npy")
    vectors = {DEPOT_QUESTION: depot_vector, QUESTION: question_vector}

    expected = {name: signature(where(work, f"clean-{name.lower()}")) for name in ("A", "B")}
    assert expected["A"] != expected["B"]
    state = "A"
    write_version(docs, "B")
    # A full A->B build into a scratch index: how long an update takes and how
    # many sync/rename calls it makes. An update of the live index can make a
    # few more (loading it may record its checksums), so the range kills are
    # drawn from grows to the most calls any writer was seen to make.
    ended, full_seconds, calls = run_writer(docs, where(work, "probe"), None, None)
    if ended != "finished":
        raise RuntimeError(f"the probing writer ended: {ended}")
    print(json.dumps({"calls_per_update": calls, "update_seconds": full_seconds}), flush=True)

    killed = 0
    rounds = 0
    while killed < kills:
        rounds += 1
        target = "B" if state == "A" else "A"
        write_version(docs, target)
        draw = rng.random()
        if draw < 0.4:
            mode, point = "calls", rng.randint(1, calls)
            ended, seconds, made = run_writer(docs, index_dir, ("calls", point), None)
        elif draw < 0.8:
            mode, point = "delay", rng.uniform(0.0, full_seconds * 1.2)
            ended, seconds, made = run_writer(docs, index_dir, None, point)
        else:
            mode, point = "commit", rng.randint(0, 1)
            ended, seconds, made = run_writer(docs, index_dir, ("commit", point), None)
        calls = max(calls, made)
        try:
            got = signature(index_dir)
            now = next((n for n, sig in expected.items() if sig == got), "mixed")
            answered = now != "mixed" and answers_from(index_dir, now, vectors)
        except SeedqaError as exc:
            now, answered = f"unloadable: {exc}", False
        killed += ended == "killed"
        print(
            json.dumps(
                {
                    "round": rounds,
                    "mode": mode,
                    "point": point,
                    "ended": ended,
                    "from": state,
                    "to": target,
                    "state": now,
                    "answered": answered,
                    "seconds": round(seconds, 3),
                    "calls": made,
                }
            ),
            flush=True,
        )
        if now in expected:
            state = now
    print(json.dumps({"done": True, "final": state}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
