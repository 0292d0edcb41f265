"""Reading, chunking and embedding spread over Dask distributed workers.

``seedqa index PATH --workers N`` starts a local cluster of N worker processes
(bound to 127.0.0.1, no dashboard); ``--workers tcp://HOST:PORT`` uses a
running scheduler, whose workers must have seedqa installed and see the
indexed files at the same paths (a shared folder). Each task reads, chunks and
embeds one batch of files and returns its chunks and vectors; the caller
writes them. A worker that dies mid-task costs that batch a retry on another
worker (Dask reschedules tasks lost with a worker), not the run.

Dask's scheduler does the work this would otherwise need by hand (placement,
retries, result transfer): nothing here is a distributed layer of its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence

from .batch import BatchResult, ingest_files
from .config import ChunkingConfig
from .documents import SourceFile
from .errors import InputError, SeedqaError

log = logging.getLogger(__name__)

BATCH_FILES = 8  # files per task: small enough that a lost worker costs little


def parse_workers(value: str | int | None) -> int | str | None:
    """``--workers``: a number of local worker processes, or a scheduler address."""
    if value is None or value == "":
        return None
    if isinstance(value, int) or str(value).isdigit():
        n = int(value)
        if not 1 <= n <= 64:
            raise InputError(f"--workers {n}: give 1 to 64 local workers, or tcp://HOST:PORT.")
        return n
    if str(value).startswith(("tcp://", "tls://")):
        return str(value)
    raise InputError(
        f"--workers {value!r}: give a number of local workers (2) or a Dask scheduler "
        "address (tcp://HOST:8786)."
    )


@contextlib.contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Keep Dask's INFO records off stderr unless debug logging is on.

    Dask sets its ``distributed`` logger to INFO; with the CLI's root handler its
    records reach stderr past ``silence_logs`` (which only quiets handlers on that
    logger itself): some 40 lines a run, and at shutdown tracebacks of comms closed
    on purpose ("Batched Comm Closed"), which read as a crash.
    """
    dask_log = logging.getLogger("distributed")
    level = dask_log.level
    if log.getEffectiveLevel() > logging.INFO:
        dask_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        dask_log.setLevel(level)


@contextlib.contextmanager
def client_for(workers: int | str) -> Iterator[object]:
    """A Dask client: on a local 127.0.0.1 cluster of ``workers`` processes, or a scheduler."""
    from distributed import Client, LocalCluster

    with _quiet_dask_logs():
        if isinstance(workers, int):
            # Starting workers sets OMP_NUM_THREADS, PYTHONHASHSEED, MALLOC_* ... in
            # this process's environment (for the children it spawns); put it back
            # afterwards so nothing this process starts later inherits them.
            saved = dict(os.environ)
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
            try:
                with Client(cluster) as client:
                    yield client
            finally:
                cluster.close()
                os.environ.clear()
                os.environ.update(saved)
        else:
            try:
                client = Client(workers, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise SeedqaError(
                    f"Cannot reach the Dask scheduler at {workers}: {exc}. Start one "
                    "(dask scheduler; dask worker ADDRESS) or give --workers N for a local cluster."
                ) from exc
            with client:
                yield client


def map_batches(
    client, files: Sequence[tuple[SourceFile, str]], chunking: ChunkingConfig, backend: str
) -> Iterator[BatchResult]:
    """Submit ``files`` in batches; yield each batch's result as it completes."""
    from distributed import as_completed

    batches = [list(files[i : i + BATCH_FILES]) for i in range(0, len(files), BATCH_FILES)]
    futures = [
        client.submit(ingest_files, batch, chunking, backend, pure=False, retries=2)
        for batch in batches
    ]
    for future in as_completed(futures):
        yield future.result()
        future.release()
