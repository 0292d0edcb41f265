"""Fine-tuning the packaged MiniLM as a SQuAD 2.0 reader, resumable.

transformers' ``AutoModelForQuestionAnswering`` on the packaged
all-MiniLM-L6-v2 weights (span heads initialised fresh), trained with plain
PyTorch rather than ``transformers.Trainer``: the Trainer's resumption keys
on its own checkpoint folders and data order, while here a killed run must
resume mid-epoch from one atomic file with the exact batch order it had, and
the loop is forty lines. [CLS] is the target of "no answer in this chunk".

On 2 CPU cores a step of 16 examples takes about 3 s, so the choices that
save time without measured loss are made by default: the word-embedding
matrix is frozen (half the parameters, and small data gains nothing from
moving it), batches are grouped by length so padding costs little, and
attention is PyTorch's fused ``scaled_dot_product_attention`` (7 % less time
a step than the eager attention the ONNX export uses; the same arithmetic).
``freeze_layers`` also freezes the lowest encoder layers, so the backward
pass stops above them: 2 layers take a step from 3.2 s to 2.3 s, but the
reader trained so scored 0.499 on the validation articles against 0.535
(2026-12-02), so none are frozen by default. ``shared_loss`` 1.0 (one
softmax over all of a question's chunks) read the validation chunks better
(span F1 0.514 against 0.465 for the same examples) but decided only 0.6
points better (0.534 against 0.528, 2026-12-07), within run-to-run noise, so
it is off by default.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from index.errors import InputError
from qa.reader import Encoded, Tokenizer

from .data import Example

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 3
    learning_rate: float = 1e-4
    warmup: float = 0.1  # share of all steps
    weight_decay: float = 0.01
    batch_size: int = 16
    max_length: int = 288  # tokens of question + chunk (a chunk is at most 192)
    max_question_tokens: int = 64
    seed: int = 13
    freeze_embeddings: bool = True
    # Lowest encoder layers kept as packaged (with all the embeddings): the
    # backward pass stops above them.
    freeze_layers: int = 0
    # Weight of the loss normalised over all of a question's chunks at once
    # (Clark & Gardner 2018, "shared normalisation"; 0: each chunk on its own).
    # Answering picks the best span across the chunks it reads, so their
    # scores must compare; batches then hold whole questions.
    shared_loss: float = 0.0
    # bf16 autocast of the forward pass on a CPU that has bf16 arithmetic
    # (avx512_bf16 or AMX), or on a GPU; the weights and the optimiser stay fp32.
    bf16: bool = False
    checkpoint_every: int = 50  # steps


# ``--quick``: the whole path on a few dozen questions, in seconds a step.
QUICK = TrainSettings(epochs=1, batch_size=8, checkpoint_every=2)


@dataclass(frozen=True)
class Feature:
    encoded: Encoded
    start: int  # token position of the answer's start (0: [CLS], no answer)
    end: int
    weight: float
    qid: str = ""  # the question it reads (chunks of one question share it)


def featurise(examples: Sequence[Example], tokenizer: Tokenizer, s: TrainSettings) -> list[Feature]:
    """Examples as token ids with answer positions (an answer cut off counts as none)."""
    out = []
    for ex in examples:
        enc = tokenizer.encode(ex.question, [ex.context], s.max_length, s.max_question_tokens)[0]
        start = end = 0
        for a, b in ex.answers if enc.offsets else ():
            first = next((i for i, (_, e) in enumerate(enc.offsets) if e > a), None)
            last = next(
                (i for i in range(len(enc.offsets) - 1, -1, -1) if enc.offsets[i][0] < b), None
            )
            if first is not None and last is not None and first <= last and enc.offsets[-1][1] >= b:
                start, end = enc.context_start + first, enc.context_start + last
                break
        out.append(Feature(enc, start, end, ex.weight, ex.qid))
    return out


def batches(features: Sequence[Feature], size: int, seed: int) -> list[list[int]]:
    """One epoch's batches: shuffled, then grouped by length within pools of 50 batches."""
    rng = random.Random(seed)
    order = list(range(len(features)))
    rng.shuffle(order)
    pool = size * 50
    out: list[list[int]] = []
    for p in range(0, len(order), pool):
        group = sorted(order[p : p + pool], key=lambda i: len(features[i].encoded.ids))
        out.extend(group[i : i + size] for i in range(0, len(group), size))
    rng.shuffle(out)
    return out


def by_question(features: Sequence[Feature]) -> list[list[int]]:
    """The positions of each question's features, questions in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(features):
        groups.setdefault(f.qid or f"#{i}", []).append(i)  # no qid: a question of its own
    return list(groups.values())


def epoch_plan(features: Sequence[Feature], settings: TrainSettings, epoch: int) -> list[list[int]]:
    """The batches of one epoch (whole questions when the shared loss is on)."""
    make = question_batches if settings.shared_loss else batches
    return make(features, settings.batch_size, settings.seed + epoch)


def question_batches(features: Sequence[Feature], size: int, seed: int) -> list[list[int]]:
    """One epoch's batches of whole questions (all the chunks of each), about ``size`` chunks.

    As ``batches``: shuffled, then grouped by length within pools of 50 batches.
    """
    rng = random.Random(seed)
    order = by_question(features)
    rng.shuffle(order)
    out: list[list[int]] = []
    pool = size * 50
    # Pools of about 50 batches' chunks, each sorted by its longest chunk.
    pools: list[list[list[int]]] = [[]]
    count = 0
    for group in order:
        if count >= pool:
            pools.append([])
            count = 0
        pools[-1].append(group)
        count += len(group)
    for members in pools:
        members.sort(key=lambda g: max(len(features[i].encoded.ids) for i in g))
        batch: list[int] = []
        for group in members:
            if batch and len(batch) + len(group) > size:
                out.append(batch)
                batch = []
            batch.extend(group)
        if batch:
            out.append(batch)
    rng.shuffle(out)
    return out


def shared_loss(start_logits, end_logits, features: Sequence[Feature], mask):
    """Per-question loss with one softmax over all of its chunks' positions.

    The right positions are the answer's in every chunk that holds it; where
    none does (an unanswerable question, or its answer cut off), every
    chunk's [CLS]. Returns one loss per question, in order of first appearance.
    """
    import torch

    neg = torch.finfo(start_logits.dtype).min / 4
    width = start_logits.shape[1]
    questions = by_question(features)
    losses = []
    for rows in questions:
        padding = mask[rows] == 0
        answered = any(features[r].start > 0 for r in rows)
        total = 0.0
        for logits, pos in ((start_logits, "start"), (end_logits, "end")):
            flat = logits[rows].masked_fill(padding, neg).reshape(-1)
            # Flat positions: the answer's in each chunk holding it, else each [CLS].
            right = [
                k * width + (getattr(features[r], pos) if answered else 0)
                for k, r in enumerate(rows)
                if not answered or features[r].start > 0
            ]
            total = total + torch.logsumexp(flat, 0) - torch.logsumexp(flat[right], 0)
        losses.append(total / 2)
    return torch.stack(losses), [features[rows[0]].weight for rows in questions]


def _tensors(features: Sequence[Feature], pad: int, device):
    import torch

    from qa.reader import batch_arrays

    arrays = batch_arrays([f.encoded for f in features], pad)
    inputs = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
    starts = torch.tensor([f.start for f in features], device=device)
    ends = torch.tensor([f.end for f in features], device=device)
    weights = torch.tensor([f.weight for f in features], dtype=torch.float32, device=device)
    return inputs, starts, ends, weights


def cpu_has_bf16() -> bool:
    """Whether this CPU does bf16 arithmetic natively (``avx512_bf16`` or AMX in cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast(settings: TrainSettings, device):
    """The forward pass's autocast context: bf16 where the settings ask for it, else none."""
    import contextlib

    import torch

    if not settings.bf16:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def load_base_model(model_dir: Path, attention: str = "sdpa"):
    """The packaged MiniLM with fresh span heads.

    Fused attention to train; the export switches to eager attention, whose
    graph keeps the padding mask whatever the traced sample holds.
    """
    from transformers import AutoModelForQuestionAnswering
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "some weights were newly initialised" is the point
    return AutoModelForQuestionAnswering.from_pretrained(
        str(model_dir), attn_implementation=attention
    )


def freeze(model, settings: TrainSettings) -> None:
    """Keep the packaged weights the settings say stay as they are."""
    if settings.freeze_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    if settings.freeze_layers:
        for module in (model.bert.embeddings, *model.bert.encoder.layer[: settings.freeze_layers]):
            module.requires_grad_(False)


def train(
    features: list[Feature],
    model_dir: Path,
    work: Path,
    settings: TrainSettings,
    *,
    pad: int,
    evaluate: Callable[[object], dict] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
):
    """Train (or resume) and return (model, history); checkpoints to ``work/checkpoint.pt``."""
    import torch
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    model = load_base_model(model_dir).to(device)
    freeze(model, settings)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": settings.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=settings.learning_rate,
    )
    plans = [epoch_plan(features, settings, e) for e in range(settings.epochs)]
    total = sum(len(plan) for plan in plans)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(settings.warmup * total), total)

    state = {"epoch": 0, "batch": 0, "step": 0, "history": [], "seconds": 0.0}
    path = work / CHECKPOINT
    if path.is_file():
        saved = torch.load(path, map_location=device, weights_only=False)
        if saved["settings"] != asdict(settings) or saved["features"] != len(features):
            raise InputError(
                f"{path} was written by a run with other settings or data; "
                "remove it (or use --fresh) to start over."
            )
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"])
        state = saved["state"]
        log(f"Resuming from {path}: epoch {state['epoch'] + 1}, step {state['step']} of {total}.")

    def save() -> None:
        tmp = path.with_suffix(".tmp")
        torch.save(
            {
                "settings": asdict(settings),
                "features": len(features),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(),
                "state": state,
            },
            tmp,
        )
        os.replace(tmp, path)

    work.mkdir(parents=True, exist_ok=True)
    bar = tqdm(
        total=total,
        initial=state["step"],
        desc="Training the reader",
        unit="step",
        disable=not progress,
        smoothing=0.05,
    )
    started = time.perf_counter() - state["seconds"]
    recent: list[float] = []
    while state["epoch"] < settings.epochs:
        epoch = state["epoch"]
        plan = plans[epoch]
        model.train()
        for b in range(state["batch"], len(plan)):
            batch = [features[i] for i in plan[b]]
            inputs, starts, ends, weights = _tensors(batch, pad, device)
            with autocast(settings, device):
                out = model(**inputs)
            start_logits, end_logits = out.start_logits.float(), out.end_logits.float()
            loss_s = torch.nn.functional.cross_entropy(start_logits, starts, reduction="none")
            loss_e = torch.nn.functional.cross_entropy(end_logits, ends, reduction="none")
            loss = ((loss_s + loss_e) / 2 * weights).sum() / weights.sum()
            if settings.shared_loss:
                per_question, q_weights = shared_loss(
                    start_logits, end_logits, batch, inputs["attention_mask"]
                )
                w = torch.tensor(q_weights, dtype=per_question.dtype, device=device)
                loss = loss + settings.shared_loss * (per_question * w).sum() / w.sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            recent = [*recent[-49:], float(loss.detach())]
            state["batch"], state["step"] = b + 1, state["step"] + 1
            state["seconds"] = time.perf_counter() - started
            bar.update()
            bar.set_postfix(epoch=epoch + 1, loss=f"{sum(recent) / len(recent):.3f}")
            if state["step"] % settings.checkpoint_every == 0:
                save()
        row = {
            "epoch": epoch + 1,
            "train_loss": sum(recent) / max(len(recent), 1),
            "minutes": round(state["seconds"] / 60, 1),
        }
        if evaluate is not None:
            model.eval()
            row.update(evaluate(model))
        state["history"].append(row)
        log(json.dumps(row))
        state["epoch"], state["batch"] = epoch + 1, 0
        save()
    bar.close()
    model.eval()
    return model, state["history"], state["seconds"]
