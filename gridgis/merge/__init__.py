"""Merge department layers into a draft version of comprehensive grids (多网合一).

``run_merge`` reads everything it needs from the store, computes in the city's metric
CRS (see :mod:`gridgis.merge.engine` and ``docs/merge.md``), and saves one draft
version; it never publishes.
"""

from __future__ import annotations

from gridgis.errors import NotFoundError
from gridgis.merge.engine import MergeInputs, MergeResult, Progress, compute_merge
from gridgis.settings import Settings
from gridgis.store.base import Store, VersionInfo
from gridgis.versions import check_version_name, name_taken

__all__ = [
    "MergeInputs",
    "MergeResult",
    "check_target",
    "compute_merge",
    "read_inputs",
    "run_merge",
]


def read_inputs(store: Store, previous: str | None = None) -> MergeInputs:
    """The store's current layers; codes follow ``previous`` (default: the published one)."""
    version = store.get_version(previous) if previous else store.published_version()
    return MergeInputs(
        communities=store.read_base_layer("communities"),
        departments={
            layer.name: store.read_department_layer(layer.name)
            for layer in store.list_layers()
            if layer.kind == "department"
        },
        buildings=store.read_base_layer("buildings"),
        compounds=store.read_base_layer("compounds"),
        streets=store.read_base_layer("streets"),
        previous=store.read_grids(version.name) if version else None,
        previous_name=version.name if version else None,
    )


def check_target(store: Store, version: str, replace: bool) -> None:
    """Refuse a draft name the merge could not save under: before minutes of merging."""
    check_version_name(version, param="version")
    try:
        existing = store.get_version(version)
    except NotFoundError:
        return
    if not replace or existing.status != "draft":
        raise name_taken(version, existing.status)


def run_merge(
    store: Store,
    version: str,
    *,
    settings: Settings,
    actor: str,
    previous: str | None = None,
    note: str | None = None,
    replace: bool = False,
    progress: Progress | None = None,
) -> tuple[VersionInfo, MergeResult]:
    """Merge the current layers into draft ``version``, recorded as made by ``actor``."""
    check_target(store, version, replace)
    result = compute_merge(read_inputs(store, previous), settings=settings, progress=progress)
    info = store.save_version(
        version,
        result.grids,
        result.crosswalk,
        params=result.params,
        report=result.report,
        actor=actor,
        note=note,
        replace=replace,
    )
    return info, result
