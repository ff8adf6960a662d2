"""Collections kept in memory between requests, replaced when their content changes.

Reading 45k buildings and building their tree takes a second at city scale; a request
must not pay that each time. Each layer's slot holds the data of its current import and
a new import replaces it, so there is one slot per layer. Grid versions each have a
slot; only the ``max_versions`` most recently used stay. Loads of the same slot are
serialised, so concurrent first requests read the store once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from gridgis.ogc.collection import CollectionData, CollectionSpec


class CollectionCache:
    def __init__(self, max_versions: int = 4) -> None:
        self.max_versions = max_versions
        self._lock = threading.Lock()
        self._slots: dict[str, tuple[Hashable, CollectionData]] = {}
        self._versions: OrderedDict[str, None] = OrderedDict()  # versioned slots, LRU first
        self._loading: dict[str, threading.Lock] = {}

    def _hit(self, spec: CollectionSpec) -> CollectionData | None:
        with self._lock:
            entry = self._slots.get(spec.slot)
            if entry is None or entry[0] != spec.content:
                return None
            if spec.versioned:
                self._versions.move_to_end(spec.slot)
            return entry[1]

    def get(self, spec: CollectionSpec) -> CollectionData:
        data = self._hit(spec)
        if data is not None:
            return data
        with self._lock:
            loading = self._loading.setdefault(spec.slot, threading.Lock())
        with loading:
            data = self._hit(spec)  # loaded by another request while this one waited
            if data is None:
                data = CollectionData.build(spec.load(), spec.id_field)
                with self._lock:
                    self._slots[spec.slot] = (spec.content, data)
                    if spec.versioned:
                        self._versions[spec.slot] = None
                        self._versions.move_to_end(spec.slot)
                        while len(self._versions) > self.max_versions:
                            old, _ = self._versions.popitem(last=False)
                            self._slots.pop(old, None)
                            self._loading.pop(old, None)
            return data
