"""The one LRU cache: bounds, recency, and one build per key under concurrent asks."""

from __future__ import annotations

import threading
import time

from gridgis.lru import LRU


def test_a_count_bound_drops_the_least_recently_used() -> None:
    cache: LRU[str] = LRU(2, lambda _: 1)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # a is now more recent than b
    cache.put("c", "C")
    assert "b" not in cache and cache.get("a") == "A" and cache.get("c") == "C"
    assert (cache.hits, cache.misses) == (3, 0)


def test_a_size_bound_counts_bytes_and_keeps_empty_values() -> None:
    cache: LRU[bytes] = LRU(10, len)
    cache.put("x", b"12345678")
    cache.put("empty", b"")
    cache.put("y", b"123")  # 11 bytes: the oldest, x, goes
    assert cache.get("empty") == b"" and "x" not in cache and cache.get("y") == b"123"
    cache.put("huge", b"x" * 50)  # over the budget alone: kept, the rest goes
    assert len(cache) == 1 and cache.get("huge") == b"x" * 50


def test_concurrent_asks_build_once() -> None:
    cache: LRU[int] = LRU(4, lambda _: 1)
    builds: list[int] = []

    def build() -> int:
        builds.append(1)
        time.sleep(0.05)
        return 42

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_build("k", build)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 8 and builds == [1]


def test_an_object_array_counts_what_it_points_to() -> None:
    import numpy as np

    from gridgis.lru import nbytes

    texts = np.array(["网格" * 25] * 1000, dtype=object)
    assert nbytes(texts) > 10 * texts.nbytes  # not just its 8-byte pointers
