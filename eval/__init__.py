"""Evaluation: suites of known facts, SQuAD-style metrics, reports."""
