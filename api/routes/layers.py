"""Upload a layer file: the same import as ``gridgis import``, over HTTP, as a job.

The body limit is enforced twice: a declared ``Content-Length`` over the limit is refused
before a byte is read (:class:`UploadLimit`), and the files actually received are
measured again, for clients that stream without declaring a length.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePath
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.types import ASGIApp, Receive, Scope, Send

from api.access import Access, requires
from api.deps import ActorDep, ServicesDep
from api.jobs import accepted
from api.responses import JSONResponse
from gridgis.errors import InputError, TooLargeError
from gridgis.importer.pipeline import check_kind
from gridgis.importer.reading import probe_source
from gridgis.importer.sources import SUFFIX_DRIVER, open_source
from gridgis.jobs.processes import import_spec
from gridgis.jsonio import json_loads
from gridgis.validate import check_text

router = APIRouter(prefix="/api", tags=["layers"], dependencies=[requires(Access.admin)])
UPLOAD_PATH = "/api/layers"
_DATASETS = {*SUFFIX_DRIVER, ".zip"}


class UploadLimit:
    """Refuse an upload whose declared size is over ``GRIDGIS_MAX_UPLOAD_MB`` (HTTP 413)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == UPLOAD_PATH:
            declared = dict(scope["headers"]).get(b"content-length")
            if declared is not None and int(declared) > self.max_bytes:
                response = JSONResponse(
                    {
                        "error": f"upload of {int(declared)} bytes is over the "
                        f"{self.max_bytes}-byte limit"
                    },
                    status_code=413,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _save(files: list[UploadFile], folder: Path, max_bytes: int) -> Path:
    """Write the parts under their base names; return the one dataset among them."""
    total = 0
    datasets = []
    for upload in files:
        name = PurePath((upload.filename or "").replace("\\", "/")).name
        check_text(name, "files")
        if not name or name.startswith("."):
            raise InputError(f"unusable file name {upload.filename!r}")
        target = folder / name
        with target.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        total += target.stat().st_size
        if total > max_bytes:
            raise TooLargeError(f"upload is over the {max_bytes}-byte limit", source=name)
        if target.suffix.lower() in _DATASETS:
            datasets.append(target)
    if len(datasets) != 1:
        found = ", ".join(p.name for p in datasets) or "none"
        raise InputError(
            f"send exactly one dataset (.shp with its parts, .zip, .gpkg, .geojson or .kml); "
            f"got {found}"
        )
    return datasets[0]


@router.post(
    "/layers",
    status_code=202,
    responses={202: {"description": "Queued: follow `Location`."}, 413: {}, 400: {}},
)
def upload_layer(
    request: Request,
    services: ServicesDep,
    actor: ActorDep,
    files: Annotated[list[UploadFile], File(description="The dataset and its parts.")],
    kind: Annotated[str, Form(description="department, communities, streets, …")],
    department: Annotated[str | None, Form()] = None,
    crs: Annotated[str | None, Form(description="EPSG code, cgcs2000, wgs84, gcj02, bd09")] = None,
    encoding: Annotated[str | None, Form()] = None,
    layer: Annotated[str | None, Form(description="GeoPackage layer")] = None,
    fields: Annotated[str | None, Form(description='JSON, e.g. {"households": "户数"}')] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> JSONResponse:
    """Queue the import of a layer file (``202``, ``Location`` of the job; its results are
    the import report). What can be refused without reading the layer — the kind, the
    parts, the size, an unsafe or corrupt zip — is refused now, with nothing queued."""
    overrides: dict[str, str] = {}
    if fields:
        try:
            overrides = {str(k): str(v) for k, v in json_loads(fields).items()}
        except (ValueError, AttributeError) as exc:
            raise InputError('fields must be a JSON object, e.g. {"households": "户数"}') from exc
    for param, text in (("crs", crs), ("encoding", encoding), ("layer", layer)):
        if text is not None:
            check_text(text, param)
    check_kind(kind, department)
    max_bytes = services.settings.max_upload_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="gridgis-upload-") as tmp:
        path = _save(files, Path(tmp), max_bytes)
        with open_source(path, max_bytes, path.name) as source:
            probe_source(source, layer)  # a zip bomb, a path out of the archive, no .shx
        parts = {p.name: p.read_bytes() for p in Path(tmp).iterdir()}
    inputs = {
        "kind": kind,
        "department": department,
        "crs": crs,
        "encoding": encoding,
        "layer": layer,
        "fields": overrides,
        "dry_run": dry_run,
        "dataset": path.name,
    }
    return accepted(request, services.jobs.submit(import_spec(actor, inputs, parts)))
