"""Runs inference off the subscription thread, with a mailbox of `capacity` items.

Clip mode uses one slot: the newest clip wins and the one it replaces is counted as dropped. Stream mode needs
every sampled frame in order (each step carries the state forward), so it queues a few; when the queue is full the
oldest is dropped, counted, and `submit` says so, so the caller can restart the stream's state.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class InferenceWorker:
    """A thread with a bounded mailbox. `submit` never blocks; `handle` runs on the worker thread, in order."""

    def __init__(self, handle: Callable[[Any], None], on_error: Callable[[Exception], None], capacity: int = 1):
        self._handle = handle
        self._on_error = on_error
        self._mailbox: deque[Any] = deque(maxlen=capacity)
        self._cond = threading.Condition()
        self._stopping = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> bool:
        """Queue `item`; True when the mailbox was full and its oldest item was dropped for it."""
        with self._cond:
            full = len(self._mailbox) == self._mailbox.maxlen
            if full:
                self.dropped += 1  # clip mode: a newer clip makes the waiting one stale
            self._mailbox.append(item)
            self._cond.notify()
            return full

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._mailbox.clear()
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._mailbox and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                item = self._mailbox.popleft()
            try:
                self._handle(item)
            except Exception as err:  # a failing clip must not end the worker
                self._on_error(err)
