"""Jobs: what was queued, how far it is, and what came of it (OGC API – Processes'
``/jobs`` resources, under ``/api``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.access import Access, requires
from api.deps import CallerDep, ServicesDep
from api.jobs import POLL_AFTER_S, pending, status_document
from api.responses import JSONResponse
from gridgis.credentials import Role
from gridgis.errors import ForbiddenError, NotFoundError
from gridgis.jobs import Status

router = APIRouter(prefix="/api", tags=["jobs"], dependencies=[requires(Access.viewer)])


@router.get("/jobs")
def list_jobs(
    request: Request,
    services: ServicesDep,
    status: Annotated[Status | None, Query(description="Only jobs in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The newest jobs first."""
    jobs = services.store.list_jobs(status, limit)
    return {"jobs": [status_document(request, job) for job in jobs]}


@router.get("/jobs/{ident}", name="get_job")
def get_job(ident: str, request: Request, services: ServicesDep) -> JSONResponse:
    """Where a job stands: ``accepted``, ``running`` (with ``progress`` 0–100 and the
    stage in ``message``), ``successful``, ``failed`` (with ``error``) or ``dismissed``."""
    job = services.store.get_job(ident)
    headers = {} if job.done else {"Retry-After": str(POLL_AFTER_S)}
    return JSONResponse(status_document(request, job), headers=headers)


@router.get(
    "/jobs/{ident}/results",
    responses={404: {"description": "No such job, or it has not finished."}},
)
def get_results(ident: str, request: Request, services: ServicesDep) -> JSONResponse:
    """What a successful job made (the answer the same request would have had); a failed
    job's error, with that request's status."""
    job = services.store.get_job(ident, result=True)
    if not job.done:
        raise NotFoundError(
            f"job {ident} is {job.status.value}; its results are not ready",
            code="result_not_ready",
        )
    if job.status is Status.successful:
        return JSONResponse(job.result or {})
    return pending(request, job)


@router.delete("/jobs/{ident}")
def dismiss_job(
    ident: str, request: Request, services: ServicesDep, caller: CallerDep
) -> JSONResponse:
    """Stop a job: one waiting is dismissed at once, one running at its next step. Who
    asked for it may, and an admin; a review or diff, which every caller asking for the
    same answer shares, only an admin."""
    job = services.store.get_job(ident)
    principal = caller.principal
    admin = principal is not None and principal.role >= Role.admin
    if not admin and (principal is None or principal.actor != job.actor or job.key):
        raise ForbiddenError("only who asked for a job, or an admin, may stop it")
    return JSONResponse(status_document(request, services.store.cancel_job(ident)))
