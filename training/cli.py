"""``seedqa train-reader``: the reader's training command (mounted by ``seedqa.cli``)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("train-reader")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the reader goes (default: qa/reader_model; with --quick: WORK/quick-reader).",
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
@click.option(
    "--extra",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also train on the extra pool (../shared/training/squad-extra-train-pool.json), less "
    "its validation slices (TyDi QA dev, 20 COVID-QA papers).",
)
@click.option(
    "--source-weight",
    "source_weights",
    multiple=True,
    metavar="SOURCE=WEIGHT",
    help="Loss weight of an extra pool source (default 1.0); repeat for several.",
)
@click.option("--quick", is_flag=True, help="A few dozen questions, one short epoch (tests).")
@click.option("--fresh", is_flag=True, help="Discard the checkpoint in WORK and start over.")
@click.option("--epochs", type=click.IntRange(1, 50), default=None, help="Training epochs.")
@click.option("--seed", type=int, default=None, help="Random seed (default 13).")
@click.option(
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Peak learning rate after the warm-up (default 1e-4).",
)
@click.option(
    "--warmup",
    type=click.FloatRange(0, 0.5),
    default=None,
    help="Share of the steps over which the learning rate rises to its peak (default 0.1).",
)
@click.option(
    "--silver-weight",
    type=click.FloatRange(min=0),
    default=None,
    help="Loss weight of a silver-labelled example (default 0.5; 0: gold labels only).",
)
@click.option(
    "--negatives",
    type=click.IntRange(1, 3),
    default=None,
    help='Retrieved chunks without the answer read per question, as "no answer" (default 1).',
)
@click.option(
    "--shared-loss",
    type=click.FloatRange(min=0),
    default=None,
    help="Weight of a loss normalised over all of a question's chunks (default 0: off).",
)
@click.option(
    "--bf16",
    is_flag=True,
    default=None,
    help="Autocast the forward pass to bf16 (a CPU with avx512_bf16 or AMX, or a GPU).",
)
@click.option(
    "--calibrate-only",
    is_flag=True,
    help="Keep the trained model in OUT; choose its threshold and combination again (minutes).",
)
def train_reader_cmd(
    out,
    work,
    gold,
    silver,
    extra,
    source_weights,
    quick,
    fresh,
    epochs,
    seed,
    learning_rate,
    warmup,
    silver_weight,
    negatives,
    shared_loss,
    bf16,
    calibrate_only,
) -> None:
    """Train the extractive reader from nothing and write it as int8 ONNX with its model card.

    About 2 hours on 2 CPU cores (3 epochs); a GPU is used when one is present.
    """
    from dataclasses import replace

    from qa.reader import DEFAULT_DIR
    from training.data import DataSettings
    from training.loop import CHECKPOINT
    from training.run import QUICK, TrainSettings, recalibrate, train_reader

    if calibrate_only:
        # These shape a training run; recalibration keeps the trained model as it is.
        given = [
            flag
            for flag, value in (
                ("--fresh", fresh),
                ("--epochs", epochs),
                ("--seed", seed),
                ("--learning-rate", learning_rate),
                ("--warmup", warmup),
                ("--silver-weight", silver_weight),
                ("--negatives", negatives),
                ("--shared-loss", shared_loss),
                ("--bf16", bf16 or None),
                ("--extra", extra),
                ("--source-weight", source_weights or None),
            )
            # "is", not "in": a zero (--warmup 0, --silver-weight 0) equals False
            if value is not None and value is not False
        ]
        if given:
            raise click.UsageError(
                f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to "
                "training; --calibrate-only keeps the model in OUT as it was trained. "
                "Drop them, or train without --calibrate-only."
            )
    work_dir = Path(work)
    settings = QUICK if quick else TrainSettings()
    if epochs is not None:
        settings = replace(settings, epochs=epochs)
    if seed is not None:
        settings = replace(settings, seed=seed)
    if learning_rate is not None:
        settings = replace(settings, learning_rate=learning_rate)
    if warmup is not None:
        settings = replace(settings, warmup=warmup)
    if shared_loss is not None:
        settings = replace(settings, shared_loss=shared_loss)
    if bf16:
        import torch

        from training.loop import cpu_has_bf16

        if not (cpu_has_bf16() or torch.cuda.is_available()):
            raise click.UsageError(
                "--bf16 needs a CPU with bf16 arithmetic (avx512_bf16 or AMX in /proc/cpuinfo) "
                "or a GPU; this machine has neither, so train without it."
            )
        settings = replace(settings, bf16=True)
    data = DataSettings()
    if silver_weight is not None:
        data = replace(data, silver_weight=silver_weight)
    if negatives is not None:
        data = replace(data, negatives=negatives, unanswerable_chunks=negatives)
    if source_weights:
        data = replace(data, source_weights=_source_weights(source_weights))
    if extra:
        data = replace(data, extra=str(Path(extra)))
    if fresh and not calibrate_only:  # recalibrating never touches the training checkpoint
        (work_dir / CHECKPOINT).unlink(missing_ok=True)
    target = Path(out) if out else (work_dir / "quick-reader" if quick else DEFAULT_DIR)
    pools = {"gold": Path(gold), "silver": Path(silver) if silver else None}

    def log(line: str) -> None:
        click.echo(line, err=True)

    if calibrate_only:
        report = recalibrate(target, **pools, log=log)
        done = f"Reader in {report.out} recalibrated"
    else:
        report = train_reader(
            target, work_dir, **pools, quick=quick, settings=settings, data=data, log=log
        )
        done = (
            f"Reader written to {report.out} after {report.minutes} min of training; "
            f"threshold {report.threshold:+.2f}"
        )
    v = report.validation
    click.echo(
        f"{done}; validation overall F1 {v['f1']:.3f}, HasAns F1 {v['HasAns_f1']:.3f}, "
        f"NoAns {v['NoAns_f1']:.3f} (decided by {v['decided_by']})."
    )


def _source_weights(given: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """``SOURCE=WEIGHT`` pairs, in the order given; a usage error names a bad one."""
    out = []
    for item in given:
        source, sep, raw = item.partition("=")
        try:
            weight = float(raw)
        except ValueError:
            weight = -1.0
        if not (sep and source and weight >= 0):
            raise click.UsageError(
                f"--source-weight {item!r}: give SOURCE=WEIGHT with a weight of 0 or more, "
                "e.g. --source-weight covid-qa-200423=0.5"
            )
        out.append((source, weight))
    return tuple(out)
