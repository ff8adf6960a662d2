"""The collections of one store and published index, with their data cached."""

from __future__ import annotations

from typing import Any

from gridgis.errors import InputError, NotFoundError
from gridgis.lookup import LoadedVersion, PublishedIndex
from gridgis.lru import LRU
from gridgis.ogc.collection import CollectionData, CollectionSpec
from gridgis.ogc.sources import catalog, grids_spec
from gridgis.store.base import Store


class OgcService:
    """Answers "which collections" and "what is in this one" for the HTTP layer.

    ``version`` names a grid version; without it the grids are the published version,
    already in memory in the index. Collections' data live in ``cache`` (the server's one
    LRU) under their content key, so a re-import or a replaced draft is read afresh.
    """

    def __init__(self, store: Store, index: PublishedIndex, cache: LRU[Any]) -> None:
        self.store = store
        self.index = index
        self.cache = cache

    def _grids(self, version: str | None) -> LoadedVersion | None:
        return self.index.current() if version is None else self.index.named(version)

    def specs(self, version: str | None = None) -> list[CollectionSpec]:
        return catalog(self.store, self._grids(version), pinned=version is not None)

    def spec(self, collection_id: str, version: str | None = None) -> CollectionSpec:
        if collection_id == "grids":
            loaded = self._grids(version)
            if loaded is None:
                raise NotFoundError(
                    "no published version yet, so no grids: publish one or name a version",
                    param="version",
                    code="no_published_version",
                )
            return grids_spec(loaded, pinned=version is not None)
        if version is not None:
            raise InputError("version applies to the grids collection only", param="version")
        for spec in catalog(self.store, None):
            if spec.id == collection_id:
                return spec
        raise NotFoundError(
            f"no collection {collection_id!r}: see /ogc/collections", code="collection_not_found"
        )

    def data(self, spec: CollectionSpec) -> CollectionData:
        data: CollectionData = self.cache.get_or_build(
            ("collection", spec.slot, spec.content),
            lambda: CollectionData.build(spec.load(), spec.id_field),
        )
        return data

    def layer_data(self, kind: str) -> tuple[str, CollectionData] | None:
        """A base layer's content key and data (for other routes that draw it), or ``None``
        when it has not been imported."""
        for spec in catalog(self.store, None):
            if spec.id == kind:
                return str(spec.content), self.data(spec)
        return None

    def entries(self, version: str | None = None) -> list[tuple[CollectionSpec, CollectionData]]:
        """Every collection with its data (extents need the features)."""
        return [(spec, self.data(spec)) for spec in self.specs(version)]
