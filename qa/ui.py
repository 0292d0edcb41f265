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
import socket
from collections.abc import Iterator
from pathlib import Path

from index import collections, ensure_index, read_manifest, resolve_index_dir
from index.config import SUPPORTED_SUFFIXES
from index.errors import InputError, SeedqaError

from .chat import Chat
from .followups import Turn
from .pipeline import Assistant, get_assistant, warm_up
from .public import public_message
from .received import FileInputs, event_refusal, read_received
from .types import Answer
from .uploads import MAX_UPLOAD_BYTES, UPLOADS, Upload, add_files, remove_file
from .wording import counted

log = logging.getLogger(__name__)

EXAMPLES = [
    "How much did Azercosmos export in 2020?",
    "Which satellites does Azercosmos operate?",
    "Who is the president of the Turkish Space Agency?",
    "What is the capital of France?",
]
READING = "<i>Reading the documents…</i> ▌"
CSS = """
.seedqa-cite {font-size: 0.9em; border-left: 3px solid #7c8cf8; padding: 2px 8px; margin: 4px 0;}
.seedqa-cite mark {background: #fde68a; padding: 0 2px;}
.seedqa-abstain {color: #92400e; font-style: italic;}
"""


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


class WebApp:
    """The server-side behaviour of the UI, separate from the widgets for testing.

    Every method takes the collection the page has chosen (None: the default one).
    """

    def __init__(
        self, index_dir: str | Path | None = None, received: str | Path | None = None
    ) -> None:
        self.index_dir = resolve_index_dir(index_dir)
        self._received = Path(received).resolve() if received is not None else None

    @property
    def received(self) -> Path:
        """The only folder uploads are taken from: where this server's Gradio stores the
        bytes browsers send (``serve`` gives each server a private one)."""
        if self._received is None:
            from gradio.utils import get_upload_folder

            self._received = Path(get_upload_folder()).resolve()
        return self._received

    def path(self, collection: str | None = None) -> Path:
        return collections.require(collection, self.index_dir)

    @property
    def uploads(self) -> Path:
        """The default collection's upload folder."""
        return self.index_dir / UPLOADS

    @property
    def assistant(self) -> Assistant:
        return self.assistant_for(None)

    def assistant_for(self, collection: str | None) -> Assistant:
        return get_assistant(self.path(collection))

    def collections(self) -> list[str]:
        return [c.name for c in collections.list_collections(self.index_dir)]

    def status_markdown(self, collection: str | None = None) -> str:
        manifest = read_manifest(self.path(collection))
        if manifest is None:
            return "**Index:** empty — upload a document to start."
        return (
            f"**Index:** {counted(len(manifest.documents), 'document')}, "
            f"{counted(manifest.chunk_count, 'chunk')}  \n"
            f"**Embedder:** {manifest.embedder.name}  \n"
            f"**Updated:** {manifest.updated_at}"
        )

    def documents(self, collection: str | None = None) -> list[str]:
        manifest = read_manifest(self.path(collection))
        return sorted(manifest.documents) if manifest else []

    def render(
        self, turns: list[Turn], pending: list[str], current: tuple[str, str] | None = None
    ) -> list[dict]:
        """The conversation as the chatbot shows it: answered turns, the one being
        answered, then the questions waiting their turn."""
        messages: list[dict] = []
        for turn in turns:
            messages.append({"role": "user", "content": turn.question})
            messages.append({"role": "assistant", "content": format_answer(turn.answer)})
        if current is not None:
            messages.append({"role": "user", "content": current[0]})
            messages.append({"role": "assistant", "content": current[1]})
        for question in pending:
            messages.append({"role": "user", "content": question})
            messages.append({"role": "assistant", "content": "<i>(waiting its turn…)</i>"})
        return messages

    def take(self, message: str, turns: list[Turn], pending: list[str]) -> tuple[list[dict], str]:
        """A question sent: queued in this session (answered in order), the box cleared once."""
        if message and message.strip():
            pending.append(message)  # in place: the answering event reads the same list
        return self.render(turns, pending), ""

    def answer_next(
        self, turns: list[Turn], pending: list[str], collection: str | None = None
    ) -> Iterator[tuple[list[dict], list[Turn]]]:
        """Answer the oldest waiting question of this session: "being read", then the answer."""
        turns = list(turns or [])
        if not pending:
            yield self.render(turns, pending), turns
            return
        question = pending.pop(0)
        # The reader answers whole: the turn shows that it is being read (the
        # marker ▌ says "not finished"), then the checked answer.
        yield self.render(turns, pending, (question, READING)), turns
        try:
            # This browser session's conversation, rebuilt around its own turns
            # (gr.State keeps plain data; the Assistant behind it is shared).
            chat = Chat(assistant=self.assistant_for(collection), history=turns)
            chat.ask(question)  # in turn with every other answer
            turns = chat.history
            yield self.render(turns, pending), turns
        except SeedqaError as exc:
            failed = (question, f"⚠ {html.escape(public_message(exc))}")
            yield self.render(turns, pending, failed), turns
        except Exception:
            log.exception("answering failed")
            failed = (question, "⚠ Something went wrong while answering; please try again.")
            yield self.render(turns, pending, failed), turns

    def upload(self, files: list[str] | None, collection: str | None = None) -> str:
        if not files:
            return "No file received."
        received: list[Upload] = []
        lines = []
        for item in files:
            try:
                received.append(read_received(getattr(item, "name", item), self.received))
            except InputError as exc:
                lines.append(f"❌ {html.escape(public_message(exc))}")
        try:
            results = add_files(self.path(collection), received) if received else []
        except SeedqaError as exc:
            log.info("upload refused: %s", exc)
            return f"❌ {html.escape(public_message(exc))}"
        for r in results:
            name = html.escape(r.name)
            if not r.ok:
                lines.append(f"❌ {name}: {html.escape(public_message(r.detail))}")
            elif r.status == "unchanged":
                lines.append(f"✅ {name}: already indexed")
            elif r.status == "replaced":
                lines.append(f"✅ {name}: indexed (replaced the earlier file of this name)")
            else:
                lines.append(f"✅ {name}: indexed")
            if r.renamed:
                lines[-1] += " — another file of this upload had the same name"
        return "\n\n".join(lines)

    def remove(self, source: str | None, collection: str | None = None) -> str:
        if not source:
            return "Choose a document to remove."
        try:
            remove_file(self.path(collection), source)
        except SeedqaError as exc:
            return f"❌ {html.escape(public_message(exc))}"
        return f"✅ Removed {source}"


def build_ui(app: WebApp):
    import gradio as gr

    with gr.Blocks(title="seedqa") as demo:
        turns = gr.State([])
        pending = gr.State([])  # questions sent and not yet answered, oldest first
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
                # No document or collection name goes into the page itself (its
                # config is served before login): on_load fills them per session.
                collection = gr.Dropdown(
                    [collections.DEFAULT_COLLECTION],
                    value=collections.DEFAULT_COLLECTION,
                    label="Collection",
                    elem_id="collection",
                )
                status = gr.Markdown("**Index:** loading…", elem_id="status")
                upload = gr.File(
                    label="Add documents",
                    file_count="multiple",
                    file_types=sorted(SUPPORTED_SUFFIXES),
                    elem_id="upload",
                )
                upload_log = gr.Markdown(elem_id="upload-log")
                docs = gr.Dropdown([], label="Indexed documents", elem_id="docs")
                remove = gr.Button("Remove document", size="sm", elem_id="remove")

        # Taking a question runs at once, outside the queue: the box is cleared
        # when its question is taken and never rewritten while answers stream, so
        # what is typed meanwhile stays, and is queued in turn when sent.
        for trigger in (box.submit, send.click):
            # trigger_mode "multiple": Gradio's default ("once") drops a question
            # sent while the one before is still being answered.
            trigger(
                app.take,
                [box, turns, pending],
                [chatbot, box],
                queue=False,
                trigger_mode="multiple",
            ).then(
                app.answer_next,
                [turns, pending, collection],
                [chatbot, turns],
                concurrency_id="llm",
                concurrency_limit=1,
                trigger_mode="multiple",
            )

        def start_over(pending_now: list[str]):
            pending_now.clear()
            return [], []

        new.click(start_over, inputs=pending, outputs=[chatbot, turns], queue=False)

        def on_collection(name, pending_now: list[str]):
            pending_now.clear()
            return (
                [],
                [],
                app.status_markdown(name),
                gr.update(choices=app.documents(name), value=None),
            )

        collection.change(
            on_collection, [collection, pending], [chatbot, turns, status, docs], queue=False
        )

        def on_upload(files, name):
            message = app.upload(files, name)
            return message, app.status_markdown(name), gr.update(choices=app.documents(name)), None

        upload.upload(
            on_upload,
            inputs=[upload, collection],
            outputs=[upload_log, status, docs, upload],
            concurrency_id="index",
            concurrency_limit=1,
        )

        def on_remove(source, name):
            message = app.remove(source, name)
            return (
                message,
                app.status_markdown(name),
                gr.update(choices=app.documents(name), value=None),
            )

        remove.click(
            on_remove,
            inputs=[docs, collection],
            outputs=[upload_log, status, docs],
            concurrency_id="index",
            concurrency_limit=1,
        )

        def on_load(name):
            known = app.collections()
            name = name if name in known else collections.DEFAULT_COLLECTION
            return (
                gr.update(choices=known, value=name),
                app.status_markdown(name),
                gr.update(choices=app.documents(name)),
            )

        demo.load(on_load, inputs=collection, outputs=[collection, status, docs])
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
    api_key: str | None = None,
    allow_origins: tuple[str, ...] = (),
) -> None:
    """The web chat at ``/`` and the HTTP API (``/api``, ``/v1``, ``/docs``) in one server,
    behind the edge checks of :mod:`qa.edge`."""
    import uvicorn

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    site = build_site(index_dir, host, port, auth, api_key=api_key, allow_origins=allow_origins)
    uvicorn.run(site, host=host, port=port, log_level="warning", access_log=False)


def build_site(
    index_dir: str | Path | None,
    host: str,
    port: int,
    auth: tuple[str, str] | None = None,
    *,
    api_key: str | None = None,
    allow_origins: tuple[str, ...] = (),
):
    """The whole server as one ASGI app: the API, the page mounted on it, the edge around."""
    import atexit
    import shutil
    import tempfile

    import gradio as gr

    from .api import build_api
    from .edge import Edge, EdgePolicy

    # A private folder (mode 0700) for the bytes browsers upload, before any
    # Gradio block is made (each reads it once): nothing else is ever in it.
    received = Path(tempfile.mkdtemp(prefix="seedqa-received-")).resolve()
    atexit.register(shutil.rmtree, received, ignore_errors=True)
    os.environ["GRADIO_TEMP_DIR"] = str(received)
    app = WebApp(index_dir, received=received)
    ensure_index(app.index_dir)
    if read_manifest(app.index_dir) is not None:
        app.assistant.retriever()  # a broken index fails here, before the server starts
    warm_up()
    api = build_api(app.index_dir, auth=auth, api_key=api_key)
    login = auth if auth is not None else _key_login(api_key)
    blocks = build_ui(app)
    site = gr.mount_gradio_app(
        api,
        blocks,
        path="/",
        server_name=host,
        server_port=port,
        auth=login,
        max_file_size=MAX_UPLOAD_BYTES,
        allowed_paths=[],
        show_error=False,
        css=CSS,
        footer_links=["settings"],
    )
    # Gradio checks the files an event names only once it "has launched" (it
    # never does when mounted); set, its own check runs too, behind ours.
    blocks.has_launched = True
    policy = EdgePolicy.for_server(host, allow_origins=allow_origins, auth=auth, api_key=api_key)
    files = FileInputs.of(blocks)
    policy.body_check = lambda path, body: (
        event_refusal(body, received, path, files) if path.startswith("/gradio_api/") else None
    )
    return Edge(site, policy)


def _key_login(api_key: str | None):
    """With only --api-key, the page asks for it too (any user name, the key as password):
    the page must never be the open door to what the API locks."""
    if api_key is None:
        return None
    import hmac

    def check(_user: str, password: str) -> bool:
        return hmac.compare_digest(password.encode(), api_key.encode())

    return check
