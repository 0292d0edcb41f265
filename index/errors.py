"""One family of user-facing errors.

Everything a user can cause (a wrong path, an index from another version, a
corrupt file) is raised as a :class:`SeedqaError` whose message says what to do
next. The CLI and the UI catch this family once and print it as one line; any
other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class SeedqaError(Exception):
    """An error caused by input or state the user can fix; the message says how."""


class InputError(SeedqaError):
    """Bad paths, empty folders, unusable questions."""


class IndexMissingError(SeedqaError):
    """No index where one was expected."""


class IndexIncompatibleError(SeedqaError):
    """The index was written by another format version or embedder."""


class IndexCorruptError(SeedqaError):
    """An index file is truncated, altered or unreadable."""


class IndexBusyError(SeedqaError):
    """Another process is writing the same index."""
