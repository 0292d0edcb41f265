"""`seedqa train-reader --quick`: the whole training path on a few dozen real questions.

Runs the real command on the committed SQuAD samples (tests/data): examples built
with the product's chunking and retrieval, a real fine-tuning run of the packaged
MiniLM, killed once mid-run and resumed from its checkpoint, then exported to
int8 ONNX, its threshold chosen on the held-out articles, and its model card written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from index.documents import sha256_file
from qa.reader import CONFIG_FILE, MODEL_FILE, Reader
from training.card import NOTES_MARKER, kept_notes, training_command
from training.data import DataSettings
from training.loop import QUICK, TrainSettings

DATA = Path(__file__).resolve().parents[1] / "data"

pytestmark = pytest.mark.slow


def _command(work: Path, out: Path) -> list[str]:
    exe = Path(sys.executable).with_name("seedqa")
    return [
        str(exe),
        "train-reader",
        "--quick",
        "--work",
        str(work),
        "--out",
        str(out),
        "--gold",
        str(DATA / "squad-v2-train-sample.json"),
        "--silver",
        str(DATA / "squad-v2-silver-sample.json"),
    ]


def test_quick_training_resumes_after_a_kill_and_writes_a_loadable_reader(tmp_path):
    work, out = tmp_path / "work", tmp_path / "reader"
    checkpoint = work / "checkpoint.pt"
    env = {**os.environ, "SEEDQA_CACHE_DIR": os.environ.get("SEEDQA_CACHE_DIR", "")}
    env = {k: v for k, v in env.items() if v}
    first = subprocess.Popen(
        _command(work, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert checkpoint.exists(), first.communicate()[0].decode()[-2000:]
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (out / MODEL_FILE).exists()  # killed before the export

    second = subprocess.run(
        _command(work, out), capture_output=True, text=True, timeout=600, env=env
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resuming from" in second.stderr
    assert "Reader written to" in second.stdout

    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["sha256"][MODEL_FILE] == sha256_file(out / MODEL_FILE)
    assert (out / MODEL_FILE).stat().st_size < 30 * 2**20
    card = (out / "MODEL_CARD.md").read_text()
    for needed in ("all-MiniLM-L6-v2", "CC BY-SA 4.0", "seedqa train-reader --quick", "sha256"):
        assert needed in card
    history = json.loads((out / "training.json").read_text())["history"]
    assert len(history) == 1 and history[0]["train_loss"] > 0

    reader = Reader(out)
    readings = reader.read("Who founded Harvard?", ["Harvard was founded by John Harvard."])
    assert len(readings) == 1 and readings[0].spans
    span = readings[0].spans[0]
    assert 0 <= span.start < span.end <= len("Harvard was founded by John Harvard.")

    # A new decision rule is taken up without training again: the model stays,
    # and so do the notes written by hand below the card's marker.
    model_digest = sha256_file(out / MODEL_FILE)
    assert NOTES_MARKER in card
    note = "## Measured later\n\nA figure written by hand."
    (out / "MODEL_CARD.md").write_text(card + "\n" + note + "\n")
    again = subprocess.run(
        [*_command(work, out), "--calibrate-only"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "recalibrated" in again.stdout
    assert sha256_file(out / MODEL_FILE) == model_digest
    record = json.loads((out / "training.json").read_text())
    assert record["history"] == history and "validation" in record
    assert Reader(out).config.sha256[MODEL_FILE] == model_digest
    recalibrated = (out / "MODEL_CARD.md").read_text()
    assert recalibrated.count(NOTES_MARKER) == 1 and recalibrated.rstrip().endswith(note)


def _refused(*args: str) -> subprocess.CompletedProcess:
    """``seedqa train-reader ARGS`` run to its refusal: one line on stderr, no traceback."""
    exe = Path(sys.executable).with_name("seedqa")
    done = subprocess.run(
        [str(exe), "train-reader", *args], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr
    return done


def test_training_options_with_calibrate_only_are_a_usage_error(tmp_path):
    done = _refused("--calibrate-only", "--epochs", "2", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "--epochs applies only to training" in done.stderr
    # A zero is given too, not mistaken for a flag left off.
    done = _refused("--calibrate-only", "--warmup", "0", "--silver-weight", "0")
    assert done.returncode == 2
    assert "--warmup, --silver-weight apply only to training" in done.stderr
    done = _refused("--calibrate-only", "--bf16")
    assert done.returncode == 2 and "--bf16 applies only to training" in done.stderr
    done = _refused("--calibrate-only", "--extra", "x.json")
    assert done.returncode == 2 and "--extra applies only to training" in done.stderr
    done = _refused("--quick", "--source-weight", "covid-qa-200423")
    assert done.returncode == 2 and "SOURCE=WEIGHT" in done.stderr


def test_recalibrating_a_folder_without_a_trained_reader_is_a_one_line_error(tmp_path):
    done = _refused("--calibrate-only", "--out", str(tmp_path / "none"))
    assert done.returncode == 1
    assert "train one first" in done.stderr


def test_training_data_that_is_missing_is_a_one_line_error(tmp_path):
    done = _refused("--quick", "--work", str(tmp_path), "--gold", str(tmp_path / "nothing.json"))
    assert done.returncode == 1
    assert "No training data at" in done.stderr


def test_hand_written_notes_follow_their_model_only():
    card = f"# card\n- `model.onnx`: `abc123`\n\n{NOTES_MARKER}\n\n## Note\n\ntext\n"
    assert kept_notes(card, "abc123") == "## Note\n\ntext"
    assert kept_notes(card, "def456") == ""  # another model: its notes do not apply
    assert kept_notes("# card without a marker\n`abc123`", "abc123") == ""
    assert kept_notes(card, "") == ""  # no digest known: nothing to match


def test_the_card_names_the_command_that_trains_the_same_settings_again():
    assert training_command(TrainSettings(), DataSettings(), quick=False) == "seedqa train-reader"
    assert training_command(QUICK, DataSettings(), quick=True) == "seedqa train-reader --quick"
    changed = replace(TrainSettings(), learning_rate=5e-5, warmup=0.0, shared_loss=1.0)
    data = DataSettings(silver_weight=1.0, negatives=2, unanswerable_chunks=2)
    assert training_command(changed, data, quick=False) == (
        "seedqa train-reader --learning-rate 5e-05 --warmup 0.0 --shared-loss 1.0"
        " --silver-weight 1.0"
        " --negatives 2"
    )
    bf16 = replace(TrainSettings(), bf16=True)
    assert training_command(bf16, DataSettings(), quick=False) == "seedqa train-reader --bf16"
