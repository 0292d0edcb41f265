"""The web chat (Gradio Blocks): streaming answers with highlighted citations.

Each browser session keeps its own conversation (a ``qa.chat.Chat`` over the
turns in its ``gr.State``); the models are shared, each behind its owner's
lock, and chat events share one concurrency group so requests queue instead of
piling onto the CPU.
"""

from __future__ import annotations

import errno
import html
import logging
import os
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

from index import (
    ensure_index,
    read_manifest,
    remove_documents,
    resolve_index_dir,
    update_index,
)
from index.config import SUPPORTED_SUFFIXES
from index.errors import InputError, SeedqaError

from .chat import Chat
from .followups import Turn
from .pipeline import Assistant, get_assistant, warm_up
from .types import Answer
from .wording import counted

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
EXAMPLES = [
    "How much did Azercosmos export in 2020?",
    "Which satellites does Azercosmos operate?",
    "Who is the president of the Turkish Space Agency?",
    "What is the capital of France?",
]
CSS = """
.seedqa-cite {font-size: 0.9em; border-left: 3px solid #7c8cf8; padding: 2px 8px; margin: 4px 0;}
.seedqa-cite mark {background: #fde68a; padding: 0 2px;}
.seedqa-abstain {color: #92400e; font-style: italic;}
"""
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def format_answer(answer: Answer, window: int = 160) -> str:
    """Markdown/HTML for one answer: the text, then each source with the span marked."""
    if answer.abstained:
        return f'<span class="seedqa-abstain">⚠ {html.escape(answer.text)}</span>'
    parts = [html.escape(answer.text)]
    for n, c in enumerate(answer.citations, 1):
        quote = " ".join(c.quote.split())
        at = quote.find(answer.text)
        if at >= 0:
            lo = max(0, at - window)
            hi = min(len(quote), at + len(answer.text) + window)
            shown = (
                ("…" if lo else "")
                + html.escape(quote[lo:at])
                + f"<mark>{html.escape(answer.text)}</mark>"
                + html.escape(quote[at + len(answer.text) : hi])
                + ("…" if hi < len(quote) else "")
            )
        else:
            shown = html.escape(quote)
        name = html.escape(Path(c.source).name)
        parts.append(
            f'<div class="seedqa-cite">[{n}] <b>{name}</b> '
            f"<small>({html.escape(c.source)}:{c.start}-{c.end})</small><br>{shown}</div>"
        )
    return "\n".join(parts)


def sanitize_filename(name: str) -> str:
    """A plain file name: no folders, no traversal, no shell metacharacters."""
    base = Path(name.replace("\\", "/")).name
    base = _SAFE_NAME.sub("_", base).strip(" .") or "upload"
    return base[:120]


class WebApp:
    """The server-side behaviour of the UI, separate from the widgets for testing."""

    def __init__(self, index_dir: str | Path | None = None) -> None:
        self.index_dir = resolve_index_dir(index_dir)
        self.uploads = self.index_dir / "uploads"
        self.assistant: Assistant = get_assistant(self.index_dir)

    def status_markdown(self) -> str:
        manifest = read_manifest(self.index_dir)
        if manifest is None:
            return "**Index:** empty — upload a document to start."
        return (
            f"**Index:** {counted(len(manifest.documents), 'document')}, "
            f"{counted(manifest.chunk_count, 'chunk')}  \n"
            f"**Embedder:** {manifest.embedder.name}  \n"
            f"**Updated:** {manifest.updated_at}"
        )

    def documents(self) -> list[str]:
        manifest = read_manifest(self.index_dir)
        return sorted(manifest.documents) if manifest else []

    def respond(
        self, message: str, messages: list[dict], turns: list[Turn]
    ) -> Iterator[tuple[list[dict], list[Turn], str]]:
        messages = list(messages or [])
        turns = list(turns or [])
        if not message or not message.strip():
            yield messages, turns, ""
            return
        messages.append({"role": "user", "content": message})
        messages.append({"role": "assistant", "content": "…"})
        yield messages, turns, ""
        # This browser session's conversation, rebuilt around its own turns
        # (gr.State keeps plain data; the Assistant behind it is shared).
        chat = Chat(assistant=self.assistant, history=turns)
        try:
            shown = ""
            for piece in chat.stream(message):
                shown += piece
                messages[-1] = {"role": "assistant", "content": html.escape(shown.strip()) + " ▌"}
                yield messages, turns, ""
            turns = chat.history
            messages[-1] = {"role": "assistant", "content": format_answer(turns[-1].answer)}
        except SeedqaError as exc:
            messages[-1] = {"role": "assistant", "content": f"⚠ {html.escape(str(exc))}"}
        except Exception:
            log.exception("answering failed")
            messages[-1] = {
                "role": "assistant",
                "content": "⚠ Something went wrong while answering; please try again.",
            }
        yield messages, turns, ""

    def upload(self, files: list[str] | None) -> str:
        if not files:
            return "No file received."
        lines: list[str] = []
        accepted: list[Path] = []
        self.uploads.mkdir(parents=True, exist_ok=True)
        for item in files:
            path = Path(getattr(item, "name", item))
            name = sanitize_filename(path.name)
            suffix = Path(name).suffix.lower()
            if suffix not in SUPPORTED_SUFFIXES:
                allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
                lines.append(f"❌ {name}: file type not allowed (allowed: {allowed})")
                continue
            try:
                size = path.stat().st_size
            except OSError:
                lines.append(f"❌ {name}: the upload could not be read")
                continue
            if size > MAX_UPLOAD_BYTES:
                lines.append(f"❌ {name}: too large ({size / 1e6:.1f} MB; limit 20 MB)")
                continue
            target = self.uploads / name
            shutil.copyfile(path, target)
            accepted.append(target)
        if accepted:
            statuses: dict[str, str] = {}
            try:
                update_index(
                    [self.uploads],
                    self.index_dir,
                    progress=False,
                    on_file=lambda source, status: statuses.__setitem__(source, status),
                )
            except SeedqaError as exc:
                lines.append(f"❌ {exc}")
            for target in accepted:
                source = f"uploads/{target.name}"
                status = statuses.get(source, "indexed")
                if status.startswith("skipped"):
                    lines.append(f"❌ {target.name}: {status}")
                    target.unlink(missing_ok=True)
                elif status == "unchanged":
                    lines.append(f"✅ {target.name}: already indexed")
                else:
                    lines.append(f"✅ {target.name}: indexed")
        return "\n\n".join(lines)

    def remove(self, source: str | None) -> str:
        if not source:
            return "Choose a document to remove."
        try:
            remove_documents([source], self.index_dir)
        except SeedqaError as exc:
            return f"❌ {exc}"
        if source.startswith("uploads/"):
            (self.uploads / Path(source).name).unlink(missing_ok=True)
        return f"✅ Removed {source}"


def build_ui(app: WebApp):
    import gradio as gr

    with gr.Blocks(title="seedqa") as demo:
        turns = gr.State([])
        gr.Markdown("## seedqa — ask your documents\nAnswers quote the documents exactly.")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="chat")
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Ask a question about your documents…",
                        show_label=False,
                        scale=5,
                        elem_id="question",
                        max_length=4000,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                new = gr.Button("New conversation", size="sm", elem_id="new")
                gr.Examples(EXAMPLES, inputs=box, label="Try")
            with gr.Column(scale=1):
                status = gr.Markdown(app.status_markdown(), elem_id="status")
                upload = gr.File(
                    label="Add documents",
                    file_count="multiple",
                    file_types=sorted(SUPPORTED_SUFFIXES),
                    elem_id="upload",
                )
                upload_log = gr.Markdown(elem_id="upload-log")
                docs = gr.Dropdown(app.documents(), label="Indexed documents", elem_id="docs")
                remove = gr.Button("Remove document", size="sm", elem_id="remove")

        chat_args = dict(
            fn=app.respond,
            inputs=[box, chatbot, turns],
            outputs=[chatbot, turns, box],
            concurrency_id="llm",
            concurrency_limit=1,
        )
        box.submit(**chat_args)
        send.click(**chat_args)
        new.click(lambda: ([], [], ""), outputs=[chatbot, turns, box])

        def on_upload(files):
            message = app.upload(files)
            return message, app.status_markdown(), gr.update(choices=app.documents()), None

        upload.upload(
            on_upload,
            inputs=upload,
            outputs=[upload_log, status, docs, upload],
            concurrency_id="index",
            concurrency_limit=1,
        )

        def on_remove(source):
            message = app.remove(source)
            return message, app.status_markdown(), gr.update(choices=app.documents(), value=None)

        remove.click(
            on_remove,
            inputs=docs,
            outputs=[upload_log, status, docs],
            concurrency_id="index",
            concurrency_limit=1,
        )
        demo.load(
            lambda: (app.status_markdown(), gr.update(choices=app.documents())),
            outputs=[status, docs],
        )
    demo.queue(default_concurrency_limit=1, max_size=64)
    return demo


def check_port(host: str, port: int) -> None:
    """Fail in a second, with what to do, if the server could not listen there.

    Gradio finds out only after the index and the language model have loaded,
    and then raises a traceback. The probe sets SO_REUSEADDR as uvicorn does, so
    a port left in TIME_WAIT by a stopped server still counts as free.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise InputError(f"Cannot listen on {host!r}: no such address ({exc.strerror}).") from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            fix = (
                "Choose another port with --port, or stop what is using this one."
                if exc.errno == errno.EADDRINUSE
                else "Check --host and --port."
            )
            raise InputError(f"Cannot listen on {host}:{port} ({exc.strerror}). {fix}") from exc


def serve(
    index_dir: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    *,
    prevent_thread_lock: bool = False,
):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    app = WebApp(index_dir)
    ensure_index(app.index_dir)
    if read_manifest(app.index_dir) is not None:
        app.assistant.retriever()  # a broken index fails here, before the server starts
    warm_up()
    demo = build_ui(app)
    return demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        share=False,
        max_file_size=MAX_UPLOAD_BYTES,
        allowed_paths=[],
        show_error=False,
        css=CSS,
        prevent_thread_lock=prevent_thread_lock,
        footer_links=["settings"],
    )
