"""A background thread that calls a refresh function every few seconds, or when woken.

The server keeps in-memory indexes (grids, addresses) in step with the store this way:
requests read the last built index and never wait for a rebuild.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Watcher:
    def __init__(self, refresh: Callable[[], object], seconds: float, name: str) -> None:
        self._refresh = refresh
        self.seconds = seconds
        self.name = name
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Refresh now rather than at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.seconds)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self._refresh()
            except Exception:  # keep serving what was built; try again next tick
                log.exception("%s: refresh failed", self.name)
