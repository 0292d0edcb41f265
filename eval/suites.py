"""Loading our JSONL suites (one case per line)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from index.errors import InputError

from .metrics import Expectation

SUITES_DIR = Path(__file__).with_name("suites")
DEFAULT_SUITE = SUITES_DIR / "seed_facts.jsonl"


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    expect: Expectation
    kind: str = "fact"
    history: tuple[str, ...] = ()
    # Why the current system gets this case wrong; such cases are reported as
    # expected failures until the system improves (then the field is removed).
    known_failure: str = ""


def load_suite(path: str | Path = DEFAULT_SUITE) -> list[Case]:
    path = Path(path)
    cases: list[Case] = []
    ids: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"Cannot read the suite {path}: {exc.strerror}.") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            case = Case(
                id=str(raw["id"]),
                question=str(raw["question"]),
                kind=str(raw.get("kind", "fact")),
                history=tuple(raw.get("history", ())),
                known_failure=str(raw.get("known_failure", "")),
                expect=Expectation(
                    any=tuple(raw.get("any", ())),
                    all=tuple(raw.get("all", ())),
                    none=tuple(raw.get("none", ())),
                    unanswerable=bool(raw.get("unanswerable", False)),
                ),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{number}: not a valid suite case ({exc}).") from exc
        if case.id in ids:
            raise InputError(f"{path}:{number}: duplicate case id {case.id!r}.")
        ids.add(case.id)
        cases.append(case)
    return cases
