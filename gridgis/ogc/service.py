"""The collections of one store and published index, with their data cached."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridgis.errors import InputError, NotFoundError
from gridgis.lookup import LoadedVersion, PublishedIndex
from gridgis.lru import LRU
from gridgis.ogc.collection import CollectionData, CollectionShape, CollectionSpec
from gridgis.ogc.query import ItemQuery, parse_items_query, period_param, select
from gridgis.ogc.sources import catalog, grids_spec
from gridgis.store.base import Store, VersionInfo

Params = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Items:
    """An items request answered, before encoding: the positions of ``data`` it matched."""

    spec: CollectionSpec
    data: CollectionData
    query: ItemQuery
    matched: NDArray[np.intp]


class OgcService:
    """Answers "which collections" and "what is in this one" for the HTTP layer.

    ``version`` names a grid version; without it the grids are the published version,
    already in memory in the index. Collections' data live in ``cache`` (the server's one
    LRU) under their content key, so a re-import or a replaced draft is read afresh.
    ``timezone`` is the city's: ``datetime`` values without an offset, and dates, are
    read in it.
    """

    def __init__(
        self, store: Store, index: PublishedIndex, cache: LRU[Any], *, timezone: str
    ) -> None:
        self.store = store
        self.index = index
        self.cache = cache
        self.timezone = timezone

    def _grids(self, version: str | None) -> tuple[LoadedVersion | None, VersionInfo | None]:
        """The grids to serve, and the version's record now if it was named."""
        if version is None:
            return self.index.current(), None
        record = self.store.get_version(version)
        return self.index.version(record), record

    def specs(self, version: str | None = None) -> list[CollectionSpec]:
        loaded, record = self._grids(version)
        return catalog(self.store, loaded, pinned=version is not None, record=record)

    def spec(self, collection_id: str, version: str | None = None) -> CollectionSpec:
        if collection_id == "grids":
            loaded, record = self._grids(version)
            if loaded is None:
                raise NotFoundError(
                    "no published version yet, so no grids: publish one or name a version",
                    param="version",
                    code="no_published_version",
                )
            return grids_spec(loaded, pinned=version is not None, record=record)
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

    def shape(self, spec: CollectionSpec) -> CollectionShape:
        """Extent, geometry type and properties: from the import's record where it has
        them, so a catalogue reads no layer whole; else from the data."""
        return spec.shape or self.data(spec).shape

    def shapes(self, version: str | None = None) -> list[tuple[CollectionSpec, CollectionShape]]:
        """Every collection with its shape, for the catalogue."""
        return [(spec, self.shape(spec)) for spec in self.specs(version)]

    def entries(self, version: str | None = None) -> list[tuple[CollectionSpec, CollectionData]]:
        """Every collection with its data (the OpenAPI document types each property)."""
        return [(spec, self.data(spec)) for spec in self.specs(version)]

    def items(self, collection_id: str, params: Params) -> Items:
        """Resolve, read and filter an items request.

        ``datetime`` keeps a collection's features if they exist at some moment of it.
        On the grids without ``version`` an instant travels in time instead: the grids
        are those of the version in force then (none if none was), as lookups' ``at=``.
        """
        version = next((v for k, v in params if k == "version"), None)
        period = period_param(params, self.timezone)
        travelled = None
        if collection_id == "grids" and version is None and period and period.at:
            travelled = self._in_force(period.at)
        spec = travelled or self.spec(collection_id, version)
        present = period is None or travelled is not None or period.meets(spec.since, spec.until)
        data = self.data(spec)
        query = parse_items_query(params, data.properties)
        matched = select(data, query) if present else np.empty(0, dtype=np.intp)
        return Items(spec, data, query, matched)

    def _in_force(self, at: datetime) -> CollectionSpec | None:
        try:
            loaded = self.index.at(at)
        except NotFoundError:  # before the first publication: the answer is no grids
            return None
        return grids_spec(loaded, pinned=False)
