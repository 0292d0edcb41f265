"""``python -m seedqa`` is ``seedqa``."""

from seedqa.cli import main

main()
