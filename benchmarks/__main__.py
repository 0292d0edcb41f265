"""``python -m benchmarks`` is ``seedqa bench``."""

from qa.cli import cli

cli(["bench", *__import__("sys").argv[1:]], prog_name="python -m benchmarks")
