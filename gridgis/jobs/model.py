"""What a job is: its inputs, where it stands, and how it ended."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gridgis.clock import rfc3339
from gridgis.errors import GridgisError


class Status(StrEnum):
    """OGC API – Processes ``statusCode``."""

    accepted = "accepted"
    running = "running"
    successful = "successful"
    failed = "failed"
    dismissed = "dismissed"


FINISHED = frozenset({Status.successful, Status.failed, Status.dismissed})
#: The error a dismissed job keeps.
DISMISSED = {"error": "stopped on request", "code": "dismissed", "type": "JobCancelled"}


class JobCancelled(BaseException):
    """Raised inside a job's progress callback once someone asked to stop it."""


def new_job_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class JobSpec:
    """A job as asked for: which process, with what, by whom. ``key`` names the work
    itself (a review of these contents): asking again while it runs, or after it
    succeeded, joins that job instead of doing the work twice."""

    process: str
    inputs: dict[str, Any]
    actor: str
    key: str | None = None
    payload: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Job:
    id: str
    process: str
    inputs: dict[str, Any]
    status: Status
    progress: float  # 0 … 1
    message: str | None
    actor: str
    attempts: int
    created: datetime
    started: datetime | None
    finished: datetime | None
    heartbeat: datetime | None
    key: str | None = None
    cancel: bool = False
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.status in FINISHED

    def status_info(self) -> dict[str, Any]:
        """The OGC API – Processes ``statusInfo`` (the API adds its links)."""

        def stamp(moment: datetime | None) -> str | None:
            return None if moment is None else rfc3339(moment)

        info: dict[str, Any] = {
            "jobID": self.id,
            "type": "process",
            "processID": self.process,
            "status": self.status.value,
            "message": self.message,
            "progress": round(self.progress * 100),
            "created": stamp(self.created),
            "started": stamp(self.started),
            "finished": stamp(self.finished),
            "updated": stamp(self.finished or self.heartbeat or self.started or self.created),
            "attempts": self.attempts,
            "inputs": self.inputs,
            "actor": self.actor,
        }
        if self.error is not None:
            info["error"] = self.error
        return info


ERRORS_MODULE = GridgisError.__module__


def failure(exc: BaseException) -> dict[str, Any]:
    """How a job's error is kept: the library's own message, code and fields, and the
    error's class (the API maps it to the status the same request would have had)."""
    if isinstance(exc, GridgisError):
        body = exc.to_dict()
        # The nearest class of gridgis.errors (the API maps those to statuses).
        body["type"] = next(c.__name__ for c in type(exc).__mro__ if c.__module__ == ERRORS_MODULE)
        return body
    if isinstance(exc, JobCancelled):
        return dict(DISMISSED)
    return {
        "error": f"the job failed unexpectedly ({type(exc).__name__}); the server log has more",
        "code": "internal_error",
        "type": "InternalError",
    }
