"""Fail on any import that runs up a layer, or any import cycle among seedqa's modules.

The layers, lowest first (DESIGN.md: dependencies point one way):

    index       documents -> chunks -> embeddings -> the store
    qa          retrieval, the reader, answering, conversations, the web chat
    eval        datasets, metrics, runs and reports over qa
    training    building the reader (uses eval's metrics and runs)
    benchmarks  speed and load measurements (beside training, not on it)
    seedqa      the command line, assembled from every layer's commands

A module may import its own layer and the layers below, never one above or a
sibling at its level. Every import counts, also one inside a function: a lazy
import upwards is still an upward dependency. ``python tools/check_layers.py``
prints each offence and exits 1; ``make test`` runs it.

Written by hand because the tools that do this (import-linter, pydeps) would
be another dependency for forty lines of ``ast``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS: dict[str, int] = {
    "index": 0,
    "qa": 1,
    "eval": 2,
    "training": 3,
    "benchmarks": 3,
    "seedqa": 4,
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    path: Path


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: Path, packages: dict[str, int]) -> dict[str, Path]:
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            modules[module_name(path, root)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Edge]:
    """Every import in the file that names one of ``modules`` (the most specific one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges = []

    def add(target: str, line: int) -> None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        edge = Edge(name, target, line, path)
        if target and target != name and edge not in edges:
            edges.append(edge)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            for alias in node.names:
                # "from . import ranking" imports the module qa.ranking
                submodule = f"{origin}.{alias.name}"
                add(submodule if submodule in modules else origin, node.lineno)
    return edges


def upward(edges: list[Edge], layers: dict[str, int]) -> list[Edge]:
    bad = []
    for e in edges:
        here, there = e.source.split(".")[0], e.target.split(".")[0]
        if here != there and layers[there] >= layers[here]:
            bad.append(e)
    return bad


def cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def order(layers: dict[str, int]) -> str:
    """The layers as a chain, lowest first: "index <- qa <- ... <- training, benchmarks"."""
    levels = sorted(set(layers.values()))
    return " <- ".join(", ".join(p for p, n in layers.items() if n == lv) for lv in levels)


def check(root: Path = ROOT, layers: dict[str, int] = LAYERS) -> list[str]:
    """Every problem found, one line each (empty: the layers hold)."""
    modules = find_modules(root, layers)
    edges = [e for name, path in modules.items() for e in imports_of(name, path, modules)]
    problems = [
        f"{e.path.relative_to(root)}:{e.line}: {e.source} imports {e.target}, "
        f"a layer above or beside it ({order(layers)})"
        for e in upward(edges, layers)
    ]
    problems += [f"import cycle: {' <-> '.join(c)}" for c in cycles(edges)]
    return problems


def main() -> int:
    problems = check()
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} layering problem(s).", file=sys.stderr)
        return 1
    print(f"Layers hold: {order(LAYERS)}; no import cycles.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
