"""OGC API – Features (Part 1) over the store: collections, items and their documents.

No HTTP here: ``api.routes.ogc`` turns requests into calls on :class:`OgcService` and
the document builders, and their results into responses.
"""

from gridgis.ogc.collection import CollectionData, CollectionSpec
from gridgis.ogc.service import OgcService

__all__ = ["CollectionData", "CollectionSpec", "OgcService"]
