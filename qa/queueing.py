"""One answer at a time per process, first come first served, whoever asks.

The web chat, the REST API and the OpenAI-compatible endpoint all answer on
the same models; the models' own locks keep them correct, and this lock keeps
them fair: requests are answered in the order they arrived (a ticket queue,
as ``threading.Lock`` does not promise an order), so no way in can starve
another and two answers never split the 2 cores between them.
"""

from __future__ import annotations

import threading


class FairLock:
    """A FIFO lock: ``with ANSWERING:`` waits for every earlier holder."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0  # the next ticket to hand out
        self._serving = 0  # the ticket that may go

    def __enter__(self) -> FairLock:
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()

    @property
    def waiting(self) -> int:
        """Requests holding or waiting for the lock."""
        with self._cond:
            return self._next - self._serving


ANSWERING = FairLock()
