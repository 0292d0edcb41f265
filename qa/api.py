"""The HTTP API beside the web chat: REST under ``/api``, OpenAI-compatible under ``/v1``.

One FastAPI app, served by ``seedqa serve`` with the Gradio page mounted at
``/`` (``qa.ui.serve``); its OpenAPI page is ``/docs``. Every answer is the
same checked :class:`qa.types.Answer` the web chat shows, taken in turn with
the web chat's (``qa.queueing.ANSWERING``). Errors are JSON in OpenAI's shape
(``{"error": {"message", "type", "code"}}``), never a traceback, and a request
body is capped before it is read.

Follow-ups come as history: ``/api/ask`` takes ``history`` (earlier questions
and answers), ``/v1/chat/completions`` the earlier messages; both are replayed
through the same follow-up resolution as a conversation (``qa.chat.Chat``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPBasic, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from index import collections, read_manifest
from index.collections import CollectionMissingError
from index.errors import SeedqaError

from .chat import Chat
from .edge import Credentials
from .pipeline import MAX_QUESTION_CHARS, get_assistant, validate_question
from .public import public_message
from .queueing import ANSWERING
from .types import Answer
from .uploads import Upload, add_files, remove_file

log = logging.getLogger(__name__)

MAX_HISTORY = 50
MODEL_PREFIX = "seedqa"


class ApiError(Exception):
    """A request the API refuses: an HTTP status and a message saying what to do."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


# ---- request and response bodies -------------------------------------------------


class Exchange(BaseModel):
    """One earlier turn: the question asked and the answer given."""

    question: str = Field(max_length=MAX_QUESTION_CHARS)
    answer: str = ""


class AskRequest(BaseModel):
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    history: list[Exchange] = Field(default_factory=list, max_length=MAX_HISTORY)
    collection: str | None = None


class CollectionRequest(BaseModel):
    name: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id...: ignored as OpenAI does

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, user...: accepted, ignored

    model: str = MODEL_PREFIX
    messages: list[ChatMessage] = Field(min_length=1, max_length=2 * MAX_HISTORY + 2)
    stream: bool = False
    n: int | None = None
    tools: list[Any] | None = None
    functions: list[Any] | None = None


# ---- helpers ----------------------------------------------------------------------


def _collection_path(root: Path, name: str | None) -> Path:
    try:
        return collections.require(name, root)
    except CollectionMissingError as exc:
        raise ApiError(404, public_message(exc), "not_found_error") from exc


def _chat(root: Path, collection: str | None, pairs) -> Chat:
    """A conversation over the collection holding the client's earlier turns.

    Its answers are taken in turn with every other (the web chat's included):
    the Assistant serialises them (qa/queueing.py).
    """
    return Chat.from_transcript(pairs, get_assistant(_collection_path(root, collection)))


def _answer(root: Path, collection: str | None, question: str, pairs) -> Answer:
    return _chat(root, collection, pairs).ask(question)


def _stream(root: Path, collection: str | None, question: str, pairs) -> Iterator[str | Answer]:
    """The answer's text pieces as they are read, then the checked Answer."""
    chat = _chat(root, collection, pairs)
    yield from chat.stream(question)
    yield chat.history[-1].answer


def answer_json(answer: Answer, collection: str | None) -> dict:
    """The ``seedqa ask --json`` object, with the collection and the reason beside it."""
    return {
        **answer.to_json(),
        "collection": collection or collections.DEFAULT_COLLECTION,
        "reason": answer.reason,
    }


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _text_of(message: ChatMessage) -> str:
    """A message's text; parts other than text (images, audio) cannot be served."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    texts = []
    for part in message.content:
        if part.get("type") != "text":
            raise ApiError(
                400,
                f"Message parts of type {part.get('type')!r} are not supported: "
                "seedqa answers text questions only.",
            )
        texts.append(str(part.get("text", "")))
    return "\n".join(texts)


def _collection_of_model(model: str) -> str | None:
    """ "seedqa" (or "default") is the default collection; "seedqa/NAME" or "NAME" another."""
    name = model.removeprefix(f"{MODEL_PREFIX}/")
    if name in (MODEL_PREFIX, collections.DEFAULT_COLLECTION, ""):
        return None
    return name


def _chat_turns(request: ChatRequest) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last user message) and the earlier (question, answer) pairs."""
    if request.tools or request.functions:
        raise ApiError(400, "Tools and functions are not supported: seedqa only answers.")
    if request.n not in (None, 1):
        raise ApiError(400, "Only n=1 is supported: seedqa gives one checked answer.")
    turns = [m for m in request.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise ApiError(400, "The last message must come from the user: it is the question.")
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for m in turns[:-1]:
        if m.role == "user":
            if pending is not None:
                pairs.append((pending, ""))
            pending = _text_of(m)
        elif pending is not None:
            pairs.append((pending, _text_of(m)))
            pending = None
    if pending is not None:
        pairs.append((pending, ""))
    question = _text_of(turns[-1])
    validate_question(question)  # empty or too long: a 400 before any stream starts
    return question, pairs[-MAX_HISTORY:]


def _completion(answer: Answer, model: str, stream_id: str) -> dict:
    citations = answer.to_json()["citations"]
    return {
        "id": stream_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": citations,
        "seedqa": {"abstained": answer.abstained, "reason": answer.reason},
    }


def _chunk(stream_id: str, model: str, delta: dict, finish: str | None = None, **extra) -> str:
    body = {
        "id": stream_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


# ---- security ----------------------------------------------------------------------


class Guard:
    """Who may call the API, checked again here behind the edge (``qa.edge.Edge``
    refuses a request before its body is read). Declaring the schemes here is
    what puts an "Authorize" button on ``/docs`` that sends the key."""

    def __init__(self, auth: tuple[str, str] | None, api_key: str | None) -> None:
        self.credentials = Credentials(auth, api_key)

    def dependency(self):
        creds = self.credentials
        bearer = HTTPBearer(auto_error=False, description="the --api-key")
        basic = HTTPBasic(auto_error=False, description="the --auth user and password")
        with_bearer = Depends(bearer if creds.api_key else _nothing)
        with_basic = Depends(basic if creds.auth else _nothing)

        def check(request: Request, _bearer: Any = with_bearer, _basic: Any = with_basic) -> None:
            if not creds.accept(request.headers.get("authorization", "")):
                raise ApiError(401, creds.refusal(), "authentication_error")

        return Depends(check)


def _nothing() -> None:
    return None


# ---- the app ----------------------------------------------------------------------


def build_api(
    index_dir: str | Path | None = None,
    *,
    auth: tuple[str, str] | None = None,
    api_key: str | None = None,
) -> FastAPI:
    """The FastAPI app with every endpoint; ``qa.ui.serve`` mounts the web chat on it."""
    root = collections.collection_dir(None, index_dir)
    # The docs page's scripts and styles come from the fastapi-offline package,
    # not a CDN: /docs works with no network.
    app = FastAPIOffline(
        title="seedqa",
        description="Questions about your documents, answered with exact citations, offline.",
        version="0.1.0",
        redoc_url=None,
        static_url="/docs/static",
        swagger_ui_parameters={"persistAuthorization": False},
    )
    guard = Guard(auth, api_key).dependency()

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.message, exc.kind)

    @app.exception_handler(SeedqaError)
    async def _seedqa_error(request: Request, exc: SeedqaError):
        log.info("refused %s %s: %s", request.method, request.url.path, exc)
        status = 404 if isinstance(exc, CollectionMissingError) else 400
        return _error(status, public_message(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        problems = "; ".join(_problem(e) for e in exc.errors())
        return _error(400 if "json" in problems.lower() else 422, f"Invalid request: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, public_message(str(exc.detail)))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.exception("request failed")
        return _error(
            500, "Something went wrong on the server; it has been logged.", "server_error"
        )

    @app.get("/api/health", tags=["service"])
    def health() -> dict:
        """Up and answering (no login needed, for load balancers)."""
        return {"status": "ok", "waiting": ANSWERING.waiting}

    @app.post("/api/ask", tags=["answers"], dependencies=[guard])
    async def ask(body: AskRequest, stream: bool = Query(False)):
        """Answer a question from a collection; ``?stream=true`` sends server-sent events."""
        validate_question(body.question)  # an InputError is a 400 before any stream starts
        pairs = [(h.question, h.answer) for h in body.history]
        _collection_path(root, body.collection)  # a 404 before any stream starts
        if not stream:
            answer = await run_in_threadpool(_answer, root, body.collection, body.question, pairs)
            return answer_json(answer, body.collection)

        def events() -> Iterator[str]:
            # The reader answers whole: "reading" at once, then the checked answer
            # (``piece`` carries its text as soon as it is read, for clients that
            # show text as it comes; the ``answer`` event is what counts).
            yield _sse("reading", {"question": body.question})
            try:
                for item in _stream(root, body.collection, body.question, pairs):
                    if isinstance(item, Answer):
                        yield _sse("answer", answer_json(item, body.collection))
                    elif item:
                        yield _sse("piece", {"text": item})
            except SeedqaError as exc:
                yield _sse("error", {"error": {"message": public_message(exc)}})

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/api/collections", tags=["collections"], dependencies=[guard])
    def list_all() -> dict:
        return {"collections": [_info_json(c) for c in collections.list_collections(root)]}

    @app.post("/api/collections", tags=["collections"], dependencies=[guard], status_code=201)
    def create(body: CollectionRequest) -> dict:
        collections.create(body.name, root)
        return _info_json(collections.info(body.name, root))

    @app.delete("/api/collections/{name}", tags=["collections"], dependencies=[guard])
    def delete(name: str) -> dict:
        collections.delete(name, root)
        return {"deleted": name}

    @app.get("/api/collections/{name}", tags=["collections"], dependencies=[guard])
    def status(name: str) -> dict:
        """Documents, chunks, embedder and last update of one collection."""
        info = collections.info(name, root)
        return {**_info_json(info), "embedder": info.embedder}

    @app.get("/api/collections/{name}/documents", tags=["documents"], dependencies=[guard])
    def documents(name: str) -> dict:
        manifest = read_manifest(_collection_path(root, name))
        docs = manifest.documents if manifest else {}
        return {
            "documents": [
                {"source": s, "chunks": e.chunks, "chars": e.chars} for s, e in sorted(docs.items())
            ]
        }

    @app.post("/api/collections/{name}/documents", tags=["documents"], dependencies=[guard])
    async def upload(name: str, files: Annotated[list[UploadFile], File()]) -> dict:
        """Add documents (the web page's types and 20 MB limit); indexed before the reply."""
        path = _collection_path(root, name)
        # Bytes only, read here (the edge has capped the body): nothing the
        # client names is ever opened as a path.
        received = [Upload(f.filename or "upload", await f.read()) for f in files]
        results = await run_in_threadpool(add_files, path, received)
        body = {
            "results": [
                {"name": r.name, "source": r.source, "status": r.status, "detail": r.detail}
                for r in results
            ]
        }
        if results and not any(r.ok for r in results):
            return JSONResponse(
                {
                    **body,
                    "error": {
                        "message": "; ".join(f"{r.name}: {r.detail}" for r in results),
                        "type": "invalid_request_error",
                        "code": 415,
                    },
                },
                status_code=415,
            )
        return body

    @app.delete(
        "/api/collections/{name}/documents/{source:path}",
        tags=["documents"],
        dependencies=[guard],
    )
    def remove(name: str, source: str) -> dict:
        remove_file(_collection_path(root, name), source)
        return {"removed": source}

    @app.get("/v1/models", tags=["openai"], dependencies=[guard])
    def models() -> dict:
        """One model per collection: "seedqa" is the default one, "seedqa/NAME" the others."""
        data = []
        for c in collections.list_collections(root):
            mid = (
                MODEL_PREFIX
                if c.name == collections.DEFAULT_COLLECTION
                else (f"{MODEL_PREFIX}/{c.name}")
            )
            data.append({"id": mid, "object": "model", "created": 0, "owned_by": "seedqa"})
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", tags=["openai"], dependencies=[guard])
    async def chat_completions(body: ChatRequest):
        """OpenAI's chat completions: the checked answer as the assistant's message.

        Citations come in an extra ``citations`` field (of the response, or of
        the last chunk when streaming).
        """
        question, pairs = _chat_turns(body)
        collection = _collection_of_model(body.model)
        _collection_path(root, collection)  # a bad or unknown name fails before any stream
        stream_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if not body.stream:
            answer = await run_in_threadpool(_answer, root, collection, question, pairs)
            return _completion(answer, body.model, stream_id)

        def chunks() -> Iterator[str]:
            # The content is the checked answer in one piece: a chat client cannot
            # take back text already shown if the final check abstains.
            yield _chunk(stream_id, body.model, {"role": "assistant", "content": ""})
            try:
                answer = _answer(root, collection, question, pairs)
            except SeedqaError as exc:
                message = public_message(exc)
                yield _chunk(stream_id, body.model, {"content": f"Error: {message}"}, "stop")
                yield "data: [DONE]\n\n"
                return
            yield _chunk(stream_id, body.model, {"content": answer.text})
            done = _completion(answer, body.model, stream_id)
            yield _chunk(
                stream_id,
                body.model,
                {},
                "stop",
                citations=done["citations"],
                seedqa=done["seedqa"],
            )
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    @app.api_route("/api/{rest:path}", methods=methods, include_in_schema=False)
    @app.api_route("/v1/{rest:path}", methods=methods, include_in_schema=False)
    def unknown(rest: str):
        """Before the web page's catch-all: an unknown endpoint is a JSON 404 too."""
        raise ApiError(404, "No such endpoint; see /docs for the API.", "not_found_error")

    return app


def _problem(error: dict) -> str:
    """One validation problem for a remote caller: where, and what, without type reprs."""
    where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "body"
    if where.split(".")[0] == "files":
        return f"{where}: send each document as a multipart file field named 'files'"
    return f"{where}: {public_message(str(error.get('msg', 'invalid')))}"


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}}, status_code=status
    )


def _info_json(info: collections.CollectionInfo) -> dict:
    return {
        "name": info.name,
        "documents": info.documents,
        "chunks": info.chunks,
        "updated_at": info.updated_at,
    }
