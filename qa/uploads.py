"""Documents people add and remove while the service runs (web chat and HTTP API alike).

One set of checks for every way in: an allow-listed file type, at most 20 MB,
a plain file name (no folders, no traversal). Accepted files are copied into
the collection's ``uploads/`` folder and indexed in one update; a file the
reader refuses is taken out again, so the folder only ever holds what is
indexed.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from index import remove_documents, update_index
from index.config import SUPPORTED_SUFFIXES
from index.errors import InputError, SeedqaError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOADS = "uploads"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class UploadResult:
    """What became of one file: ``status`` is indexed, unchanged or refused."""

    name: str
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "refused"

    @property
    def source(self) -> str:
        return f"{UPLOADS}/{self.name}"


def sanitize_filename(name: str) -> str:
    """A plain file name: no folders, no traversal, no shell metacharacters."""
    base = Path(name.replace("\\", "/")).name
    base = _SAFE_NAME.sub("_", base).strip(" .") or "upload"
    return base[:120]


def add_files(collection: Path, files: list[tuple[str, Path]]) -> list[UploadResult]:
    """Check, copy and index ``files`` (the name given by the user, where the bytes are)."""
    results: list[UploadResult] = []
    accepted: list[str] = []
    uploads = collection / UPLOADS
    uploads.mkdir(parents=True, exist_ok=True)
    for given, path in files:
        name = sanitize_filename(given)
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
            results.append(UploadResult(name, "refused", f"file type not allowed ({allowed})"))
            continue
        try:
            size = path.stat().st_size
        except OSError:
            results.append(UploadResult(name, "refused", "the upload could not be read"))
            continue
        if size > MAX_UPLOAD_BYTES:
            results.append(
                UploadResult(name, "refused", f"too large ({size / 1e6:.1f} MB; limit 20 MB)")
            )
            continue
        shutil.copyfile(path, uploads / name)
        accepted.append(name)
    if not accepted:
        return results
    statuses: dict[str, str] = {}
    try:
        # The files themselves, not the uploads folder: replicas of a server
        # store each keep their own folder, and indexing one replica's folder
        # would remove the documents uploaded through the others.
        update_index(
            [uploads / name for name in accepted],
            collection,
            progress=False,
            on_file=lambda source, status: statuses.__setitem__(source, status),
        )
    except SeedqaError as exc:
        for name in accepted:
            (uploads / name).unlink(missing_ok=True)
        return [*results, *(UploadResult(n, "refused", str(exc)) for n in accepted)]
    for name in accepted:
        status = statuses.get(f"{UPLOADS}/{name}", "indexed")
        if status.startswith("skipped"):
            (uploads / name).unlink(missing_ok=True)
            results.append(UploadResult(name, "refused", status))
        elif status == "unchanged":
            results.append(UploadResult(name, "unchanged", "already indexed"))
        else:
            results.append(UploadResult(name, "indexed"))
    return results


def remove_file(collection: Path, source: str) -> None:
    """Remove a document from the collection's index (and its upload, if it was one)."""
    if not source:
        raise InputError("Choose a document to remove.")
    remove_documents([source], collection)
    if source.startswith(f"{UPLOADS}/"):
        (collection / UPLOADS / Path(source).name).unlink(missing_ok=True)
