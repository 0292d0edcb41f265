"""Documents people add and remove while the service runs (web chat and HTTP API alike).

One set of checks for every way in, and they all run before anything in the
collection changes: an allow-listed file type, at most 20 MB, a plain file
name (no folders, no traversal), and text the reader can extract. Uploads
arrive as bytes, never as a path: nothing a client sends is opened as a file.

Nothing is lost on the way: accepted bytes are written to a private staging
folder first and read there; only a file the reader accepts replaces a stored
one, and the old file is put back if indexing then refuses or fails. Two files
of one name in one upload get distinct stored names, and each result's status
says what really happened to that file (``indexed``, ``replaced``,
``unchanged``, ``refused``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from index import remove_documents, update_index
from index.config import SUPPORTED_SUFFIXES
from index.documents import UnreadableFile, read_text
from index.errors import InputError, SeedqaError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOADS = "uploads"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class UploadResult:
    """What became of one file: ``status`` is indexed, replaced, unchanged or refused."""

    name: str
    status: str
    detail: str = ""
    renamed: bool = False  # stored under another name than the client gave

    @property
    def ok(self) -> bool:
        return self.status != "refused"

    @property
    def source(self) -> str:
        return f"{UPLOADS}/{self.name}"


@dataclass(frozen=True)
class Upload:
    """One file as the client sent it: the name it gave and its bytes."""

    name: str
    data: bytes


def sanitize_filename(name: str) -> str:
    """A plain file name: no folders, no traversal, no shell metacharacters."""
    base = Path(name.replace("\\", "/")).name
    base = _SAFE_NAME.sub("_", base).strip(" .") or "upload"
    return base[:120]


def _lock(collection: Path) -> threading.Lock:
    """One upload or removal at a time per collection in this process (the index's own
    file lock serialises writers across processes, but not the files around it)."""
    key = collection.resolve()
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _distinct(name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext``… if another file of this upload has it."""
    if name not in taken:
        return name
    stem, suffix = os.path.splitext(name)
    n = 2
    while f"{stem}-{n}{suffix}" in taken:
        n += 1
    return f"{stem}-{n}{suffix}"


def check_upload(name: str, upload: Upload) -> str | None:
    """Why ``upload``, to be stored as ``name``, is refused before it is (type or size)."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        return f"file type not allowed ({allowed})"
    if len(upload.data) > MAX_UPLOAD_BYTES:
        return f"too large ({len(upload.data) / 1e6:.1f} MB; limit 20 MB)"
    return None


def add_files(collection: Path, files: list[Upload]) -> list[UploadResult]:
    """Check, store and index ``files``; one result per file, in the order given."""
    with _lock(collection):
        uploads = collection / UPLOADS
        uploads.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=uploads))
        try:
            return _add(uploads, staging, collection, files)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _add(uploads: Path, staging: Path, collection: Path, files: list[Upload]) -> list[UploadResult]:
    results: dict[int, UploadResult] = {}
    accepted: dict[int, str] = {}  # position -> stored name
    taken: set[str] = set()
    for i, upload in enumerate(files):
        name = sanitize_filename(upload.name)
        refusal = check_upload(name, upload)
        if refusal is not None:
            results[i] = UploadResult(name, "refused", refusal)
            continue
        name = _distinct(name, taken)
        taken.add(name)
        staged = staging / name
        staged.write_bytes(upload.data)
        try:
            read_text(staged)  # refused here, before any stored file is touched
        except UnreadableFile as exc:
            results[i] = UploadResult(name, "refused", str(exc))
            continue
        accepted[i] = name
    if not accepted:
        return [results[i] for i in range(len(files))]

    # Swap the staged files in, keeping what they replace until the index has them.
    backups = staging / ".replaced"
    backups.mkdir()
    existed: set[str] = set()
    for name in accepted.values():
        stored = uploads / name
        if stored.exists():
            os.replace(stored, backups / name)
            existed.add(name)
        os.replace(staging / name, stored)

    def put_back(name: str) -> None:
        if name in existed:
            os.replace(backups / name, uploads / name)
        else:
            (uploads / name).unlink(missing_ok=True)

    statuses: dict[str, str] = {}
    try:
        # The files themselves, not the uploads folder: replicas of a server
        # store each keep their own folder, and indexing one replica's folder
        # would remove the documents uploaded through the others.
        update_index(
            [uploads / name for name in accepted.values()],
            collection,
            progress=False,
            on_file=lambda source, status: statuses.__setitem__(source, status),
        )
    except SeedqaError as exc:
        for name in accepted.values():
            put_back(name)
        for i, name in accepted.items():
            results[i] = UploadResult(name, "refused", str(exc))
        return [results[i] for i in range(len(files))]
    except BaseException:
        for name in accepted.values():
            put_back(name)
        raise
    for i, name in accepted.items():
        status = statuses.get(f"{UPLOADS}/{name}", "added")
        if status.startswith("skipped"):
            put_back(name)
            results[i] = UploadResult(name, "refused", status.removeprefix("skipped: "))
        elif status == "unchanged":
            results[i] = UploadResult(name, "unchanged", "already indexed")
        elif status == "updated" or name in existed:
            results[i] = UploadResult(name, "replaced", "the stored file of this name was replaced")
        else:
            results[i] = UploadResult(name, "indexed")
        if results[i].ok and name != sanitize_filename(files[i].name):
            results[i] = UploadResult(
                name,
                results[i].status,
                "stored under a new name: another file of this upload has the same name",
                renamed=True,
            )
    return [results[i] for i in range(len(files))]


def remove_file(collection: Path, source: str) -> None:
    """Remove a document from the collection's index (and its upload, if it was one)."""
    if not source:
        raise InputError("Choose a document to remove.")
    with _lock(collection):
        remove_documents([source], collection)
        if source.startswith(f"{UPLOADS}/"):
            (collection / UPLOADS / Path(source).name).unlink(missing_ok=True)
