"""Mapbox Vector Tiles of the grids and base layers, for maps in other systems."""

from gridgis.tiles.layers import TILE_LAYERS, TileLayer
from gridgis.tiles.tilemath import TileAddress

__all__ = ["TILE_LAYERS", "TileAddress", "TileLayer"]
