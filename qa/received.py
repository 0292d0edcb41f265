"""Files the web page hands over: only bytes a browser sent to this server, never a path.

Gradio's page uploads a file's bytes to ``/gradio_api/upload``, which stores
them in the server's upload folder and answers with their path; the page then
names that path in the event that indexes it. A client can name any path
there instead, and Gradio checks it only for apps it launched itself, not for
one mounted on FastAPI as ``seedqa serve`` mounts it. So both ends are
checked here:

* :func:`event_refusal`, at the edge (``qa.edge``), refuses an event whose
  body names a file anywhere but in this server's upload folder (a server
  path, a URL, a symlink out), before Gradio copies or downloads it;
* :func:`read_received`, in the upload handler, opens a file only if it is a
  regular file in that folder, and hands its bytes on as an
  :class:`~qa.uploads.Upload`.

``seedqa serve`` gives each server a private upload folder (mode 0700), so
no other program's or user's files are in it either.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import InputError

from .uploads import MAX_UPLOAD_BYTES, Upload

NOT_RECEIVED = "refused: only files uploaded through this page can be added"


def _inside(raw: str, folder: Path) -> Path | None:
    """The file ``raw`` names, if it is a regular file in ``folder`` (no symlink out)."""
    if not isinstance(raw, str) or not raw or "://" in raw or raw.startswith("\\\\"):
        return None
    path = Path(os.path.abspath(raw))
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if path != real or not real.is_relative_to(folder) or not real.is_file():
        return None
    return real


def read_received(raw: str, folder: Path) -> Upload:
    """The bytes of an uploaded file, by the path Gradio gave the page; InputError if the
    path is anything but a file this server received."""
    real = _inside(str(raw), folder)
    if real is None:
        raise InputError(NOT_RECEIVED)
    with real.open("rb") as fh:
        data = fh.read(MAX_UPLOAD_BYTES + 1)  # one byte over is enough to refuse it
    return Upload(real.name, data)


@dataclass(frozen=True)
class FileInputs:
    """Where the file arguments sit in each page event that takes files.

    Gradio routes an event by name (``/gradio_api/call/NAME``, ``call/v2/NAME``
    with arguments by parameter name, ``run/NAME``) or by number
    (``queue/join`` with ``fn_index``); each spot is (position, parameter name).
    """

    by_name: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    by_index: dict[int, list[tuple[int, str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, blocks) -> FileInputs:
        import gradio as gr

        found = cls()
        for fn_id, fn in blocks.fns.items():  # keyed by the fn_index queue/join names
            params = list(inspect.signature(fn.fn).parameters) if fn.fn else []
            spots = [
                (i, params[i] if i < len(params) else "")
                for i, component in enumerate(fn.inputs)
                if isinstance(component, gr.File)
            ]
            if spots:
                found.by_index[fn_id] = spots
                if fn.api_name:
                    found.by_name[str(fn.api_name)] = spots
        return found

    def arguments(self, path: str, body: Any) -> list[Any]:
        """The file arguments the request at ``path`` passes (none for other events)."""
        if not isinstance(body, dict):
            return []
        parts = path.rstrip("/").split("/")
        if parts[-2:] == ["queue", "join"]:
            spots = self.by_index.get(body.get("fn_index"), [])  # type: ignore[arg-type]
        else:
            spots = self.by_name.get(parts[-1], [])
        if len(parts) >= 3 and parts[-3:-1] == ["call", "v2"]:
            return [body.get(name) for _, name in spots]
        data = body.get("data")
        data = data if isinstance(data, list) else []
        return [data[i] for i, _ in spots if i < len(data)]


def event_refusal(
    body: bytes, folder: Path, path: str = "", files: FileInputs | None = None
) -> str | None:
    """Why an event's JSON body is refused, or None: a file argument that is not a file
    received here (a server path, a URL, a bare string), or any object with a
    ``path`` outside the upload folder."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # not JSON: Gradio answers it with its own error
    for argument in (files or FileInputs()).arguments(path, data):
        items = argument if isinstance(argument, list) else [argument]
        for item in items:
            if item is None:
                continue
            if not isinstance(item, dict) or _inside(item.get("path"), folder) is None:
                return NOT_RECEIVED
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meta = item.get("meta")
            is_file = isinstance(meta, dict) and meta.get("_type") == "gradio.FileData"
            if (is_file or "path" in item) and _inside(item.get("path"), folder) is None:
                return NOT_RECEIVED
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None
