"""Token buckets per client, for reads made without a key (and sign-in attempts).

In memory and per worker: a client's limit across ``N`` workers is ``N`` times the
setting, which is what an operator tunes against. Behind a reverse proxy the client is
the address uvicorn reads from ``X-Forwarded-For`` (``--forwarded-allow-ips``).
"""

from __future__ import annotations

import math
import time

MAX_CLIENTS = 100_000  # buckets kept before the full ones are dropped


class RateLimit:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def retry_after(self, client: str, now: float | None = None) -> int | None:
        """Take one token; ``None`` if there was one, else seconds until there is."""
        if self.rate <= 0:
            return None
        now = time.monotonic() if now is None else now
        tokens, then = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))
        if len(self._buckets) >= MAX_CLIENTS and client not in self._buckets:
            self._forget(now)
        self._buckets[client] = (tokens - 1, now)
        return None

    def _forget(self, now: float) -> None:
        """Drop the buckets that have filled up again (those clients start full anyway)."""
        full = [
            c
            for c, (tokens, then) in self._buckets.items()
            if tokens + (now - then) * self.rate >= self.burst
        ]
        for c in full:
            del self._buckets[c]
        if len(self._buckets) >= MAX_CLIENTS:
            self._buckets.clear()


class Attempts:
    """Failed sign-ins per (name, address): after ``limit`` in a row, a pause."""

    def __init__(self, limit: int, pause: float) -> None:
        self.limit = limit
        self.pause = pause
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}

    def paused_for(self, name: str, address: str) -> int | None:
        count, since = self._failures.get((name, address), (0, 0.0))
        left = since + self.pause - time.monotonic()
        if count >= self.limit and left > 0:
            return max(1, math.ceil(left))
        return None

    def failed(self, name: str, address: str) -> None:
        key = (name, address)
        count, since = self._failures.get(key, (0, 0.0))
        now = time.monotonic()
        if now - since > self.pause:
            count = 0
        if len(self._failures) >= MAX_CLIENTS:
            self._failures.clear()
        self._failures[key] = (count + 1, now)

    def succeeded(self, name: str, address: str) -> None:
        self._failures.pop((name, address), None)
