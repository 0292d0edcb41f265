"""tools/check_layers.py: the repository's layers hold, and the checker catches what breaks them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import check_layers  # noqa: E402


def test_the_repository_has_no_upward_import_and_no_cycle():
    res = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_layers.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no import cycles" in res.stdout


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_an_import_up_a_layer_is_reported_with_its_line(tmp_path):
    root = _tree(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/store.py": "def load():\n    from high.cli import run\n",
            "high/__init__.py": "",
            "high/cli.py": "from low.store import load\n",
        },
    )
    problems = check_layers.check(root, {"low": 0, "high": 1})
    assert problems == [
        "low/store.py:2: low.store imports high.cli, a layer above or beside it (low <- high)",
        "import cycle: high.cli <-> low.store",
    ]


def test_a_cycle_inside_a_package_and_a_sibling_import_are_reported(tmp_path):
    root = _tree(
        tmp_path,
        {
            "qa/__init__.py": "",
            "qa/chat.py": "from .pipeline import answer\n",
            "qa/pipeline.py": "from . import chat\nanswer = 1\n",
            "a/__init__.py": "import b\n",
            "b/__init__.py": "",
        },
    )
    problems = check_layers.check(root, {"qa": 0, "a": 1, "b": 1})
    assert "import cycle: qa.chat <-> qa.pipeline" in problems
    assert any(p.startswith("a/__init__.py:1: a imports b") for p in problems)
    assert len(problems) == 2
