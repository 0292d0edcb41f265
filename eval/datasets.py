"""Evaluation datasets: our JSONL suites, SQuAD v2 JSON, llama-index LabelledRagDataset.

Every loader returns a :class:`Dataset`: cases plus, for datasets that bring
their own documents, the documents to index (a SQuAD article, a RAG dataset's
reference contexts). A suite runs against the existing index (``seeds/`` by
default), unless a folder named after it sits beside it: ``injection.jsonl``
with ``injection_docs/`` is run against an index of that folder's files only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from index.errors import InputError

from .metrics import Expectation, normalize_answer
from .suites import Case, load_suite


@dataclass(frozen=True)
class GoldSpan:
    """Where the passage that answers a question sits, for retrieval hit@k."""

    source: str
    start: int
    end: int


@dataclass(frozen=True)
class EvalCase:
    case: Case
    golds: tuple[str, ...] = ()  # SQuAD-style gold answers ("" set: unanswerable)
    gold_span: GoldSpan | None = None
    # Where each gold answer sits in its document (SQuAD files with answer_start):
    # what the reader is trained on.
    gold_offsets: tuple[tuple[int, int], ...] = ()
    squad: bool = False  # scored with the SQuAD v2 metrics
    reference: str = ""  # free-text reference answer (RAG datasets), scored by F1


@dataclass
class Dataset:
    name: str
    cases: list[EvalCase]
    documents: dict[str, str] = field(default_factory=dict)  # file name -> text


def load_dataset(path: str | Path) -> Dataset:
    """Pick the loader from the file: .jsonl suite, SQuAD v2 JSON, or rag_dataset.json."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No such dataset: {path}.")
    if path.suffix == ".jsonl":
        dataset = Dataset(path.stem, [EvalCase(c) for c in load_suite(path)], suite_documents(path))
    else:
        raw = read_json(path)
        if isinstance(raw, dict) and isinstance(raw.get("data"), list):
            dataset = load_squad(raw, path.stem, source=str(path))
        elif isinstance(raw, dict) and isinstance(raw.get("examples"), list):
            dataset = load_rag_dataset(raw, path.stem, source=str(path))
        else:
            raise InputError(
                f"{path}: not a suite (.jsonl), a SQuAD v2 file (with 'data') or a "
                "LabelledRagDataset (with 'examples')."
            )
    if not dataset.cases:
        raise InputError(f"{path} holds no questions: nothing to evaluate.")
    return dataset


def read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not readable JSON ({exc}).") from exc


def suite_documents(suite: Path) -> dict[str, str]:
    """The suite's own corpus: the files of ``<suite name>_docs/`` beside it, if any."""
    folder = suite.with_name(f"{suite.stem}_docs")
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.is_file()}


_Model = TypeVar("_Model", bound=BaseModel)


class _SquadAnswer(BaseModel):
    text: str
    answer_start: int | None = None


class _SquadQuestion(BaseModel):
    id: str | int
    question: str
    answers: list[_SquadAnswer] = []
    is_impossible: bool = False


class _SquadParagraph(BaseModel):
    context: str
    qas: list[_SquadQuestion]


class _SquadArticle(BaseModel):
    title: str | None = None
    paragraphs: list[_SquadParagraph]


class SquadFile(BaseModel):
    """The parts of SQuAD v2's JSON we read; other fields are ignored."""

    data: list[_SquadArticle]


class _RagExample(BaseModel):
    query: str
    reference_contexts: list[str] | None = None
    reference_answer: str | None = None


class _RagFile(BaseModel):
    """The parts of llama-index's LabelledRagDataset JSON we read."""

    examples: list[_RagExample]


def _parse(model: type[_Model], raw: dict, source: str, shape: str) -> _Model:
    """Validate a dataset's JSON, naming the first thing wrong and where (not a traceback)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        wrong = "should be a JSON object" if error["type"] == "model_type" else error["msg"]
        raise InputError(
            f"{source}: not a valid {shape} file: {where}: {wrong[0].lower()}{wrong[1:]}."
        ) from exc


def parse_squad(raw: dict, source: str) -> SquadFile:
    """SQuAD v2 JSON checked for the fields we read; a one-line error names what is wrong."""
    return _parse(SquadFile, raw, source, "SQuAD v2")


def load_squad(raw: dict, name: str = "squad", source: str = "") -> Dataset:
    """One document per article (paragraphs joined by blank lines), every question a case."""
    squad = parse_squad(raw, source or name)
    documents: dict[str, str] = {}
    cases: list[EvalCase] = []
    for number, article in enumerate(squad.data):
        title = article.title or f"article-{number}"
        file_name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in title) + ".txt"
        parts: list[str] = []
        offset = 0
        for paragraph in article.paragraphs:
            context = paragraph.context
            span = GoldSpan(f"{name}/{file_name}", offset, offset + len(context))
            parts.append(context)
            offset += len(context) + 2
            for qa in paragraph.qas:
                # As the official script: gold answers that normalise to nothing
                # do not count, and a question without any is unanswerable.
                texts = [a.text for a in qa.answers]
                golds = () if qa.is_impossible else tuple(t for t in texts if normalize_answer(t))
                located = tuple(
                    (span.start + a.answer_start, span.start + a.answer_start + len(a.text))
                    for a in qa.answers
                    if golds
                    and a.answer_start is not None
                    and normalize_answer(a.text)
                    # only offsets that really hold the answer
                    and context[a.answer_start : a.answer_start + len(a.text)] == a.text
                )
                impossible = not golds
                expect = Expectation(unanswerable=True) if impossible else Expectation(any=golds)
                kind = "squad-noans" if impossible else "squad-hasans"
                case = Case(id=str(qa.id), question=qa.question, expect=expect, kind=kind)
                cases.append(
                    EvalCase(case, golds=golds, gold_span=span, gold_offsets=located, squad=True)
                )
        documents[file_name] = "\n\n".join(parts)
    return Dataset(name, cases, documents)


def load_rag_dataset(raw: dict, name: str = "rag_dataset", source: str = "") -> Dataset:
    """llama-index's LabelledRagDataset: its reference contexts become the documents."""
    rag = _parse(_RagFile, raw, source or name, "LabelledRagDataset")
    documents: dict[str, str] = {}
    by_text: dict[str, str] = {}
    cases: list[EvalCase] = []
    for number, example in enumerate(rag.examples):
        if not example.query.strip():
            raise InputError(f"{source or name}: example {number} has an empty 'query'.")
        for context in example.reference_contexts or []:
            if context not in by_text:
                file_name = f"context-{len(by_text):04d}.txt"
                by_text[context] = file_name
                documents[file_name] = context
        case = Case(id=f"{name}-{number}", question=example.query, expect=Expectation(), kind="rag")
        cases.append(EvalCase(case, reference=example.reference_answer or ""))
    return Dataset(name, cases, documents)
