"""Which layers are served as tiles, with which properties and at which zooms."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TileLayer:
    """``properties`` pairs each tile property with the table column it comes from; a
    ``code`` is always text, whatever its column holds."""

    name: str
    description: str
    table: str
    properties: tuple[tuple[str, str], ...]
    minzoom: int
    maxzoom: int
    geometry: str  # polygon | line
    versioned: bool = False  # grids: one layer per grid version

    @property
    def source_kind(self) -> str:
        """The import kind whose current layer holds the rows (subdistricts are derived
        from the communities); grids come from versions instead."""
        return "communities" if self.table == "subdistricts" else self.table

    @property
    def fields(self) -> dict[str, str]:
        """TileJSON ``vector_layers`` fields: property → type."""
        return {name: "Number" if name == "households" else "String" for name, _ in self.properties}


def _same(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, n) for n in names)


TILE_LAYERS: dict[str, TileLayer] = {
    layer.name: layer
    for layer in (
        TileLayer(
            "grids",
            "Comprehensive grids of a version (the published one unless ?version=)",
            "grids",
            _same("code", "name", "kind", "community_code", "households"),
            9,
            20,
            "polygon",
            versioned=True,
        ),
        TileLayer(
            "communities",
            "Residents' and villagers' committees (社区/村)",
            "communities",
            _same("code", "name", "kind", "subdistrict_code"),
            8,
            20,
            "polygon",
        ),
        TileLayer(
            "subdistricts",
            "Subdistricts and towns (街道/乡镇)",
            "subdistricts",
            _same("code", "name"),
            6,
            20,
            "polygon",
        ),
        TileLayer(
            "compounds",
            "Residential compounds and dedicated units (小区/单位)",
            "compounds",
            (("code", "source_id"), ("name", "name"), ("kind", "kind")),
            12,
            20,
            "polygon",
        ),
        TileLayer(
            "buildings",
            "Buildings with households",
            "buildings",
            (("code", "source_id"), ("name", "name"), ("households", "households")),
            14,
            20,
            "polygon",
        ),
        TileLayer(
            "streets",
            "Streets, lanes, rivers and railways",
            "streets",
            (("code", "id"), ("name", "name"), ("class", "class")),  # no road codes: the id
            11,
            20,
            "line",
        ),
    )
}
