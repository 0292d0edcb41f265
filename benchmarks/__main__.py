"""``python -m benchmarks`` is ``seedqa bench``."""

import sys

from qa.cli import cli

from .cli import bench_cmd

cli.add_command(bench_cmd)
cli(["bench", *sys.argv[1:]], prog_name="python -m benchmarks")
