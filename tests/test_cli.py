"""The `seedqa` command as a user runs it: real subprocesses, clear errors."""

from __future__ import annotations

import shutil

from tests.conftest import SEEDS, run_cli


def test_help_for_every_command():
    for args in [(), ("index",), ("ask",), ("chat",), ("status",), ("remove",), ("train-reader",)]:
        res = run_cli(*args, "--help")
        assert res.returncode == 0 and "Usage:" in res.stdout


def test_user_mistakes_get_one_line_errors(tmp_path):
    idx = str(tmp_path / "idx")
    cases = [
        (("index", str(tmp_path / "missing"), "--index-dir", idx), "No such file or folder"),
        (("ask", "   ", "--index-dir", idx), "empty"),
        (("ask", "q" * 4001, "--index-dir", idx), "limit is 4,000"),
        (("ask", "Anything?", "--index-dir", idx), "No index in"),
        (("status", "--index-dir", idx), "No index in"),
    ]
    (tmp_path / "empty").mkdir()
    cases.append((("index", str(tmp_path / "empty"), "--index-dir", idx), "No supported documents"))
    datasets = {
        "no-questions.json": ('{"data": []}', "holds no questions"),
        "no-context.json": (
            '{"data": [{"paragraphs": [{"qas": []}]}]}',
            "not a valid SQuAD v2 file: data.0.paragraphs.0.context: field required",
        ),
        "not-an-object.json": ('{"data": [1]}', "data.0: should be a JSON object"),
        "rag.json": ('{"examples": [{"query": 7}]}', "examples.0.query: input should be"),
    }
    for name, (text, message) in datasets.items():
        (tmp_path / name).write_text(text)
        cases.append((("eval", name), message))
    cases.append(
        (("bench", "--quick", "--squad", "no-context.json"), "data.0.paragraphs.0.context")
    )
    cases.append((("bench", "--quick", "--squad", "gone.json"), "No such SQuAD file: gone.json"))
    (tmp_path / "two.json").write_text('{"examples": [{"query": "a?"}, {"query": "b?"}]}')
    cases.append((("eval", "two.json", "--every", "3"), "takes no question from two.json"))
    for args, message in cases:
        res = run_cli(*args, cwd=tmp_path)
        assert res.returncode == 1, (args, res.stdout, res.stderr)
        assert message in res.stderr
        assert "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_index_reports_changes_and_chat_reads_stdin(tmp_path):
    shutil.copytree(SEEDS, tmp_path / "seeds")
    (tmp_path / "seeds" / "notes.bin.txt").write_bytes(b"\x00\x01binary")
    first = run_cli("index", "seeds", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "1 added" in first.stdout and "skipped" in first.stdout and "binary" in first.stdout
    assert "Index: 1 document, " in first.stdout  # not "1 documents"
    again = run_cli("index", "seeds", "-q", cwd=tmp_path)
    assert "0 added, 0 updated, 0 removed, 1 unchanged" in again.stdout
    assert "0 chunks embedded" in again.stdout

    status = run_cli("status", cwd=tmp_path)
    assert "seeds/000_e0d75e9825ac5acc.txt" in status.stdout

    chat = run_cli(
        "chat",
        cwd=tmp_path,
        input_text="How much did Azercosmos export in 2020?\nTo how many countries?\n/quit\n",
    )
    assert chat.returncode == 0, chat.stderr
    lines = [x for x in chat.stdout.splitlines() if x.startswith("seedqa> ")]
    assert "45.1 million" in lines[0] and "33" in lines[1]


def test_serve_on_a_port_in_use_is_a_one_line_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = run_cli("serve", "--port", str(port), cwd=tmp_path, timeout=60)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert f"Cannot listen on 127.0.0.1:{port}" in res.stderr and "--port" in res.stderr


def test_collections_from_the_command_line(tmp_path):
    idx = str(tmp_path / "idx")
    docs = tmp_path / "harbour"
    docs.mkdir()
    (docs / "notes.txt").write_text("The Orlan harbour was rebuilt in 1911 by Tomas Brek.\n")
    made = run_cli(
        "index", str(docs), "--collection", "harbour", "--index-dir", idx, "-q", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    got = run_cli(
        "ask",
        "Who rebuilt the Orlan harbour?",
        "--collection",
        "harbour",
        "--index-dir",
        idx,
        cwd=tmp_path,
    )
    assert got.returncode == 0 and "Tomas Brek" in got.stdout, got.stdout + got.stderr
    status = run_cli("status", "--collection", "harbour", "--index-dir", idx, cwd=tmp_path)
    assert "harbour/notes.txt" in status.stdout
    # The default collection was never made; a collection nobody made is named as such.
    assert "No index in" in run_cli("ask", "Who?", "--index-dir", idx, cwd=tmp_path).stderr
    missing = run_cli("ask", "Who?", "--collection", "docks", "--index-dir", idx, cwd=tmp_path)
    assert missing.returncode == 1 and "No collection named 'docks'" in missing.stderr
    bad = run_cli("ask", "Who?", "--collection", "../up", "--index-dir", idx, cwd=tmp_path)
    assert bad.returncode == 1 and "not a collection name" in bad.stderr
    assert "Traceback" not in missing.stderr + bad.stderr
    run_cli("index", str(docs), "--index-dir", idx, "-q", cwd=tmp_path)  # the default one too
    listed = run_cli("status", "--index-dir", idx, cwd=tmp_path).stdout
    assert "Other collections (--collection NAME): harbour (1 document)" in listed
