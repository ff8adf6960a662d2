"""Which grid holds a point or an address, for the published version or any other."""

from gridgis.lookup.index import GridIndex
from gridgis.lookup.published import LoadedVersion, PublishedIndex

__all__ = ["GridIndex", "LoadedVersion", "PublishedIndex"]
