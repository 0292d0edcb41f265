"""The top floor: the ``seedqa`` command, assembled from every layer's commands.

Layers import only downwards (index ← qa ← eval ← training, benchmarks ←
seedqa); this package is the one place that sees them all, so the command line
can offer ``seedqa eval`` and ``seedqa bench`` without ``qa`` importing them.
``tools/check_layers.py`` enforces the order.
"""
