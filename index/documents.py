"""Finding and reading documents into plain text.

Every reader returns the text that chunk offsets and citation offsets refer to;
for plain text and Markdown that is the file's own text, unchanged, so a
citation's ``start``/``end`` can be checked against the file itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import subprocess
import sys
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .config import SUPPORTED_SUFFIXES
from .errors import InputError

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 64 * 1024 * 1024
# Plain text is indexed whole: a 16 MB text file is ~3 million words, minutes of
# embedding on a laptop. Bigger ones are refused by size before a byte is read.
MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024
# The same bound on the text any reader extracts (a small PDF or .docx can hold more).
MAX_TEXT_CHARS = 16_000_000
# A .docx is a zip: refuse archives that would expand past this (zip bombs).
MAX_DOCX_EXPANDED_BYTES = 256 * 1024 * 1024
# PDFs are parsed in a child process under these caps (see index/pdf_worker.py).
PDF_TIMEOUT_S = 60
PDF_MEMORY_BYTES = 1024 * 1024 * 1024
# Text whose share of control characters is above this is binary data that
# happened to decode (an executable or image renamed .txt), not prose.
MAX_CONTROL_SHARE = 0.01
_TEXT_SUFFIXES = frozenset({".txt", ".md", ".html", ".htm"})


@dataclass(frozen=True)
class SourceFile:
    """A file found on disk, named the way answers cite it."""

    path: Path  # absolute
    source: str  # relative to the indexed folder's parent, with forward slashes
    root: Path  # the folder (or file) argument it was found through


@dataclass(frozen=True)
class Document:
    source: str
    path: Path
    text: str
    sha256: str


_DAMAGED = "the file is damaged or is not really a {} file"


class UnreadableFile(Exception):
    """A file that is skipped, with the reason shown to the user."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(paths: Iterable[str | Path]) -> tuple[list[SourceFile], list[tuple[str, str]]]:
    """Expand folder and file arguments into the files to index.

    Returns the files and a list of ``(path, reason)`` for files passed over
    (unsupported type, hidden). A path that does not exist is a user error.
    """
    found: dict[Path, SourceFile] = {}
    skipped: list[tuple[str, str]] = []
    for raw in paths:
        arg = Path(raw).expanduser()
        if not arg.exists():
            raise InputError(f"No such file or folder: {raw}. Check the path and try again.")
        arg = arg.resolve()
        if arg.is_dir():
            base = arg.parent
            candidates = sorted(p for p in arg.rglob("*") if p.is_file())
            for path in candidates:
                rel = path.relative_to(arg)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                    skipped.append((_source_name(path, base), "unsupported file type"))
                    continue
                found.setdefault(path, SourceFile(path, _source_name(path, base), arg))
        elif arg.is_file():
            if arg.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise InputError(
                    f"{raw}: unsupported file type '{arg.suffix or '(none)'}'. "
                    f"Supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}."
                )
            found.setdefault(arg, SourceFile(arg, _source_name(arg, arg.parent.parent), arg))
        else:
            raise InputError(f"{raw} is neither a regular file nor a folder.")
    return list(found.values()), skipped


def _source_name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:  # a file at the file-system root
        return path.name


def read_text(path: Path) -> str:
    """Read one supported file as text, or raise :class:`UnreadableFile` saying why."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableFile(f"cannot read ({exc.strerror})") from exc
    suffix = path.suffix.lower()
    limit = MAX_TEXT_FILE_BYTES if suffix in _TEXT_SUFFIXES else MAX_FILE_BYTES
    if size > limit:
        raise UnreadableFile(
            f"too large ({size / 1e6:.0f} MB; the limit for {suffix} files is "
            f"{limit / 1e6:.0f} MB): split it into smaller files"
        )
    try:
        if suffix in {".txt", ".md"}:
            text = _decode(path.read_bytes())
        elif suffix in {".html", ".htm"}:
            text = _read_html(path)
        elif suffix == ".pdf":
            text = _read_pdf(path)
        elif suffix == ".docx":
            text = _read_docx(path)
        else:
            raise UnreadableFile("unsupported file type")
    except UnreadableFile:
        raise
    except PermissionError as exc:
        raise UnreadableFile("permission denied") from exc
    except Exception as exc:  # parsers raise anything on malformed input
        # The library's own words stay in the log: they name its classes and,
        # served to a remote uploader, tell nothing useful.
        log.info("reader failed on %s: %s: %s", path.name, type(exc).__name__, exc)
        raise UnreadableFile(f"could not be parsed: {_DAMAGED.format(suffix)}") from exc
    if not text.strip():
        hint = " (a scanned PDF needs OCR first)" if suffix == ".pdf" else ""
        raise UnreadableFile(f"no text found{hint}")
    if len(text) > MAX_TEXT_CHARS:
        raise UnreadableFile(
            f"too much text ({len(text) / 1e6:.0f} million characters; the limit is "
            f"{MAX_TEXT_CHARS / 1e6:.0f} million): split it into smaller files"
        )
    return text


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableFile("binary content, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is None:
            raise UnreadableFile("not readable as text (unknown encoding)") from None
        text = str(best)
    if _control_share(text) > MAX_CONTROL_SHARE:
        raise UnreadableFile("binary content, not text")
    return text


def _control_share(text: str, sample: int = 65536) -> float:
    """Share of control characters other than white space, in the first ``sample`` chars."""
    head = text[:sample]
    if not head:
        return 0.0
    controls = sum(1 for ch in head if ch not in "\t\n\r\f\v" and unicodedata.category(ch) == "Cc")
    return controls / len(head)


def _read_html(path: Path) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(path.read_bytes()), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def _read_pdf(path: Path) -> str:
    """pypdf's text of each page (as llama-index's PDFReader), parsed in a capped child.

    The child (``index/pdf_worker.py``) runs under ``RLIMIT_AS`` and
    ``RLIMIT_CPU`` and a wall-clock timeout, so a PDF that makes the parser
    loop or allocate without end is refused with a message instead of
    hanging or exhausting the indexer (or the web server that called it).
    """
    worker = Path(__file__).with_name("pdf_worker.py")
    cmd = [sys.executable, "-I", str(worker), str(path), str(PDF_MEMORY_BYTES)]
    cmd.append(str(max(1, int(PDF_TIMEOUT_S))))
    try:
        proc = subprocess.run(
            cmd, capture_output=True, timeout=PDF_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise UnreadableFile(
            f"refused: parsing took longer than {PDF_TIMEOUT_S} s (a malformed PDF?)"
        ) from None
    if proc.returncode == 3 or (proc.returncode != 0 and b"MemoryError" in proc.stderr):
        raise UnreadableFile(
            f"refused: parsing needed more than {PDF_MEMORY_BYTES / 2**20:.0f} MB of memory"
        )
    if proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise UnreadableFile(f"refused: parsing took longer than {PDF_TIMEOUT_S} s")
    if proc.returncode != 0:
        name = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["error"]
        log.info("PDF reader failed on %s: %s", path.name, name[0][:200])
        raise UnreadableFile(f"could not be parsed: {_DAMAGED.format('.pdf')}")
    pages = json.loads(proc.stdout)
    return "\n\n".join(page for page in pages if page)


def _read_docx(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise UnreadableFile("not a valid .docx (not a zip archive)") from exc
    if expanded > MAX_DOCX_EXPANDED_BYTES:
        raise UnreadableFile("refused: the .docx would expand past 256 MB (zip bomb?)")
    from llama_index.readers.file import DocxReader

    parts = DocxReader().load_data(path)
    return "\n\n".join(part.text for part in parts if part.text)


def load_document(file: SourceFile, sha256: str | None = None) -> Document:
    text = read_text(file.path)
    return Document(file.source, file.path, text, sha256 or sha256_file(file.path))
