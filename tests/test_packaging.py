"""What ships: the wheel holds the product and no research, and only the owner of a
model reaches into its library's private attributes."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("index", "qa", "eval", "training", "benchmarks", "seedqa")
# Classes allowed to touch a library's private attributes: none since the Gemma path
# (which read llama-cpp-python's logits) was retired; add (path, class) with a reason.
OWNERS: set[tuple[str, str]] = set()


def test_the_wheel_holds_the_product_and_no_research(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("seedqa-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("seedqa-")}
    assert tops == set(PRODUCT)
    assert not [n for n in names if "research" in n or "fit_ranker" in n or n.startswith("tools/")]
    assert "benchmarks/data/squad-v2-sample.json" in names
    assert "eval/suites/seed_facts.jsonl" in names
    assert {"qa/reader_model/model.onnx", "qa/reader_model/reader.json"} <= set(names)


def _private_accesses(path: Path) -> list[tuple[int, str, str | None]]:
    """``x._name`` on anything but self/cls, with the class it is written in."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def walk(node: ast.AST, owner: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.ClassDef) else owner
            if (
                isinstance(child, ast.Attribute)
                and child.attr.startswith("_")
                and not child.attr.startswith("__")
                and not (isinstance(child.value, ast.Name) and child.value.id in ("self", "cls"))
            ):
                found.append((child.lineno, ast.unparse(child), owner))
            walk(child, inner)

    walk(tree, None)
    return found


def test_no_private_attribute_is_touched_outside_its_owner_class():
    offences = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for line, expr, owner in _private_accesses(path):
                if (rel, owner) not in OWNERS:
                    offences.append(f"{rel}:{line}: {expr}")
    assert not offences
