"""Everything the server holds while it runs, built once by the app's lifespan.

One typed object, :class:`Services`, handed to routes by one dependency
(:data:`api.deps.ServicesDep`) and read by the fast path from the same place (the
lifespan state in each request's scope); nothing else keeps server state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.credentials import Credentials
from api.jobs import Jobs
from api.policy import AccessPolicy
from api.tileserve import TileServer
from gridgis.address.book import AddressBook
from gridgis.address.matcher import AddressMatcher
from gridgis.jobs.runner import JobRunner
from gridgis.lookup import LoadedVersion, PublishedIndex
from gridgis.lru import LRU
from gridgis.ogc import OgcService
from gridgis.search import PlaceIndex
from gridgis.services import grid_services
from gridgis.settings import Settings
from gridgis.store import SqlStore, open_store

MB = 2**20


@dataclass(frozen=True)
class Caches:
    """The server's two LRUs, both keyed on content keys and bounded by bytes.

    ``data`` holds what is slow to build from the store (older versions, OGC collections,
    department services, the embedded store's tile layers); ``answers`` holds encoded
    answers that are quick to rebuild (tiles, GeoJSON, pages). Two budgets, so a burst
    of tiles never pushes out a collection that took seconds to read.
    """

    data: LRU[Any]
    answers: LRU[bytes]

    @classmethod
    def for_settings(cls, settings: Settings) -> Caches:
        return cls(LRU(settings.cache_mb * MB), LRU(settings.answer_cache_mb * MB, len))


@dataclass
class Services:
    settings: Settings
    store: SqlStore
    caches: Caches
    index: PublishedIndex
    addresses: AddressBook
    tiles: TileServer
    ogc: OgcService
    policy: AccessPolicy
    credentials: Credentials
    jobs: Jobs

    @classmethod
    def start(cls, settings: Settings) -> Services:
        """Open the store, load the published version and the address base, start the
        watchers. Loaded now rather than on a later tick: a build holds the GIL for a
        second or two at city scale, which requests would feel as a stall."""
        caches = Caches.for_settings(settings)
        store = open_store(settings, cache=caches.data)
        index = PublishedIndex(store, settings.index_refresh_seconds, caches.data)
        index.refresh()
        index.start()
        addresses = AddressBook(store, settings.index_refresh_seconds)
        addresses.refresh()
        addresses.start()
        tiles = TileServer(store, index, caches.answers if settings.tile_cache else None)
        credentials = Credentials(store, settings)
        credentials.start()
        runner = JobRunner(store, settings) if settings.job_workers else None
        if runner is not None:
            runner.start()

        def published() -> str | None:
            loaded = index.current()
            return None if loaded is None else loaded.info.name

        return cls(
            settings=settings,
            store=store,
            caches=caches,
            index=index,
            addresses=addresses,
            tiles=tiles,
            ogc=OgcService(store, index, caches.data, timezone=settings.timezone),
            policy=AccessPolicy(settings, credentials, published),
            credentials=credentials,
            jobs=Jobs(store, runner, settings.job_live_per_caller),
        )

    def stop(self) -> None:
        if self.jobs.runner is not None:
            self.jobs.runner.stop()  # a running job is handed back to the store
        self.credentials.stop()
        self.index.stop()
        self.addresses.stop()
        self.store.close()

    # --- derived data shared by several routes ----------------------------------------------
    def department_services(self, loaded: LoadedVersion) -> dict[str, list[dict[str, Any]]]:
        """Which department units serve each grid of a version (seconds at city scale)."""
        found: dict[str, list[dict[str, Any]]] = self.caches.data.get_or_build(
            *self._services_entry(loaded)
        )
        return found

    def warm_department_services(self, loaded: LoadedVersion) -> None:
        """Start gathering them now, before the first click needs them."""
        self.caches.data.warm(*self._services_entry(loaded))

    def places(self, loaded: LoadedVersion) -> tuple[PlaceIndex, AddressMatcher | None]:
        """The search's lookups for a version, and the address matcher they were built
        with; once per version, address base and streets layer. Works without either."""
        found = self.addresses.current()
        matcher, address_key = (None, None) if found is None else found
        streets = self.ogc.layer_data("streets")  # the layer the context routes draw
        streets_key, frame = (None, None) if streets is None else (streets[0], streets[1].frame)
        key = ("search-places", loaded.info.content_key, address_key, streets_key)
        epsg = self.settings.metric_epsg
        places: PlaceIndex = self.caches.data.get_or_build(
            key, lambda: PlaceIndex.build(loaded, matcher, frame, metric_epsg=epsg)
        )
        return places, matcher

    def _services_entry(self, loaded: LoadedVersion) -> tuple[Any, Any]:
        """Keyed on the version and every department layer: a re-imported layer's units
        and attributes are what a click shows next."""
        departments = tuple(
            sorted(
                (x.name, x.content_key) for x in self.store.list_layers() if x.kind == "department"
            )
        )
        key = ("department-services", loaded.info.content_key, departments)
        return key, lambda: grid_services(self.store, loaded, self.settings.metric_epsg)
