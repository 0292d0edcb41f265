"""The llama-index adapter, used as a llama-index application would: a RetrieverQueryEngine
over the real seed index (real embedder, FAISS, BM25, reader)."""

from __future__ import annotations

import pytest

from tests.conftest import SEED_FILE, SEEDS

pytestmark = pytest.mark.slow


def test_a_retriever_query_engine_answers_with_seedqa_citations(seed_index):
    from llama_index.core.query_engine import RetrieverQueryEngine

    from qa.llamaindex import SeedqaRetriever, SeedqaSynthesizer

    engine = RetrieverQueryEngine(
        retriever=SeedqaRetriever(index_dir=seed_index),
        response_synthesizer=SeedqaSynthesizer(index_dir=seed_index),
    )
    response = engine.query("How much did Azercosmos export in 2020?")
    assert "45.1 million" in response.response
    assert not response.metadata["abstained"]
    text = (SEEDS / SEED_FILE.split("/", 1)[1]).read_text(encoding="utf-8")
    (source,) = response.source_nodes
    meta = source.node.metadata
    assert meta["source"].endswith(SEED_FILE.split("/", 1)[1])
    assert text[meta["start"] : meta["end"]] == source.node.get_content()

    out = engine.query("What is the capital of France?")
    assert out.metadata["abstained"] and out.source_nodes == []


def test_the_retriever_gives_chunks_with_their_offsets(seed_index):
    from llama_index.core.schema import QueryBundle

    from qa.llamaindex import SeedqaRetriever

    nodes = SeedqaRetriever(index_dir=seed_index, top_k=3).retrieve(
        QueryBundle("Which satellites does Azercosmos operate?")
    )
    assert len(nodes) == 3
    text = (SEEDS / SEED_FILE.split("/", 1)[1]).read_text(encoding="utf-8")
    for n in nodes:
        m = n.node.metadata
        assert text[m["start"] : m["end"]] == n.node.get_content()
    assert any("Azersky" in n.node.get_content() for n in nodes)
