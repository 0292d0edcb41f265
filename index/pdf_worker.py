"""Extract a PDF's text in a child process under time and memory caps.

Run by :func:`index.documents._read_pdf` as ``python -I pdf_worker.py PATH
MEMORY_BYTES CPU_SECONDS``. PDF parsers have had infinite loops and memory
blow-ups on crafted files (several pypdf advisories in 2026); here the kernel
enforces the caps (``RLIMIT_AS``, ``RLIMIT_CPU``) before pypdf is even
imported, so a hostile PDF costs one killed child, never the indexer or the
web server. Prints the pages' text as a JSON list on stdout. Exit status 2:
the parser failed (its exception's name on stderr); 3: out of memory.
Imports only the standard library and pypdf, so it runs with ``-I``.
"""

from __future__ import annotations

import errno
import json
import resource
import sys


def main() -> int:
    path, memory, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
    try:
        from pypdf import PdfReader

        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
    except MemoryError:
        return 3
    except OSError as exc:
        # Under RLIMIT_AS a failed mmap (a module's file, a buffer) is ENOMEM,
        # not MemoryError: where it hits depends on the memory layout.
        if exc.errno == errno.ENOMEM or "cannot allocate memory" in str(exc).lower():
            return 3
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # malformed input raises anything
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
