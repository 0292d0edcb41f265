"""The load script against a real `seedqa serve` that this test starts on 127.0.0.1 and stops.

10 clients send 50 questions, through the web chat's events or the REST API
(each client one two-turn conversation plus standalone questions), while a
document is uploaded and indexed; every reply must be right for its own
question and session, none lost, the server up.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, stop_server
from tests.test_web import _start_server, _wait_http


@pytest.mark.parametrize("via", ["web", "api"])
def test_fifty_concurrent_questions_during_an_upload(tmp_path, via):
    proc, url = _start_server(tmp_path)
    try:
        _wait_http(url, proc)
        res = subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "load.py"),
                "--url",
                url,
                "--json",
                "--via",
                via,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert res.returncode == 0, res.stdout + res.stderr
        summary = json.loads(res.stdout.strip().splitlines()[-1])
        assert (
            summary["via"] == via and summary["clients"] == 10 and summary["questions_sent"] >= 50
        )
        assert summary["replies"] == summary["questions_sent"] and summary["wrong"] == 0
        assert summary["upload"].endswith("indexed") and summary["answered_after_upload"]
        assert summary["server_up"] and proc.poll() is None
        print(summary)  # the figures, in `pytest -s` output
    finally:
        stop_server(proc)
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log[-3000:]
