"""The committed reader (qa/reader_model/): loading, integrity, answers and abstentions."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from qa.reader import (
    CONFIG_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    Encoded,
    Reader,
    ReaderMissingError,
    best_spans,
    default_dir,
)
from tests.conftest import SEED_FILE, run_cli


def test_best_spans_respect_order_and_length():
    enc = Encoded([101, 7, 102, 1, 2, 3, 102], [0, 0, 0, 1, 1, 1, 1], 3, [(0, 1), (2, 3), (4, 5)])
    start = np.array([5.0, 0, 0, 0.0, 1.0, 4.0, 0])
    end = np.array([1.0, 0, 0, 3.0, 0.0, 0.5, 0])
    spans = best_spans(start, end, enc, 0, max_answer_tokens=2, top=3)
    # The best pair would be start 5 / end 3 (the end before the start): never proposed.
    assert [(s.start, s.end) for s in spans] == [(4, 5), (0, 1), (2, 5)]
    assert spans[0].score == pytest.approx(4.5)
    assert spans[0].null == pytest.approx(6.0)
    assert spans[0].margin == pytest.approx(-1.5)


def test_a_span_grows_to_whole_words_and_joined_compounds():
    from qa.spans import whole_words as _whole_words

    text = "By Ayya Lmahamad, date 2021-02-19. It runs Azerspace-1 - and OJSC."
    date = text.index("2021")
    assert text[slice(*_whole_words(text, date, date + 4))] == "2021-02-19"
    sat = text.index("Azerspace")
    assert text[slice(*_whole_words(text, sat + 2, sat + 5))] == "Azerspace-1"  # not " - and"
    ojsc = text.index("OJSC")
    assert text[slice(*_whole_words(text, ojsc + 1, ojsc + 3))] == "OJSC"


def test_the_committed_reader_loads_and_is_verified():
    reader = Reader()
    assert reader.config.max_length >= 256
    assert (default_dir() / MODEL_FILE).stat().st_size < 30 * 2**20
    assert (default_dir() / "MODEL_CARD.md").is_file()


@pytest.fixture
def reader_copy(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(default_dir(), folder)
    return folder


def test_an_altered_model_file_is_refused(reader_copy):
    data = bytearray((reader_copy / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (reader_copy / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ReaderMissingError, match=r"does not match its sha256.*make reader"):
        Reader(reader_copy)


@pytest.mark.parametrize("missing", [MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE])
def test_a_missing_file_is_refused_with_the_rebuild_command(reader_copy, missing):
    (reader_copy / missing).unlink()
    with pytest.raises(ReaderMissingError, match="make reader"):
        Reader(reader_copy)


@pytest.mark.slow
def test_the_cli_reports_a_broken_reader_in_one_line(reader_copy, seed_index):
    (reader_copy / TOKENIZER_FILE).write_text("{}")
    done = run_cli(
        "ask",
        "How much did Azercosmos export in 2020?",
        "--index-dir",
        str(seed_index),
        env={"SEEDQA_READER_DIR": str(reader_copy)},
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "make reader" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_an_answer_with_its_exact_citation(assistant, seed_index):
    answer = assistant.answer("How much did Azercosmos export in 2020?")
    assert not answer.abstained, answer.reason
    assert "45.1 million" in answer.text
    assert answer.signals["answer_score"] >= assistant.reader_threshold
    text = (seed_index.parents[0] / SEED_FILE).read_text(encoding="utf-8")
    for c in answer.citations:
        assert text[c.start : c.end] == c.quote
    assert any(answer.text in c.quote for c in answer.citations)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    ["Who won the 2018 FIFA World Cup?", "How many employees does Azercosmos have?"],
)
def test_an_abstention(assistant, question):
    answer = assistant.answer(question)
    assert answer.abstained, (answer.text, answer.reason)
    assert not answer.citations


def _matmul_weights(path):
    """Every matrix product's weight tensor of an int8 ONNX model, by name."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    tensors = {t.name: t for t in model.graph.initializer}
    names = [n.input[1] for n in model.graph.node if n.op_type in ("MatMulInteger", "QAttention")]
    return {name: numpy_helper.to_array(tensors[name]) for name in names if name in tensors}


def test_the_committed_reader_multiplies_uint8_weights_only():
    """Int8 weights are summed with saturation on AVX2 CPUs and exactly on VNNI ones:
    the same reader then answered differently by machine (index.embedding.weights_as_uint8)."""
    weights = _matmul_weights(default_dir() / MODEL_FILE)
    assert len(weights) >= 24  # 6 layers: attention, its output, two feed-forward; the head
    assert {w.dtype for w in weights.values()} == {np.dtype(np.uint8)}


def test_int8_weights_become_uint8_without_changing_a_value(tmp_path):
    from index.embedding import get_embedder, onnx_model_path, weights_as_uint8

    embedder = get_embedder("onnx-int8")
    int8 = onnx_model_path(lambda: embedder.st_model)  # the embedder keeps int8 weights
    before = _matmul_weights(int8)
    assert {w.dtype for w in before.values()} == {np.dtype(np.int8)}
    assert weights_as_uint8(int8, tmp_path / "u8.onnx") == len(before)
    after = _matmul_weights(tmp_path / "u8.onnx")
    for name, w in before.items():
        assert np.array_equal(after[name].astype(np.int16) - 128, w), name
    assert weights_as_uint8(tmp_path / "u8.onnx", tmp_path / "again.onnx") == 0  # idempotent
