"""``seedqa train-reader``: pools -> examples -> training -> export -> threshold -> card.

Every stage's output lands in the work folder (examples, the resumable
checkpoint), so a killed run started again picks up where it stopped; the
reader folder is replaced only once the new one is complete.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from index.errors import InputError
from qa.reader import MODEL_FILE, TOKENIZER_FILE, Tokenizer, best_spans

from .data import (
    GOLD_POOL,
    SILVER_POOL,
    DataSettings,
    Example,
    build_examples,
    load_examples,
    save_examples,
    split_pools,
)
from .loop import QUICK, Feature, TrainSettings, featurise, train

MAX_ANSWER_TOKENS = 30


@dataclass
class TrainReport:
    out: Path
    history: list[dict]
    minutes: float
    threshold: float
    validation: dict
    examples: dict[str, int]


def train_reader(
    out: Path,
    work: Path,
    *,
    gold: Path = GOLD_POOL,
    silver: Path | None = SILVER_POOL,
    quick: bool = False,
    settings: TrainSettings | None = None,
    data: DataSettings | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> TrainReport:
    from index.embedding import model_dir

    settings = settings or (QUICK if quick else TrainSettings())
    data = data or DataSettings()
    work.mkdir(parents=True, exist_ok=True)
    base = model_dir()
    tokenizer = Tokenizer(base / TOKENIZER_FILE)

    extra = Path(data.extra) if data.extra else None
    train_set, valid_set, pools = split_pools(gold, silver, quick=quick, extra=extra)
    key = _data_key(gold, silver, quick, data, extra)
    examples = {}
    for name, dataset in (("train", train_set), ("validation", valid_set)):
        path = work / f"examples-{name}-{key}.jsonl"
        if path.is_file():
            examples[name] = load_examples(path)
        else:
            log(f"Building {name} examples from {len(dataset.cases)} questions…")
            examples[name] = build_examples(dataset, pools, data, progress=progress)
            save_examples(examples[name], path)
    counts = {k: len(v) for k, v in examples.items()}
    log(f"Examples: {counts['train']} for training, {counts['validation']} for validation.")

    features = featurise(examples["train"], tokenizer, settings)
    # Every 3rd validation pair is enough to follow the epochs (a minute on 2 cores).
    watched = examples["validation"][::3]
    valid_features = featurise(watched, tokenizer, settings)

    def evaluate(model) -> dict:
        return chunk_metrics(model, valid_features, watched, tokenizer.pad)

    model, history, seconds = train(
        features,
        base,
        work,
        settings,
        pad=tokenizer.pad,
        evaluate=evaluate,
        progress=progress,
        log=log,
    )

    from .export import write_reader

    write_reader(model, base / TOKENIZER_FILE, out, reading_config(settings))
    report = TrainReport(out, history, round(seconds / 60, 1), 0.0, {}, counts)
    return calibrate(out, valid_set, report, settings, data, gold, silver, quick, progress, log)


def reading_config(settings: TrainSettings) -> dict:
    """``reader.json`` before calibration: how to read, no threshold yet."""
    return {
        "max_length": settings.max_length,
        "max_question_tokens": settings.max_question_tokens,
        "max_answer_tokens": MAX_ANSWER_TOKENS,
        "threshold": 0.0,
    }


def recalibrate(
    out: Path,
    *,
    gold: Path = GOLD_POOL,
    silver: Path | None = SILVER_POOL,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> TrainReport:
    """Choose the threshold and combination again for the trained reader in ``out``.

    For a change to how answers are chosen or decided (qa/confidence.py): the
    model stays as it is, its ``reader.json``, ``training.json`` and card are
    rewritten from the same validation articles, so a reader need not be
    trained again (2 hours on 2 cores) to take up a new decision rule.
    """
    try:
        done = json.loads((out / "training.json").read_text(encoding="utf-8"))
        settings = TrainSettings(**done["settings"])
        data = DataSettings(**done["data"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{out} holds no reader made by `seedqa train-reader` ({exc}); train one first."
        ) from exc
    quick = bool(done.get("quick"))
    _, valid_set, _ = split_pools(gold, silver, quick=quick)
    report = TrainReport(out, done["history"], done["minutes"], 0.0, {}, done.get("examples", {}))
    return calibrate(out, valid_set, report, settings, data, gold, silver, quick, progress, log)


def calibrate(
    out: Path,
    valid_set,
    report: TrainReport,
    settings: TrainSettings,
    data: DataSettings,
    gold: Path,
    silver: Path | None,
    quick: bool,
    progress: bool,
    log: Callable[[str], None],
) -> TrainReport:
    """Threshold and combination chosen on the validation articles; config, card, record."""
    from qa.reader import ReaderConfig

    from .calibrate import choose_threshold, objective
    from .card import kept_notes, model_card
    from .export import write_config

    read = ReaderConfig.read(out)
    config = {
        "max_length": read.max_length,
        "max_question_tokens": read.max_question_tokens,
        "max_answer_tokens": read.max_answer_tokens,
        "threshold": 0.0,
    }
    log("Choosing the answer threshold on the validation articles (open retrieval)…")
    threshold, by_margin, combiner, combined = choose_threshold(out, valid_set, progress=progress)
    config["threshold"] = threshold
    # The combination is kept only where it beats the margin alone out of fold.
    if combiner is not None and combined is not None and objective(combined) > objective(by_margin):
        config["combiner"] = combiner.to_config()
        validation = {**combined, "decided_by": "combination (out-of-fold)"}
    else:
        validation = {**by_margin, "decided_by": "margin"}
    write_config(out, config)
    log(f"Validation, margin alone: {json.dumps(by_margin)}; combination: {json.dumps(combined)}")
    report = replace(report, threshold=threshold, validation=validation)
    # The notes follow the model: reader.json holds its digest (verified on loading it).
    card_path = out / "MODEL_CARD.md"
    old_card = card_path.read_text(encoding="utf-8") if card_path.is_file() else ""
    notes = kept_notes(old_card, read.sha256.get(MODEL_FILE, ""))
    card = model_card(report, settings, data, gold, silver, quick, notes)
    card_path.write_text(card, encoding="utf-8")
    (out / "training.json").write_text(
        json.dumps(
            {
                "settings": asdict(settings),
                "data": asdict(data),
                "quick": quick,
                "history": report.history,
                "minutes": report.minutes,
                "threshold": threshold,
                "validation": validation,
                "validation_margin_only": by_margin,
                "validation_combined_out_of_fold": combined,
                "examples": report.examples,
                "finished": time.strftime("%Y-%m-%d %H:%M"),
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    return report


def _data_key(
    gold: Path, silver: Path | None, quick: bool, data: DataSettings, extra: Path | None = None
) -> str:
    digest = hashlib.sha256()
    for path in (gold, silver, extra):
        if path is not None:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps([quick, asdict(data)]).encode())
    return digest.hexdigest()[:12]


def chunk_metrics(model, features: list[Feature], examples: list[Example], pad: int) -> dict:
    """How the model reads the validation chunks: loss, span F1 on positives, null on negatives."""
    import torch

    from eval.metrics import f1

    from .loop import _tensors

    device = next(model.parameters()).device
    losses, span_f1, null_ok = [], [], []
    with torch.no_grad():
        for b in range(0, len(features), 64):
            batch = features[b : b + 64]
            inputs, starts, ends, _ = _tensors(batch, pad, device)
            out = model(**inputs)
            ls = torch.nn.functional.cross_entropy(out.start_logits, starts, reduction="none")
            le = torch.nn.functional.cross_entropy(out.end_logits, ends, reduction="none")
            losses.extend(((ls + le) / 2).tolist())
            s_all = out.start_logits.float().cpu().numpy()
            e_all = out.end_logits.float().cpu().numpy()
            for i, feat in enumerate(batch):
                ex = examples[b + i]
                spans = best_spans(
                    s_all[i], e_all[i], feat.encoded, 0, max_answer_tokens=MAX_ANSWER_TOKENS, top=1
                )
                best = spans[0] if spans else None
                answered = best is not None and best.margin > 0
                if ex.answers:
                    pred = ex.context[best.start : best.end] if answered and best else ""
                    golds = [ex.context[a:b] for a, b in ex.answers]
                    span_f1.append(max(f1(pred, g) for g in golds))
                else:
                    null_ok.append(not answered)
    return {
        "val_loss": round(float(np.mean(losses)), 4),
        "val_span_f1": round(float(np.mean(span_f1)), 4) if span_f1 else None,
        "val_null_acc": round(float(np.mean(null_ok)), 4) if null_ok else None,
    }


__all__ = [
    "QUICK",
    "DataSettings",
    "TrainReport",
    "TrainSettings",
    "calibrate",
    "reading_config",
    "recalibrate",
    "train_reader",
]
