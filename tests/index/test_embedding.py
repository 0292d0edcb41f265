"""The real int8 embedder: vectors that do not depend on how texts were grouped.

Bulk embedding shares texts out over several single-threaded sessions, in an
order of their own; a query goes alone through a multi-threaded session. A
chunk embedded at build time and the same text embedded later (a re-index, a
sentence looked up at query time) must get the same vector either way, or
scores would drift with the company a text happened to keep.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from index import get_embedder
from tests.conftest import ROOT, SEED_FILE

TEXTS = [
    "The company exported goods worth $45.1 million in its first year.",
    "Short.",
    "",
    "Kyrgyzstan's trade with Turkey grew quickly after the new road opened " * 12,
    "A question: when did the factory open?",
]


@pytest.fixture(scope="module")
def embedder():
    emb = get_embedder()
    emb.load()
    return emb


def test_vectors_do_not_depend_on_neighbours_order_or_being_alone(embedder):
    together = embedder.embed(TEXTS)
    alone = np.stack([embedder.embed([t])[0] for t in TEXTS])
    reversed_ = embedder.embed(TEXTS[::-1])[::-1]
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(together, reversed_)
    assert together.shape == (len(TEXTS), embedder.info.dim)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_int8_vectors_stay_close_to_the_fp32_model(embedder):
    """Quantisation may move a vector a little, never to another meaning."""
    fp32 = embedder.st_model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    cosines = np.sum(embedder.embed(TEXTS) * fp32, axis=1)
    assert cosines.min() > 0.97, cosines
    related, unrelated = (
        embedder.embed(["How much did the company export?", "The recipe needs two eggs."])
        @ embedder.embed([TEXTS[0]])[0]
    )
    assert related > unrelated + 0.2


def test_word_pieces_match_the_transformers_tokenizer(embedder):
    """The embedder reads tokenizer.json with ``tokenizers`` alone (no 4 s transformers
    import); it must cut text exactly as the model's own AutoTokenizer does."""
    from transformers import AutoTokenizer

    from index.embedding import MAX_SEQ_TOKENS, model_dir

    reference = AutoTokenizer.from_pretrained(str(model_dir()))
    squad = json.loads((ROOT / "benchmarks/data/squad-v2-sample.json").read_text())
    texts = (ROOT / SEED_FILE).read_text().split("\n") + TEXTS
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            texts += [paragraph["context"]] + [q["question"] for q in paragraph["qas"]]
    texts += ["  ", "Ünïcödé ñ 中文 😀 \u200b tab\there", "a" * 3000, "word " * 700]
    plain = reference(texts, add_special_tokens=False, truncation=False)["input_ids"]
    model = reference(texts, truncation=True, max_length=MAX_SEQ_TOKENS)["input_ids"]
    assert embedder.count_tokens(texts) == [len(ids) for ids in plain]
    assert embedder.tokenizer.pieces(texts) == plain
    assert embedder.tokenizer.model_input(texts) == model
    assert max(len(ids) for ids in model) == MAX_SEQ_TOKENS  # the long ones were cut
