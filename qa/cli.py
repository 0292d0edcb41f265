"""The ``seedqa`` command.

User mistakes arrive as :class:`index.errors.SeedqaError` and are printed as
one line with a non-zero exit; tracebacks are only for bugs, or with --debug.
"""

from __future__ import annotations

import functools
import json
import logging
import sys

import click

from index import collections, ensure_index, open_store, resolve_index_dir, use_store
from index.config import DEFAULT_INDEX_DIR
from index.errors import IndexMissingError, SeedqaError
from qa.wording import counted

MIN_SECRET = 8  # characters, for the --auth password and the --api-key alike
INDEX_DIR_HELP = f"Index folder (default: $SEEDQA_INDEX_DIR or ./{DEFAULT_INDEX_DIR})."


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SeedqaError as exc:
            if ctx.params.get("debug"):
                raise
            click.secho(f"Error: {exc}", fg="red", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
def cli(debug: bool) -> None:
    """seedqa: ask questions about your documents, offline, with exact citations."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not debug:
        for noisy in ("sentence_transformers", "transformers", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def index_dir_option(f=None, *, create: bool = False):
    """``--index-dir`` and ``--collection``, as every command that reads an index takes them.

    The command receives ``index_dir`` already pointing at the chosen
    collection's folder (the default collection: the index folder itself). A
    named collection must exist, unless ``create`` (``seedqa index`` makes it).
    """

    def decorate(f):
        @functools.wraps(f)
        def run(*args, index_dir: str | None, collection: str | None, store: str | None, **kwargs):
            if store is not None:
                use_store(store)
            named = collection not in (None, collections.DEFAULT_COLLECTION)
            click.get_current_context().meta["seedqa.collection"] = collection if named else None
            if named:
                make = collections.create if create else collections.require
                index_dir = str(make(collection, index_dir))
            return f(*args, index_dir=index_dir, **kwargs)

        run = click.option(
            "--collection",
            default=None,
            metavar="NAME",
            help="A named collection (default: the default collection).",
        )(run)
        run = store_option(run)
        return click.option(
            "--index-dir", type=click.Path(file_okay=False), default=None, help=INDEX_DIR_HELP
        )(run)

    return decorate(f) if f is not None else decorate


STORE_HELP = (
    "Keep the index in PostgreSQL with pgvector (postgresql://USER@HOST:PORT/DB) instead "
    "of files in --index-dir; or set SEEDQA_STORE."
)
store_option = click.option("--store", default=None, metavar="URL", help=STORE_HELP)


def ensure_default_index(index_dir: str | None) -> None:
    """``index.ensure_index`` for the default collection; a named one is never filled."""
    if click.get_current_context().meta.get("seedqa.collection"):
        return
    ensure_index(index_dir, announce=lambda message: click.echo(message, err=True))


@cli.command("index")
@click.argument("paths", nargs=-1, type=click.Path())
@index_dir_option(create=True)
@click.option("--rebuild", is_flag=True, help="Ignore the existing index and build it anew.")
@click.option(
    "--workers",
    default=None,
    metavar="N|tcp://HOST:PORT",
    help="Read, chunk and embed on Dask workers: N local processes, or a running scheduler.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary line.")
def index_cmd(
    paths: tuple[str, ...], index_dir: str | None, rebuild: bool, workers: str | None, quiet: bool
) -> None:
    """Build or update the index from PATHS (files or folders; default: seeds/).

    Unchanged documents are not embedded again; changed ones are replaced and
    files removed from an indexed folder leave the index.
    """
    from index import update_index
    from index.distributed import parse_workers

    report = update_index(
        paths or ["seeds"],
        index_dir,
        rebuild=rebuild,
        progress=None if not quiet else False,
        workers=parse_workers(workers),
    )
    if not quiet:
        for label, names in (
            ("added", report.added),
            ("updated", report.updated),
            ("removed", report.removed),
        ):
            for name in names:
                click.echo(f"  {label:9} {name}")
        for name, why in report.skipped:
            click.echo(f"  {'skipped':9} {name}: {why}")
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
        f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped; "
        f"{counted(report.embedded_chunks, 'chunk')} embedded. "
        f"Index: {counted(report.documents, 'document')}, "
        f"{counted(report.chunks, 'chunk')} in {report.location}"
    )


@cli.command("remove")
@click.argument("sources", nargs=-1, required=True)
@index_dir_option
def remove_cmd(sources: tuple[str, ...], index_dir: str | None) -> None:
    """Remove documents (by the name `seedqa status` lists) from the index."""
    from index import remove_documents

    report = remove_documents(sources, index_dir)
    click.echo(
        f"Removed {len(report.removed)}; index: {counted(report.documents, 'document')}, "
        f"{counted(report.chunks, 'chunk')}."
    )


@cli.command("status")
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_cmd(index_dir: str | None, as_json: bool) -> None:
    """Show what the index holds."""
    from index import read_manifest

    path = resolve_index_dir(index_dir)
    where = open_store(path).location
    manifest = read_manifest(path)
    if manifest is None:
        raise IndexMissingError(f"No index in {where}. Build one: seedqa index seeds/")
    if as_json:
        click.echo(json.dumps(manifest.model_dump(mode="json", exclude={"files"}), indent=1))
        return
    click.echo(
        f"Index {where}: {counted(len(manifest.documents), 'document')}, "
        f"{counted(manifest.chunk_count, 'chunk')}, "
        f"{manifest.embedder.name}, updated {manifest.updated_at}"
    )
    for source, entry in sorted(manifest.documents.items()):
        click.echo(
            f"  {source}  ({counted(entry.chunks, 'chunk')}, {counted(entry.chars, 'character')})"
        )
    if click.get_current_context().meta.get("seedqa.collection") is None:
        others = collections.list_collections(path)[1:]
        if others:
            named = ", ".join(f"{c.name} ({counted(c.documents, 'document')})" for c in others)
            click.echo(f"Other collections (--collection NAME): {named}")


@cli.command("ask")
@click.argument("question")
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (see README).")
def ask_cmd(question: str, index_dir: str | None, as_json: bool) -> None:
    """Answer QUESTION from the indexed documents, with citations."""
    from qa import answer
    from qa.pipeline import validate_question

    validate_question(question)
    ensure_default_index(index_dir)
    result = answer(question, index_dir=index_dir)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    click.echo(result.text)
    _print_citations(result)


def _print_citations(result) -> None:
    for n, c in enumerate(result.citations, 1):
        quote = " ".join(c.quote.split())
        click.secho(f'  [{n}] {c.source}:{c.start}-{c.end}  "{quote}"', dim=True)


@cli.command("chat")
@index_dir_option
def chat_cmd(index_dir: str | None) -> None:
    """Talk to your documents in the terminal (/new starts over, /quit or Ctrl-D leaves)."""
    from qa import Chat

    ensure_default_index(index_dir)
    chat = Chat(index_dir)
    chat.assistant.retriever()  # fail early on a missing or broken index
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("Ask a question about your documents. /new starts over, /quit leaves.")
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            break
        line = line.strip()
        if not line:
            continue
        if line in {"/quit", "/exit"}:
            break
        if line == "/new":
            chat.reset()
            click.echo("(new conversation)")
            continue
        try:
            if interactive:
                click.echo("seedqa> ", nl=False)
            for piece in chat.stream(line):
                if interactive:
                    click.echo(piece, nl=False)
            last = chat.last
            if interactive:
                click.echo("\r\033[K", nl=False)
            click.echo(f"seedqa> {last.text}")
            _print_citations(last)
        except SeedqaError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)


@cli.command("serve")
@click.option("--index-dir", type=click.Path(file_okay=False), default=None, help=INDEX_DIR_HELP)
@store_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; use 0.0.0.0 only with --auth or --api-key.",
)
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--auth",
    envvar="SEEDQA_AUTH",
    default=None,
    metavar="USER:PASSWORD",
    help="Require a login for the page and the API (or set SEEDQA_AUTH).",
)
@click.option(
    "--api-key",
    envvar="SEEDQA_API_KEY",
    default=None,
    metavar="KEY",
    help="Require 'Authorization: Bearer KEY' on the API, and KEY as the page's password "
    "(or set SEEDQA_API_KEY).",
)
@click.option(
    "--allow-origin",
    "allow_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Let a front end served from ORIGIN (scheme://host[:port]) call the server from "
    "the browser; repeat for several. Without it only the server's own page may.",
)
def serve_cmd(
    index_dir: str | None,
    store: str | None,
    host: str,
    port: int,
    auth: str | None,
    api_key: str | None,
    allow_origins: tuple[str, ...],
) -> None:
    """Open the web chat and the HTTP API (indexes seeds/ first if there is no index yet).

    The page is at /, the REST API under /api, OpenAI-compatible chat under /v1,
    and the API's documentation at /docs. Every collection is served.
    """
    from index.errors import InputError

    from .edge import EdgeConfigError, normalise_origin
    from .ui import check_port, serve

    if store is not None:
        use_store(store)
    credentials = None
    if auth:
        user, sep, password = auth.partition(":")
        if not (sep and user and password):
            raise InputError("--auth takes USER:PASSWORD, both non-empty.")
        if len(password) < MIN_SECRET:
            raise InputError(f"--auth: the password must be at least {MIN_SECRET} characters long.")
        credentials = (user, password)
    if api_key is not None and len(api_key) < MIN_SECRET:
        raise InputError(f"--api-key must be at least {MIN_SECRET} characters long.")
    try:
        origins = tuple(normalise_origin(o) for o in allow_origins)
    except EdgeConfigError as exc:
        raise InputError(f"--allow-origin: {exc}") from exc
    check_port(host, port)
    click.echo(
        f"seedqa web chat on http://{host}:{port}  (API: /api, /v1; docs: /docs; Ctrl-C stops it)",
        err=True,
    )
    serve(index_dir, host=host, port=port, auth=credentials, api_key=api_key, allow_origins=origins)
