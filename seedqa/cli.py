"""``seedqa``: the root command group of ``qa.cli`` with the upper layers' commands mounted.

Each layer owns its commands (``qa.cli``: index, remove, status, ask, chat,
serve; ``eval.cli``: eval; ``benchmarks.cli``: bench; ``training.cli``:
train-reader). Mounting them here, above all of them, keeps every import
pointing down.
"""

from __future__ import annotations

from benchmarks.cli import bench_cmd
from eval.cli import eval_cmd
from qa.cli import cli
from training.cli import train_reader_cmd

for command in (eval_cmd, bench_cmd, train_reader_cmd):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="seedqa")


if __name__ == "__main__":
    main()
