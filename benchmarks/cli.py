"""``seedqa bench``: the speed benchmark's command (mounted by ``seedqa.cli``)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("bench")
@click.option(
    "--size",
    type=click.Choice(["small", "medium", "large"]),
    default="small",
    show_default=True,
    help="Corpus of about 1,000, 10,000 or 100,000 chunks.",
)
@click.option("--chunks", type=click.IntRange(50), default=None, help="Any corpus size instead.")
@click.option(
    "--squad",
    type=click.Path(dir_okay=False),
    default="../shared/benchmarks/squad-v2-dev-subset.json",
    show_default=True,
    help="SQuAD v2 file for text and questions (benchmarks/data's sample when absent).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default="out/bench/bench.json",
    show_default=True,
    help="Where to write the JSON results.",
)
@click.option(
    "--questions",
    type=click.IntRange(2),
    default=40,
    show_default=True,
    help="SQuAD questions for the latency figures (each answered several ways).",
)
@click.option(
    "--quick", is_flag=True, help="Fewer texts and questions (the CI smoke run); no timing claims."
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the corpus and indexes here (default: a temporary folder, removed).",
)
@click.option(
    "--store",
    default=None,
    metavar="URL",
    help="Compare the PostgreSQL store at URL with the embedded one instead "
    "(hit@5, search latency, recall@10 at the corpus size).",
)
def bench_cmd(size, chunks, squad, out, questions, quick, workdir, store) -> None:
    """Measure indexing and answering speed against stock baselines; print PASS/FAIL."""
    from benchmarks.run import SIZES, run_bench

    if store is not None:
        import sys
        import tempfile

        from benchmarks.stores import run_store_bench
        from index import use_store

        use_store(store)  # checks the URL
        use_store(None)  # each phase names the store it measures
        holder = None if workdir else tempfile.TemporaryDirectory(prefix="seedqa-bench-")
        try:
            run_store_bench(
                store,
                chunks or SIZES[size],
                squad=squad,
                out=Path(out),
                workdir=Path(workdir or holder.name),
                questions=4 if quick else questions,
                progress=sys.stderr.isatty(),
            )
        finally:
            if holder is not None:
                holder.cleanup()
        return

    run_bench(
        chunks or SIZES[size],
        squad=squad,
        out=Path(out),
        workdir=Path(workdir) if workdir else None,
        questions=4 if quick else questions,
        embed_sample=96 if quick else 1000,
        quality_limit=40 if quick else None,
        keep=workdir is not None,
    )
