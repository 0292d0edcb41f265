"""The trained extractive reader: question + chunk -> answer span or "not here".

A 6-layer MiniLM with span heads and a no-answer score (SQuAD 2.0 style),
fine-tuned by ``seedqa train-reader`` (``training/``) and shipped in
``qa/reader_model/`` (package data, so an installed seedqa has it) as an int8
ONNX model with its tokenizer and a model card.
It reads the top retrieved chunks in one batch; for every chunk it gives the
best spans (start logit + end logit) and the null score (both logits on
[CLS]). Loading checks every file's sha256 against ``reader.json``, so a
missing or altered file is a one-line error naming the command that rebuilds
it, never a silently different model.

The encoding (:func:`encode`) is shared with training, so the model reads at
answer time exactly what it was trained on.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from index.documents import sha256_file
from index.errors import SeedqaError

from .confidence import Combiner

DEFAULT_DIR = Path(__file__).resolve().parent / "reader_model"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "reader.json"
REBUILD = "`make reader` (or `seedqa train-reader`)"


class ReaderMissingError(SeedqaError):
    """The reader's files are missing or do not match their recorded sha256."""


@dataclass(frozen=True)
class Encoded:
    """One question + context pair as the model reads it."""

    ids: list[int]
    type_ids: list[int]
    context_start: int  # position of the context's first token in ``ids``
    offsets: list[tuple[int, int]]  # each context token's characters in the context


@dataclass(frozen=True)
class Span:
    """A span the reader proposes in one context."""

    context: int  # which of the contexts read
    start: int  # characters in that context
    end: int
    score: float  # start logit + end logit
    null: float  # that context's no-answer score

    @property
    def margin(self) -> float:
        """How much the span beats "no answer in this chunk"."""
        return self.score - self.null


@dataclass(frozen=True)
class Reading:
    """What the reader made of one context: its no-answer score and best spans."""

    null: float
    spans: tuple[Span, ...]


class Tokenizer:
    """The MiniLM word pieces (``tokenizers`` alone: no transformers import)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self._tok = HFTokenizer.from_file(str(path))
        self._tok.no_padding()
        self._tok.no_truncation()
        self.cls = self._tok.token_to_id("[CLS]")
        self.sep = self._tok.token_to_id("[SEP]")
        self.pad = self._tok.token_to_id("[PAD]") or 0

    def encode(
        self, question: str, contexts: Sequence[str], max_length: int, max_question: int
    ) -> list[Encoded]:
        """``[CLS] question [SEP] context [SEP]``, the context cut to fit ``max_length``.

        Question and context are encoded apart (WordPiece never merges across
        them, so the ids equal a pair encoding) to keep the context's offsets
        relative to the context itself.
        """
        q = self._tok.encode(question, add_special_tokens=False).ids[:max_question]
        out = []
        room = max_length - len(q) - 3
        for enc in self._tok.encode_batch(list(contexts), add_special_tokens=False):
            ids, offs = enc.ids[:room], enc.offsets[:room]
            full = [self.cls, *q, self.sep, *ids, self.sep]
            types = [0] * (len(q) + 2) + [1] * (len(ids) + 1)
            out.append(Encoded(full, types, len(q) + 2, [tuple(o) for o in offs]))
        return out


def batch_arrays(encoded: Sequence[Encoded], pad: int) -> dict[str, np.ndarray]:
    """Padded int64 model inputs for a batch."""
    width = max(len(e.ids) for e in encoded)
    ids = np.full((len(encoded), width), pad, dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, e in enumerate(encoded):
        n = len(e.ids)
        ids[i, :n] = e.ids
        mask[i, :n] = 1
        types[i, :n] = e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    encoded: Encoded,
    context: int,
    *,
    max_answer_tokens: int,
    top: int,
) -> list[Span]:
    """The ``top`` best spans of one context (start <= end, at most ``max_answer_tokens``)."""
    c0 = encoded.context_start
    n = len(encoded.offsets)
    null = float(start_logits[0] + end_logits[0])
    if n == 0:
        return []
    s = start_logits[c0 : c0 + n].astype(np.float64)
    e = end_logits[c0 : c0 + n].astype(np.float64)
    scores = s[:, None] + e[None, :]
    i, j = np.indices(scores.shape)
    scores[(j < i) | (j - i >= max_answer_tokens)] = -np.inf
    flat = np.argsort(-scores, axis=None)[:top]
    out = []
    for k in flat:
        a, b = divmod(int(k), n)
        if not np.isfinite(scores[a, b]):
            break
        out.append(
            Span(context, encoded.offsets[a][0], encoded.offsets[b][1], float(scores[a, b]), null)
        )
    return out


@dataclass(frozen=True)
class ReaderConfig:
    """What ``reader.json`` records beside the files: how to read, and the files' digests."""

    max_length: int
    max_question_tokens: int
    max_answer_tokens: int
    threshold: float  # answer when the best span's margin reaches this (chosen on validation)
    sha256: dict[str, str]
    # The fitted answer/abstain combination (qa/confidence.py), when there is one.
    combiner: dict | None = None

    @classmethod
    def read(cls, folder: Path) -> ReaderConfig:
        path = folder / CONFIG_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                int(raw["max_length"]),
                int(raw["max_question_tokens"]),
                int(raw["max_answer_tokens"]),
                float(raw["threshold"]),
                dict(raw["sha256"]),
                raw.get("combiner"),
            )
        except FileNotFoundError as exc:
            raise ReaderMissingError(
                f"The reader model is missing ({path}). Rebuild it with {REBUILD}."
            ) from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReaderMissingError(
                f"The reader's {path} is unreadable ({exc}). Rebuild it with {REBUILD}."
            ) from exc


def verify(folder: Path, config: ReaderConfig) -> None:
    """Every recorded file present with its recorded sha256, or a one-line error."""
    for name in (MODEL_FILE, TOKENIZER_FILE):
        path = folder / name
        expected = config.sha256.get(name)
        if not path.is_file():
            raise ReaderMissingError(
                f"The reader model file {path} is missing. Rebuild it with {REBUILD}."
            )
        if expected is None or sha256_file(path) != expected:
            raise ReaderMissingError(
                f"The reader model file {path} does not match its sha256 in {CONFIG_FILE} "
                f"(altered or half-copied). Restore it from git or rebuild it with {REBUILD}."
            )


def default_dir() -> Path:
    return Path(os.environ.get("SEEDQA_READER_DIR") or DEFAULT_DIR)


class Reader:
    """The int8 ONNX reader behind one onnxruntime session (thread-safe: one run at a time)."""

    def __init__(self, folder: str | Path | None = None, *, threads: int | None = None) -> None:
        self.folder = Path(folder) if folder else default_dir()
        self.config = ReaderConfig.read(self.folder)
        verify(self.folder, self.config)
        self.tokenizer = Tokenizer(self.folder / TOKENIZER_FILE)
        try:
            self.combiner = Combiner.from_config(self.config.combiner)
        except (KeyError, TypeError, ValueError) as exc:
            raise ReaderMissingError(
                f"The reader's {CONFIG_FILE} holds an unusable combiner ({exc}). "
                f"Rebuild it with {REBUILD}."
            ) from exc
        self._threads = threads
        self._lock = threading.Lock()

    @cached_property
    def session(self):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self._threads or max(1, min(os.cpu_count() or 1, 4))
        # Threads that spin while waiting for work take the cores from any other
        # process on a shared machine (an `seedqa index` beside a question made
        # answers 30x slower); waiting threads sleep instead.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        return ort.InferenceSession(
            str(self.folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )

    def read(self, question: str, contexts: Sequence[str], *, top: int = 5) -> list[Reading]:
        """For each context, its null score and best spans; every context read in one batch."""
        if not contexts:
            return []
        c = self.config
        encoded = self.tokenizer.encode(question, contexts, c.max_length, c.max_question_tokens)
        feed = batch_arrays(encoded, self.tokenizer.pad)
        with self._lock:
            start, end = self.session.run(None, feed)
        return [
            Reading(
                float(start[i][0] + end[i][0]),
                tuple(
                    best_spans(
                        start[i], end[i], enc, i, max_answer_tokens=c.max_answer_tokens, top=top
                    )
                ),
            )
            for i, enc in enumerate(encoded)
        ]


_shared: dict[Path, Reader] = {}
_shared_lock = threading.Lock()


def get_reader(folder: str | Path | None = None) -> Reader:
    """The process-wide reader for a folder (loaded and verified once)."""
    path = (Path(folder) if folder else default_dir()).resolve()
    with _shared_lock:
        if path not in _shared:
            _shared[path] = Reader(path)
        return _shared[path]
