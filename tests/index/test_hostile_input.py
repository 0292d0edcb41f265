"""Hostile and malformed input to the readers, the chunker and the indexer.

Property tests (hypothesis) feed arbitrary bytes and unicode to the reader and
the chunker; the fixed cases are the files a user might really drop into a
folder: binary data named .txt, a 50 MB text file, a PDF that does not parse,
a zip bomb renamed .docx, duplicates, and names full of shell metacharacters.
Each is refused with a one-line reason and the rest of the corpus is indexed.
"""

from __future__ import annotations

import contextlib
import os
import time
import tracemalloc
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import index.documents as documents
from index import ChunkingConfig, get_embedder
from index.chunking import chunk_text
from index.documents import UnreadableFile, read_text
from tests.conftest import run_cli
from tests.helpers import make_docx, make_pdf

FAST = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Reasons a reader may give; anything else (or another exception) is a bug.
KNOWN_REASONS = ("binary content", "no text found", "not readable as text", "too ")


@FAST
@given(data=st.binary(max_size=4096))
def test_reader_on_arbitrary_bytes_returns_text_or_a_reason(tmp_path, data):
    path = tmp_path / "any.txt"
    path.write_bytes(data)
    try:
        text = read_text(path)
    except UnreadableFile as exc:
        assert str(exc).startswith(KNOWN_REASONS), exc
    else:
        assert text.strip()
        if b"\x00" not in data:
            with contextlib.suppress(UnicodeDecodeError):  # valid UTF-8 is never altered
                assert text == data.decode("utf-8-sig")


@FAST
@given(text=st.text(max_size=2000))
def test_reader_keeps_any_unicode_text_exactly(tmp_path, text):
    path = tmp_path / "any.md"
    path.write_bytes(text.encode("utf-8"))
    try:
        assert read_text(path) == text.removeprefix("\ufeff")
    except UnreadableFile as exc:  # blank, or mostly control characters
        assert not text.strip() or "\x00" in text or "binary" in str(exc), exc


def _check_chunks(text: str, config: ChunkingConfig) -> None:
    embedder = get_embedder()
    chunks = chunk_text(text, embedder.count_tokens, config)
    covered = set()
    for c in chunks:
        assert 0 <= c.start < c.end <= len(text)
        assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        for s, e in c.sentences:
            assert c.start <= s < e <= c.end
            piece = text[s:e]
            assert piece == piece.strip() and piece
            covered.update(range(s, e))
    # Nothing but white space is lost between chunks.
    assert all(ch.isspace() for i, ch in enumerate(text) if i not in covered)
    # Every chunk fits the embedder (it would silently truncate otherwise).
    sizes = embedder.count_tokens([text[c.start : c.end] for c in chunks])
    assert all(
        n <= config.max_tokens + len(c.sentences) for n, c in zip(sizes, chunks, strict=True)
    )


@FAST
@given(text=st.text(max_size=3000))
def test_chunker_on_arbitrary_unicode_keeps_exact_spans(text):
    _check_chunks(text, ChunkingConfig(max_tokens=32, overlap_tokens=8))


@FAST
@given(
    text=st.text(
        alphabet=st.sampled_from([*"ab .\n\t\r\x0b\x0c\u2028\u00a0\u200b!?", "\x1b", "é"]),
        max_size=3000,
    )
)
def test_chunker_on_control_characters_and_odd_white_space(text):
    _check_chunks(text, ChunkingConfig(max_tokens=16, overlap_tokens=4))


def test_chunker_on_huge_inputs_in_bounded_time():
    started = time.monotonic()
    _check_chunks("", ChunkingConfig())
    _check_chunks("x" * 200_000, ChunkingConfig())  # one "word" longer than many chunks
    _check_chunks("The quay is long. " * 20_000, ChunkingConfig())  # 360 kB of sentences
    assert time.monotonic() - started < 120


def test_a_50_mb_text_file_is_refused_by_size_without_reading_it(tmp_path):
    big = tmp_path / "big.txt"
    line = b"The archive holds many ordinary sentences about harbours and ships.\n"
    with big.open("wb") as fh:
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            fh.write(line)
    assert big.stat().st_size >= 50 * 1024 * 1024
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(UnreadableFile, match=r"too large \(5\d MB; the limit .* split it"):
        read_text(big)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.monotonic() - started < 1.0 and peak < 1024 * 1024


def test_pdf_parsing_runs_in_a_child_under_time_and_memory_caps(tmp_path, monkeypatch):
    pdf = make_pdf(tmp_path / "ok.pdf", "The harbour opened in 1932.")
    assert read_text(pdf) == "The harbour opened in 1932."
    monkeypatch.setattr(documents, "PDF_MEMORY_BYTES", 24 * 1024 * 1024)
    with pytest.raises(UnreadableFile, match=r"refused: parsing needed more than 24 MB"):
        read_text(pdf)
    monkeypatch.setattr(documents, "PDF_MEMORY_BYTES", 1024 * 1024 * 1024)
    monkeypatch.setattr(documents, "PDF_TIMEOUT_S", 0.01)
    with pytest.raises(UnreadableFile, match=r"refused: parsing took longer than"):
        read_text(pdf)


def _zip_bomb(path, expanded_mb: int = 300) -> None:
    """A valid zip whose one member inflates from ~0.3 MB to ``expanded_mb`` MB of zeros."""
    block = b"\0" * (1024 * 1024)
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(expanded_mb):
            member.write(block)


def test_a_hostile_folder_is_indexed_except_for_the_bad_files(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    good = {
        "notes.txt": "The Corvid bridge is 212 metres long.",
        "$(touch PWNED).md": "# Ferry\n\nThe ferry to Isla Verde leaves at 7 am.",
        "a;rm -rf ~ && echo x|sh.txt": "The Velmora crane lifts 140 tonnes.",
        "`id` 'q' \"dq\" <x>.txt": "The Orlan lighthouse is 40 metres tall.",
        "-rf --rebuild.txt": "The Ostrander depot opened in 1987.",
        "ünï cødé 文書.txt": "The Kestrel observatory sits at 2,400 metres.",
    }
    for name, text in good.items():
        (docs / name).write_text(text)
    make_docx(docs / "memo.docx", ["The mayor is Ana Lopez."])
    (docs / "copy of notes.txt").write_text(good["notes.txt"])  # a duplicate
    (docs / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2048))
    (docs / "elf.md").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(1, 32)) * 40)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer <<>>\n")
    _zip_bomb(docs / "bomb.docx")
    big = docs / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # 50 MB, refused by its size alone
    (docs / "dotdot").mkdir()
    (docs / "dotdot" / "inner.txt").write_text("The inner archive lists 9 ships.")

    started = time.monotonic()
    res = run_cli("index", "docs/dotdot/../", "--index-dir", "index", cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    out = res.stdout
    reasons = {
        "docs/image.txt": "binary content",
        "docs/elf.md": "binary content",
        "docs/broken.pdf": "could not be parsed",
        "docs/bomb.docx": "zip bomb",
        "docs/big.txt": "too large (52 MB",
    }
    for source, why in reasons.items():
        assert f"skipped   {source}: " in out and why in out.split(source, 1)[1].split("\n")[0]
    assert "duplicate of docs/" in out
    for name in [*good, "memo.docx", "dotdot/inner.txt"]:
        if name != "notes.txt" and name != "copy of notes.txt":
            assert f"added     docs/{name}" in out, (name, out)
    assert "8 added" in out and "6 skipped" in out  # 7 good + inner; 5 bad + 1 duplicate
    assert not list(tmp_path.rglob("PWNED")), "a file name was run by a shell"
    assert elapsed < 240

    asked = run_cli(
        "ask", "How heavy a load can the Velmora crane lift?", "--json", "--index-dir", "index",
        cwd=tmp_path,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    assert '"source": "docs/a;rm -rf ~ && echo x|sh.txt"' in asked.stdout
