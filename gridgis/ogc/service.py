"""The collections of one store and published index, with their data cached."""

from __future__ import annotations

from gridgis.errors import InputError, NotFoundError
from gridgis.lookup import LoadedVersion, PublishedIndex
from gridgis.ogc.cache import CollectionCache
from gridgis.ogc.collection import CollectionData, CollectionSpec
from gridgis.ogc.sources import catalog, grids_spec
from gridgis.store.base import Store


class OgcService:
    """Answers "which collections" and "what is in this one" for the HTTP layer.

    ``version`` names a grid version; without it the grids are the published version,
    already in memory in the index.
    """

    def __init__(self, store: Store, index: PublishedIndex, cache: CollectionCache | None = None):
        self.store = store
        self.index = index
        self.cache = cache or CollectionCache()

    def _grids(self, version: str | None) -> LoadedVersion | None:
        return self.index.current() if version is None else self.index.named(version)

    def specs(self, version: str | None = None) -> list[CollectionSpec]:
        return catalog(self.store, self._grids(version), pinned=version is not None)

    def spec(self, collection_id: str, version: str | None = None) -> CollectionSpec:
        if collection_id == "grids":
            loaded = self._grids(version)
            if loaded is None:
                raise NotFoundError(
                    "no published version yet, so no grids: publish one or pass ?version="
                )
            return grids_spec(loaded, pinned=version is not None)
        if version is not None:
            raise InputError("version applies to the grids collection only")
        for spec in catalog(self.store, None):
            if spec.id == collection_id:
                return spec
        raise NotFoundError(f"no collection {collection_id!r}: see /ogc/collections")

    def data(self, spec: CollectionSpec) -> CollectionData:
        return self.cache.get(spec)

    def entries(self, version: str | None = None) -> list[tuple[CollectionSpec, CollectionData]]:
        """Every collection with its data (extents need the features)."""
        return [(spec, self.data(spec)) for spec in self.specs(version)]
