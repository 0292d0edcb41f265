from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import chunk_text, sentence_spans
from index.config import ChunkingConfig


def words(texts):
    """A stand-in token counter for logic tests: one token per word."""
    return [len(t.split()) for t in texts]


def test_sentences_are_exact_slices_and_respect_paragraphs():
    text = "Title line\n\nDr. Smith paid $45.1 million. He left in 2020!\nNext one?"
    spans = sentence_spans(text)
    pieces = [text[s:e] for s, e in spans]
    assert pieces[0] == "Title line"
    assert "Dr. Smith paid $45.1 million." in pieces  # no split after "Dr."
    assert all(p == p.strip() and p for p in pieces)


def test_chunks_pack_sentences_within_budget_with_overlap():
    text = " ".join(f"Sentence number {i} has six words." for i in range(30))
    config = ChunkingConfig(max_tokens=20, overlap_tokens=6)
    chunks = chunk_text(text, words, config)
    assert len(chunks) > 5
    for c in chunks:
        assert sum(words([text[s:e] for s, e in c.sentences])) <= 20
        assert c.start == c.sentences[0][0] and c.end == c.sentences[-1][1]
    # Consecutive chunks share their boundary sentence; every sentence is covered.
    for a, b in itertools.pairwise(chunks):
        assert b.sentences[0] in a.sentences
    covered = {s for c in chunks for s in c.sentences}
    assert covered == set(sentence_spans(text))


def test_overlong_sentence_is_cut_at_words():
    text = "word " * 100 + "end."
    chunks = chunk_text(text, words, ChunkingConfig(max_tokens=16, overlap_tokens=0))
    assert all(len(text[c.start : c.end].split()) <= 16 for c in chunks)
    assert text[chunks[-1].start : chunks[-1].end].endswith("end.")


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=600))
def test_any_text_gives_exact_in_bounds_spans(text):
    chunks = chunk_text(text, words, ChunkingConfig(max_tokens=16, overlap_tokens=4))
    for c in chunks:
        assert 0 <= c.start < c.end <= len(text)
        for s, e in c.sentences:
            assert c.start <= s < e <= c.end


def test_real_tokenizer_never_truncates(seed_index):
    from index import get_embedder, load_index

    embedder = get_embedder()
    index = load_index(seed_index, embedder.info)
    limit = embedder.max_seq_length - 2
    counts = embedder.count_tokens([c.text for c in index.chunks])
    assert counts and max(counts) <= limit
