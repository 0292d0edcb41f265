"""What a remote caller may read of an error: no server path, no exception class.

The CLI prints errors whole (the user is on the machine); the web page and the
HTTP API pass every message through :func:`public_message` first, and the log
keeps the full text. A path of two or more components becomes its last one
(``/srv/idx/collections/crane`` -> ``crane``), and a Python type's repr
(``<class 'str'>``) or a ``SomethingError:`` prefix is dropped.
"""

from __future__ import annotations

import re

_PATH = re.compile(r"(?<![\w.~-])(?:~|[A-Za-z]:)?(?:[/\\][^\s/\\'\"(),;<>]+){2,}[/\\]?")
_TYPE_REPR = re.compile(r"\s*<(?:class|type) '[^']*'>")
_EXCEPTION_PREFIX = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning):\s*")


def _last_part(match: re.Match[str]) -> str:
    return re.split(r"[/\\]", match.group(0).rstrip("/\\"))[-1]


def public_message(text: str | BaseException) -> str:
    """``text`` fit to show a remote caller (see the module docstring)."""
    message = str(text)
    message = _PATH.sub(_last_part, message)
    message = _TYPE_REPR.sub("", message)
    return _EXCEPTION_PREFIX.sub("", message).strip()
