"""Counts as people write them: "1 chunk", "2 chunks", "12,400 characters"."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1; every noun we count takes an -s."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
