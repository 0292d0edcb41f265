"""`seedqa eval`: datasets in, tables and reports out, exit status for CI."""

from __future__ import annotations

import json
from pathlib import Path

import click

from index import read_manifest, resolve_index_dir
from index.errors import InputError
from qa.cli import ensure_default_index, index_dir_option

from .datasets import Dataset, load_dataset
from .report import markdown, write_report
from .runner import SystemRun, ours, prepare_index, run_dataset, summarize
from .suites import DEFAULT_SUITE


def run_eval(
    suites: list[str],
    *,
    index_dir: str | None,
    report_dir: str | None,
    predictions: str | None,
    baseline: bool,
    min_accuracy: float | None,
    min_f1: float | None,
    limit: int | None,
    every: int = 1,
    baseline_cases: int = 0,
) -> bool:
    ok = True
    all_predictions: dict[str, str] = {}
    paths = suites or [str(DEFAULT_SUITE)]
    for number, path in enumerate(paths):
        dataset = load_dataset(path)
        if every > 1:
            if every > len(dataset.cases):
                raise InputError(
                    f"--every {every} takes no question from {path}: it holds "
                    f"{len(dataset.cases)}. Use a smaller --every."
                )
            dataset.cases = dataset.cases[every - 1 :: every]
        if limit:
            dataset.cases = dataset.cases[:limit]
        runs = _run_one(dataset, index_dir, baseline, baseline_cases)
        ours_summary = summarize(runs[0])
        click.echo(markdown(runs, [summarize(r) for r in runs]).split("\n## Failures")[0])
        if report_dir:
            folder = (
                Path(report_dir)
                if len(paths) == 1
                else Path(report_dir) / f"{number:02d}-{dataset.name}"
            )
            write_report(runs, folder)
            click.echo(f"Report written to {folder}/report.md", err=True)
        for r in runs[0].results:
            all_predictions[r.item.case.id] = r.prediction
        if min_accuracy is not None and (ours_summary["accuracy"] or 0) < min_accuracy:
            click.secho(
                f"{dataset.name}: accuracy {ours_summary['accuracy']:.3f} is below {min_accuracy}",
                fg="red",
                err=True,
            )
            ok = False
        if min_f1 is not None and "squad" in ours_summary and ours_summary["squad"]["f1"] < min_f1:
            click.secho(
                f"{dataset.name}: SQuAD F1 {ours_summary['squad']['f1']:.3f} is below {min_f1}",
                fg="red",
                err=True,
            )
            ok = False
    if predictions:
        Path(predictions).write_text(json.dumps(all_predictions, indent=1, ensure_ascii=False))
    return ok


def sample_indices(total: int, wanted: int) -> list[int]:
    """``wanted`` evenly spaced case numbers out of ``total`` (all of them when 0 or more)."""
    if wanted <= 0 or wanted >= total:
        return list(range(total))
    return sorted({int(i * total / wanted) for i in range(wanted)})


def _run_one(
    dataset: Dataset, index_dir: str | None, baseline: bool, baseline_cases: int
) -> list[SystemRun]:
    if dataset.documents:
        index_path, holder = prepare_index(dataset)
    else:
        ensure_default_index(index_dir)
        index_path, holder = resolve_index_dir(index_dir), None
    try:
        runs = [run_dataset(dataset, ours(index_path), "seedqa")]
        if baseline:
            from .baseline import stock_pipeline

            if dataset.documents:
                docs = dataset.documents
            else:
                manifest = read_manifest(index_path)
                docs = [Path(e.path) for e in manifest.documents.values()] if manifest else []
            picked = sample_indices(len(dataset.cases), baseline_cases)
            if len(picked) < len(dataset.cases):
                # The stock flow reads ~1,000 prompt tokens a question (about 4 s on
                # 2 cores, 5x ours), so on a large dataset it answers an evenly spaced
                # sample, and our figures on exactly those cases stand beside it.
                sample = Dataset(
                    dataset.name, [dataset.cases[i] for i in picked], dataset.documents
                )
                runs.append(
                    SystemRun(
                        f"seedqa, same {len(picked)}",
                        dataset.name,
                        [runs[0].results[i] for i in picked],
                    )
                )
            else:
                sample = dataset
            runs.append(run_dataset(sample, stock_pipeline(docs), "stock llama-index"))
        return runs
    finally:
        if holder is not None:
            holder.cleanup()


@click.command("eval")
@click.argument("suites", nargs=-1, type=click.Path())
@index_dir_option
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
    )
    if not ok:
        raise SystemExit(2)
