"""Long work in the background: imports, merges, reviews and diffs asked for over HTTP.

A job lives in the store (both backends), so it survives a restart of the server that
took it; a worker holds it by a lease and proves itself alive by a heartbeat, and a job
whose heartbeat stops is taken up again by any worker (:mod:`gridgis.jobs.runner`). The
statuses and the status document follow OGC API – Processes (``statusInfo``), so a
Processes façade later is a matter of paths.
"""

from gridgis.jobs.model import (
    DISMISSED,
    FINISHED,
    Job,
    JobCancelled,
    JobSpec,
    Status,
    failure,
    new_job_id,
)

__all__ = [
    "DISMISSED",
    "FINISHED",
    "Job",
    "JobCancelled",
    "JobSpec",
    "Status",
    "failure",
    "new_job_id",
]
