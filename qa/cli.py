"""The ``seedqa`` command.

User mistakes arrive as :class:`index.errors.SeedqaError` and are printed as
one line with a non-zero exit; tracebacks are only for bugs, or with --debug.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from index import resolve_index_dir
from index.config import DEFAULT_INDEX_DIR
from index.errors import IndexMissingError, SeedqaError
from qa.wording import counted

INDEX_DIR_HELP = f"Index folder (default: $SEEDQA_INDEX_DIR or ./{DEFAULT_INDEX_DIR})."


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SeedqaError as exc:
            if ctx.params.get("debug"):
                raise
            click.secho(f"Error: {exc}", fg="red", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
def cli(debug: bool) -> None:
    """seedqa: ask questions about your documents, offline, with exact citations."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not debug:
        for noisy in ("sentence_transformers", "transformers", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _index_dir_option(f):
    return click.option(
        "--index-dir", type=click.Path(file_okay=False), default=None, help=INDEX_DIR_HELP
    )(f)


@cli.command("index")
@click.argument("paths", nargs=-1, type=click.Path())
@_index_dir_option
@click.option("--rebuild", is_flag=True, help="Ignore the existing index and build it anew.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary line.")
def index_cmd(paths: tuple[str, ...], index_dir: str | None, rebuild: bool, quiet: bool) -> None:
    """Build or update the index from PATHS (files or folders; default: seeds/).

    Unchanged documents are not embedded again; changed ones are replaced and
    files removed from an indexed folder leave the index.
    """
    from index import update_index

    report = update_index(
        paths or ["seeds"], index_dir, rebuild=rebuild, progress=None if not quiet else False
    )
    if not quiet:
        for label, names in (
            ("added", report.added),
            ("updated", report.updated),
            ("removed", report.removed),
        ):
            for name in names:
                click.echo(f"  {label:9} {name}")
        for name, why in report.skipped:
            click.echo(f"  {'skipped':9} {name}: {why}")
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
        f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped; "
        f"{counted(report.embedded_chunks, 'chunk')} embedded. "
        f"Index: {counted(report.documents, 'document')}, "
        f"{counted(report.chunks, 'chunk')} in {report.index_dir}"
    )


@cli.command("remove")
@click.argument("sources", nargs=-1, required=True)
@_index_dir_option
def remove_cmd(sources: tuple[str, ...], index_dir: str | None) -> None:
    """Remove documents (by the name `seedqa status` lists) from the index."""
    from index import remove_documents

    report = remove_documents(sources, index_dir)
    click.echo(
        f"Removed {len(report.removed)}; index: {counted(report.documents, 'document')}, "
        f"{counted(report.chunks, 'chunk')}."
    )


@cli.command("status")
@_index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_cmd(index_dir: str | None, as_json: bool) -> None:
    """Show what the index holds."""
    from index import read_manifest

    path = resolve_index_dir(index_dir)
    manifest = read_manifest(path)
    if manifest is None:
        raise IndexMissingError(f"No index in {path}. Build one: seedqa index seeds/")
    if as_json:
        click.echo(json.dumps(manifest.model_dump(mode="json", exclude={"files"}), indent=1))
        return
    click.echo(
        f"Index {path}: {counted(len(manifest.documents), 'document')}, "
        f"{counted(manifest.chunk_count, 'chunk')}, "
        f"{manifest.embedder.name}, updated {manifest.updated_at}"
    )
    for source, entry in sorted(manifest.documents.items()):
        click.echo(
            f"  {source}  ({counted(entry.chunks, 'chunk')}, {counted(entry.chars, 'character')})"
        )


def _ensure_index(index_dir: str | None) -> None:
    """With the default index missing and seeds/ here, index it first (like `make serve`)."""
    from index import read_manifest, update_index

    path = resolve_index_dir(index_dir)
    if read_manifest(path) is None and index_dir is None and Path("seeds").is_dir():
        click.echo("No index yet: indexing seeds/ first.", err=True)
        update_index(["seeds"], path, progress=False)


@cli.command("ask")
@click.argument("question")
@_index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (see README).")
def ask_cmd(question: str, index_dir: str | None, as_json: bool) -> None:
    """Answer QUESTION from the indexed documents, with citations."""
    from qa import answer
    from qa.pipeline import validate_question

    validate_question(question)
    _ensure_index(index_dir)
    result = answer(question, index_dir=index_dir)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    click.echo(result.text)
    _print_citations(result)


def _print_citations(result) -> None:
    for n, c in enumerate(result.citations, 1):
        quote = " ".join(c.quote.split())
        click.secho(f'  [{n}] {c.source}:{c.start}-{c.end}  "{quote}"', dim=True)


@cli.command("chat")
@_index_dir_option
def chat_cmd(index_dir: str | None) -> None:
    """Talk to your documents in the terminal (/new starts over, /quit or Ctrl-D leaves)."""
    from qa import Chat

    _ensure_index(index_dir)
    chat = Chat(index_dir)
    chat.assistant.retriever()  # fail early on a missing or broken index
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("Ask a question about your documents. /new starts over, /quit leaves.")
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            break
        line = line.strip()
        if not line:
            continue
        if line in {"/quit", "/exit"}:
            break
        if line == "/new":
            chat.reset()
            click.echo("(new conversation)")
            continue
        try:
            if interactive:
                click.echo("seedqa> ", nl=False)
            for piece in chat.stream(line):
                if interactive:
                    click.echo(piece, nl=False)
            last = chat.last
            if interactive:
                click.echo("\r\033[K", nl=False)
            click.echo(f"seedqa> {last.text}")
            _print_citations(last)
        except SeedqaError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)


@cli.command("serve")
@_index_dir_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; use 0.0.0.0 only with --auth.",
)
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--auth",
    envvar="SEEDQA_AUTH",
    default=None,
    metavar="USER:PASSWORD",
    help="Require a login (or set SEEDQA_AUTH).",
)
def serve_cmd(index_dir: str | None, host: str, port: int, auth: str | None) -> None:
    """Open the web chat (indexes seeds/ first if there is no index yet)."""
    from index.errors import InputError

    from .ui import check_port, serve

    credentials = None
    if auth:
        user, sep, password = auth.partition(":")
        if not (sep and user and password):
            raise InputError("--auth takes USER:PASSWORD, both non-empty.")
        credentials = (user, password)
    check_port(host, port)
    click.echo(f"seedqa web chat on http://{host}:{port}  (Ctrl-C stops it)", err=True)
    serve(index_dir, host=host, port=port, auth=credentials)


@cli.command("eval")
@click.argument("suites", nargs=-1, type=click.Path())
@_index_dir_option
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write report.json, report.md and plots to this folder.",
)
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write SQuAD-format predictions {id: answer} ('' = abstained).",
)
@click.option(
    "--baseline", is_flag=True, help="Also run the stock llama-index pipeline on the same cases."
)
@click.option(
    "--baseline-cases",
    type=click.IntRange(0),
    default=100,
    show_default=True,
    help="With --baseline on a larger dataset, the stock pipeline answers this many evenly "
    "spaced cases (about 4 s each on 2 cores) and ours is shown on the same ones too; 0: all.",
)
@click.option(
    "--min-accuracy",
    type=click.FloatRange(0, 1),
    default=None,
    help="Exit non-zero when our pass rate is below this.",
)
@click.option(
    "--min-f1",
    type=click.FloatRange(0, 1),
    default=None,
    help="Exit non-zero when our SQuAD v2 overall F1 is below this.",
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=None,
    help="Only the first N cases of each dataset (quick checks).",
)
@click.option(
    "--every",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Only every Nth case (a reproducible sample of a large dataset).",
)
def eval_cmd(
    suites,
    index_dir,
    report_dir,
    predictions,
    baseline,
    baseline_cases,
    min_accuracy,
    min_f1,
    limit,
    every,
):
    """Evaluate answers on SUITES (default: the seed-article suite).

    A suite (.jsonl) runs against the index (seeds/ is indexed first if there is
    none); a SQuAD v2 .json or a llama-index rag_dataset.json brings its own
    documents, indexed in a temporary folder.
    """
    from eval.cli import run_eval

    ok = run_eval(
        list(suites),
        index_dir=index_dir,
        report_dir=report_dir,
        predictions=predictions,
        baseline=baseline,
        min_accuracy=min_accuracy,
        min_f1=min_f1,
        limit=limit,
        every=every,
        baseline_cases=baseline_cases,
        ensure_index=lambda: _ensure_index(index_dir),
    )
    if not ok:
        raise SystemExit(2)


@cli.command("bench")
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
    help="SQuAD v2 file for text and questions (tests/data's sample when absent).",
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
def bench_cmd(size, chunks, squad, out, questions, quick, workdir) -> None:
    """Measure indexing and answering speed against stock baselines; print PASS/FAIL."""
    from benchmarks.run import SIZES, run_bench

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


@cli.command("train-reader")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the reader goes (default: models/reader; with --quick: WORK/quick-reader).",
)
@click.option(
    "--work",
    type=click.Path(file_okay=False),
    default="out/reader-training",
    show_default=True,
    help="Examples and the resumable checkpoint (a killed run started again resumes here).",
)
@click.option(
    "--gold",
    type=click.Path(dir_okay=False),
    default="../shared/training/squad-v2-train-pool.json",
    show_default=True,
    help="SQuAD 2.0 training pool (people's labels).",
)
@click.option(
    "--silver",
    type=click.Path(dir_okay=False),
    default="../shared/training/squad-v2-silver-pool.json",
    show_default=True,
    help="Silver-labelled pool ('' to train without it).",
)
@click.option("--quick", is_flag=True, help="A few dozen questions, one short epoch (tests).")
@click.option("--fresh", is_flag=True, help="Discard the checkpoint in WORK and start over.")
@click.option("--epochs", type=click.IntRange(1, 50), default=None, help="Training epochs.")
@click.option("--seed", type=int, default=None, help="Random seed (default 13).")
def train_reader_cmd(out, work, gold, silver, quick, fresh, epochs, seed) -> None:
    """Train the extractive reader from nothing and write it as int8 ONNX with its model card.

    About 1-2 hours on 2 CPU cores; a GPU is used when one is present.
    """
    from dataclasses import replace

    from training.loop import CHECKPOINT
    from training.run import QUICK, TrainSettings, train_reader

    work_dir = Path(work)
    settings = QUICK if quick else TrainSettings()
    if epochs is not None:
        settings = replace(settings, epochs=epochs)
    if seed is not None:
        settings = replace(settings, seed=seed)
    if fresh:
        (work_dir / CHECKPOINT).unlink(missing_ok=True)
    target = Path(out) if out else (work_dir / "quick-reader" if quick else Path("models/reader"))
    report = train_reader(
        target,
        work_dir,
        gold=Path(gold),
        silver=Path(silver) if silver else None,
        quick=quick,
        settings=settings,
        log=lambda line: click.echo(line, err=True),
    )
    v = report.validation
    click.echo(
        f"Reader written to {report.out} after {report.minutes} min of training; "
        f"threshold {report.threshold:+.2f}; validation overall F1 {v['f1']:.3f}, "
        f"HasAns F1 {v['HasAns_f1']:.3f}, NoAns {v['NoAns_f1']:.3f}."
    )


def main() -> None:
    cli(prog_name="seedqa")


if __name__ == "__main__":
    main()
