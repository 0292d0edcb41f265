"""seedqa inside llama-index applications: a retriever and a response synthesiser.

``SeedqaRetriever`` is a llama-index ``BaseRetriever`` over a seedqa collection
(hybrid dense + BM25 retrieval); each node is a chunk, with its source and
document offsets in its metadata. ``SeedqaSynthesizer`` answers with seedqa's
checked answer (reader, grounding, abstention) and gives its citations as the
response's ``source_nodes``, each node's text the exact quote. Together:

    from llama_index.core.query_engine import RetrieverQueryEngine
    from qa.llamaindex import SeedqaRetriever, SeedqaSynthesizer

    engine = RetrieverQueryEngine(SeedqaRetriever(), SeedqaSynthesizer())
    response = engine.query("How much did Azercosmos export in 2020?")
    response.response, [n.node.metadata for n in response.source_nodes]

or ``query_engine(collection)`` for the same in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.llms.mock import MockLLM
from llama_index.core.prompts.mixin import PromptDictType
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import BaseSynthesizer
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from index import collections

from .pipeline import Assistant, get_assistant
from .types import Answer


def _assistant(collection: str | None, index_dir: str | Path | None) -> Assistant:
    return get_assistant(collections.require(collection, index_dir))


class SeedqaRetriever(BaseRetriever):
    """The top ``top_k`` chunks of a seedqa collection for a query, as llama-index nodes."""

    def __init__(
        self,
        collection: str | None = None,
        *,
        index_dir: str | Path | None = None,
        top_k: int = 4,
    ) -> None:
        super().__init__()
        self._seedqa = _assistant(collection, index_dir)
        self._top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._seedqa.retriever().retrieve(query_bundle.query_str, self._top_k)
        return [
            NodeWithScore(
                node=TextNode(
                    id_=f"{h.chunk.source}:{h.chunk.start}-{h.chunk.end}",
                    text=h.chunk.text,
                    metadata={
                        "source": h.chunk.source,
                        "start": h.chunk.start,
                        "end": h.chunk.end,
                    },
                ),
                score=float(h.score),
            )
            for h in hits
        ]


class SeedqaSynthesizer(BaseSynthesizer):
    """seedqa's checked answer as a llama-index ``Response`` with its citations as sources.

    The answer is read by seedqa's own pipeline from the same collection, so
    the nodes a retriever hands over are not re-read; an abstention is the
    response "I couldn't find that in the documents." with no source nodes
    and ``metadata["abstained"]`` true.
    """

    def __init__(self, collection: str | None = None, *, index_dir: str | Path | None = None):
        # llama-index's base class insists on an LLM and would resolve its
        # default (a hosted one) without it; nothing here calls it.
        super().__init__(llm=MockLLM())
        self._seedqa = _assistant(collection, index_dir)

    def _get_prompts(self) -> PromptDictType:
        return {}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        pass

    def get_response(self, query_str: str, text_chunks: Sequence[str], **kwargs: Any) -> str:
        return self._seedqa.answer(query_str).text

    async def aget_response(self, query_str: str, text_chunks: Sequence[str], **kwargs: Any) -> str:
        return self.get_response(query_str, text_chunks)

    def synthesize(self, query, nodes=(), additional_source_nodes=None, **kwargs) -> Response:
        text = query.query_str if isinstance(query, QueryBundle) else str(query)
        return to_response(self._seedqa.answer(text))

    async def asynthesize(self, query, nodes=(), additional_source_nodes=None, **kwargs):
        return self.synthesize(query, nodes)


def to_response(answer: Answer) -> Response:
    """An Answer as llama-index sees responses: text, one source node per citation."""
    sources = [
        NodeWithScore(
            node=TextNode(
                id_=f"{c.source}:{c.start}-{c.end}",
                text=c.quote,
                metadata={"source": c.source, "start": c.start, "end": c.end},
            ),
            score=1.0,
        )
        for c in answer.citations
    ]
    return Response(
        response=answer.text,
        source_nodes=sources,
        metadata={"abstained": answer.abstained, "reason": answer.reason},
    )


def query_engine(
    collection: str | None = None, *, index_dir: str | Path | None = None
) -> RetrieverQueryEngine:
    """A llama-index query engine that answers from a seedqa collection."""
    return RetrieverQueryEngine(
        SeedqaRetriever(collection, index_dir=index_dir),
        SeedqaSynthesizer(collection, index_dir=index_dir),
    )
