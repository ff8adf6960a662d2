"""Versions and layers: what is stored, and what was published when."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from api.access import Access, requires
from api.bodies import Body
from api.conditional import tagged
from api.deps import ActorDep, CallerDep, ServicesDep, SettingsDep, StoreDep
from api.headers import content_disposition, etag, matches
from api.jobs import accepted, pending
from api.responses import JSONResponse
from api.state import Services
from gridgis.csvsafe import spreadsheet_safe
from gridgis.diff import MAPPING_COLUMNS, patch_lines
from gridgis.errors import InvalidValueError
from gridgis.export import crosswalk_frame
from gridgis.jobs import Job, JobSpec, Status
from gridgis.jobs.processes import diff_key, review_key
from gridgis.jsonio import json_bytes
from gridgis.merge import check_target
from gridgis.review.context import ReviewContext
from gridgis.review.proposals import apply_proposal, propose
from gridgis.review.publishing import publish_reviewed
from gridgis.versions import check_version_name

SMALL_BODY = 64 * 1024  # a name, a reason: what these writes take
router = APIRouter(prefix="/api", tags=["versions"], dependencies=[requires(Access.viewer)])


@router.get("/versions")
def list_versions(store: StoreDep) -> list[dict[str, Any]]:
    return [asdict(v) for v in store.list_versions()]


@router.get("/versions/{name}")
def get_version(name: str, store: StoreDep) -> dict[str, Any]:
    return asdict(store.get_version(name))


class MergeRequest(Body):
    """A merge of the current layers into a new draft (never published by itself)."""

    version: str = Field(description="The draft to make.")
    previous: str | None = Field(
        default=None, description="Whose codes unchanged grids keep (default: the published)."
    )
    note: str | None = Field(default=None, description="Kept with the version.")
    replace: bool = Field(default=False, description="Overwrite a draft of that name.")
    min_households: int | None = Field(default=None, ge=1, description="Lower household band.")
    max_households: int | None = Field(default=None, ge=1, description="Upper household band.")


@router.post(
    "/versions",
    status_code=202,
    dependencies=[requires(Access.admin)],
    max_body_size=SMALL_BODY,
    responses={
        202: {"description": 'Queued: follow `Location`; its results are `{"version", "report"}`.'}
    },
)
def merge_version(
    body: MergeRequest, request: Request, services: ServicesDep, actor: ActorDep
) -> JSONResponse:
    """Merge the department layers into a draft, as a job (``gridgis merge`` over HTTP)."""
    check_target(services.store, body.version, body.replace)  # now, not after the merge
    low = body.min_households or services.settings.min_households
    high = body.max_households or services.settings.max_households
    if low > high:
        raise InvalidValueError(f"the household band {low}–{high} is empty", param="min_households")
    if body.previous is not None:
        services.store.get_version(body.previous)
    spec = JobSpec("merge", body.model_dump(), actor)
    return accepted(request, services.jobs.submit(spec))


class VersionChange(Body):
    """What a draft may change over HTTP: its name (unknown fields are refused, not ignored)."""

    name: str = Field(description="The draft's new name.")


@router.delete(
    "/versions/{name}",
    status_code=204,
    response_class=Response,
    dependencies=[requires(Access.admin)],
)
def delete_version(name: str, store: StoreDep, actor: ActorDep) -> Response:
    """Delete a draft with its grids; a published or archived version answers 409."""
    store.delete_version(name, actor)
    return Response(status_code=204)


@router.patch("/versions/{name}", dependencies=[requires(Access.admin)], max_body_size=SMALL_BODY)
def rename_version(
    name: str, change: VersionChange, store: StoreDep, actor: ActorDep
) -> dict[str, Any]:
    """Rename a draft (``{"name": "new"}``); a published or archived version answers 409."""
    check_version_name(change.name, param="name")  # the store checks too; this names the field
    return asdict(store.rename_version(name, change.name, actor))


@router.get(
    "/versions/{name}/review",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}},
        202: {"description": "Being reviewed: follow `Location`, then ask again."},
        304: {"description": "Unchanged."},
    },
)
def get_review(name: str, request: Request, services: ServicesDep, caller: CallerDep) -> Response:
    """The look-back review of a version: ``{"version", "summary", "findings"}``, each
    finding with its type, severity, grids, where (GeoJSON), value, limit and rule. A city
    takes seconds: the first ask queues a job (``202``, ``Location``); once it is done the
    review is answered (and tagged) until the version or a base layer changes."""
    key = review_key(services.store, name, services.settings)
    spec = JobSpec("review", {"version": name}, caller.actor, key=key)
    return computed(request, services, key, spec)


@router.get("/versions/{name}/proposals/{ident}")
def get_proposal(name: str, ident: str, store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    """A redraw proposal: the grids before and after, with their shapes (GeoJSON)."""
    return propose(ReviewContext.load(store, name, settings), ident).to_dict()


class Application(Body):
    """Where a proposal applied goes: a new draft (default ``{version}-{id}``)."""

    into: str | None = Field(default=None, description="The draft to create.")
    replace: bool = Field(default=False, description="Overwrite a draft of that name.")


@router.post(
    "/versions/{name}/proposals/{ident}/apply",
    status_code=201,
    dependencies=[requires(Access.editor)],
    max_body_size=SMALL_BODY,
)
def apply_one(
    name: str,
    ident: str,
    body: Application,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> dict[str, Any]:
    """Apply one proposal into a new draft; the version itself stays as it is. An
    editor with a scope applies only proposals that change grids inside it."""
    info, proposal = apply_proposal(
        store,
        name,
        ident,
        settings,
        actor=caller.actor,
        into=body.into,
        replace=body.replace,
        scopes=caller.scopes,
    )
    return {"version": asdict(info), "proposal": proposal.to_dict()}


class Publication(Body):
    """How to publish: a version with errors needs ``force`` and a ``reason``."""

    reason: str | None = Field(default=None, description="Why (kept in the audit log).")
    force: bool = Field(default=False, description="Publish despite the review's errors.")


@router.post(
    "/versions/{name}/publish", dependencies=[requires(Access.admin)], max_body_size=SMALL_BODY
)
def publish_version(
    name: str, body: Publication, store: StoreDep, settings: SettingsDep, actor: ActorDep
) -> dict[str, Any]:
    """Review, then publish; errors answer 409 with the findings unless forced."""
    info = publish_reviewed(
        store, name, settings, actor=actor, reason=body.reason, force=body.force
    )
    return asdict(info)


@router.get(
    "/versions/{a}/diff/{b}",
    response_model=None,
    responses={
        200: {"content": {"application/json": {}, "text/csv": {}, "application/jsonl": {}}},
        202: {"description": "Being compared: follow `Location`, then ask again."},
    },
)
def get_diff(
    a: str,
    b: str,
    request: Request,
    services: ServicesDep,
    caller: CallerDep,
    format: Annotated[Literal["json", "csv", "jsonl"], Query()] = "json",
) -> Response:
    """What changed from ``a`` to ``b``: grids added, removed, reshaped, renamed, updated,
    unchanged; the old → new mapping (``csv``: the mapping alone); the buildings and
    addresses whose grid changed. ``jsonl`` is the patch that turns ``a`` into ``b``
    (answered at once). The comparison with buildings and addresses is a job: the first
    ask answers ``202`` with its ``Location``."""
    store = services.store
    if format == "jsonl":
        lines = patch_lines(store.read_grids(a), store.read_grids(b), a, b)
        return Response(
            "".join(line + "\n" for line in lines).encode(),
            media_type="application/jsonl",
            headers={"Content-Disposition": content_disposition(f"diff-{a}-{b}.jsonl")},
        )
    key = diff_key(store, a, b, services.settings)
    spec = JobSpec("diff", {"a": a, "b": b}, caller.actor, key=key)
    if format == "json":
        return computed(request, services, key, spec)
    result = finished_result(services, spec)
    if isinstance(result, Job):
        return pending(request, result)
    mapping = spreadsheet_safe(
        pd.DataFrame.from_records(result["mapping"], columns=MAPPING_COLUMNS)
    )
    return Response(
        mapping.to_csv(index=False).encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition(f"mapping-{a}-{b}.csv")},
    )


def finished_result(services: Services, spec: JobSpec) -> dict[str, Any] | Job:
    """The result of the work ``spec.key`` names, done before; else the job doing it (or
    that failed at it)."""
    job = services.jobs.submit(spec)
    if job.status is not Status.successful:
        return job
    return services.store.get_job(job.id, result=True).result or {}


def computed(request: Request, services: Services, key: str, spec: JobSpec) -> Response:
    """A computed answer, tagged by what it was computed from: from this server's memory,
    or from the job that computed it (on any server); else ``202`` and the job."""
    answers = services.caches.answers
    cached = answers.get(key)
    if cached is None and not matches(request.headers.get("if-none-match"), etag(key)):
        result = finished_result(services, spec)
        if isinstance(result, Job):
            return pending(request, result)
        cached = json_bytes(result)
        answers.put(key, cached)
    return tagged(request, (key,), lambda: cached or b"", "application/json")


@router.get(
    "/versions/{name}/crosswalk",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def get_crosswalk(
    name: str,
    store: StoreDep,
    department: Annotated[str | None, Query(description="Only this department.")] = None,
    grid: Annotated[str | None, Query(description="Only this comprehensive grid.")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response | list[dict[str, Any]]:
    """For each department grid, the comprehensive grids it overlaps, with area and
    household shares (and, filtered by ``grid``, the department grids covering a grid)."""
    frame = crosswalk_frame(store, name, department, grid)
    if format == "csv":
        body = spreadsheet_safe(frame).to_csv(index=False).encode("utf-8-sig")
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": content_disposition(f"crosswalk-{name}.csv")},
        )
    cleaned = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in cleaned.to_dict("records")]


@router.get("/layers")
def list_layers(store: StoreDep) -> list[dict[str, Any]]:
    return [asdict(layer) for layer in store.list_layers()]
