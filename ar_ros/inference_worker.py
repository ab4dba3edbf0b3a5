"""Runs inference off the subscription thread: the newest clip wins, the ones it replaces are counted as dropped."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class InferenceWorker:
    """A thread with a one-slot mailbox. `submit` never blocks; `handle` runs on the worker thread."""

    def __init__(self, handle: Callable[[Any], None], on_error: Callable[[Exception], None]):
        self._handle = handle
        self._on_error = on_error
        self._slot: Any = None
        self._cond = threading.Condition()
        self._stopping = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> None:
        with self._cond:
            if self._slot is not None:
                self.dropped += 1  # a newer clip makes the waiting one stale
            self._slot = item
            self._cond.notify()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._slot = None
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._slot is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                item, self._slot = self._slot, None
            try:
                self._handle(item)
            except Exception as err:  # a failing clip must not end the worker
                self._on_error(err)
