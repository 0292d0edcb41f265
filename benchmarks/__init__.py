"""Speed and scale benchmarks: ``seedqa bench`` / ``make bench`` (see benchmarks.run)."""
