"""Jobs in the store, for both backends: submitted, claimed by one worker at a time,
kept alive by heartbeats, finished once.

A worker holds a job by a lease (a random token it got when it claimed the job); every
heartbeat and the final write name the lease, so a worker that was thought dead and
whose job was taken up again cannot overwrite the new attempt's outcome.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gridgis.clock import as_utc, utcnow
from gridgis.errors import BusyError, ConflictError, NotFoundError
from gridgis.jobs.model import DISMISSED, FINISHED, Job, JobSpec, Status, new_job_id
from gridgis.store import schema as t

j = t.jobs
#: What a status needs: not the upload (only the worker reads it) nor the result (only
#: the results route does; a city's review is megabytes).
_STATUS_COLUMNS = [c for c in j.c if c.name not in ("payload", "result")]
_LIVE = (Status.accepted.value, Status.running.value)


def _job(row: Any) -> Job:
    m = row._mapping
    return Job(
        id=m["id"],
        process=m["process"],
        inputs=dict(m["inputs"] or {}),
        status=Status(m["status"]),
        progress=float(m["progress"]),
        message=m["message"],
        actor=m["actor"],
        attempts=int(m["attempts"]),
        created=as_utc(m["created"]),  # type: ignore[arg-type]
        started=as_utc(m["started"]),
        finished=as_utc(m["finished"]),
        heartbeat=as_utc(m["heartbeat"]),
        key=m["key"],
        cancel=bool(m["cancel"]),
        result=m.get("result"),
        error=m["error"],
    )


class JobStore:
    """Mixed into :class:`gridgis.store.sql.SqlStore`; uses its connections."""

    engine: sa.Engine

    if TYPE_CHECKING:  # what SqlStore provides

        def _write(self) -> AbstractContextManager[sa.Connection]: ...

    def submit_job(self, spec: JobSpec, live_per_actor: int | None = None) -> tuple[Job, bool]:
        """Queue a job; with a ``key`` that a job not dismissed already has, that job
        instead (its answer, its progress or its error: the same work on the same
        content ends the same way). Returns the job and whether it is new. More than
        ``live_per_actor`` jobs waiting or running for one caller: :class:`BusyError`."""
        try:
            return self._submit(spec, live_per_actor)
        except sa.exc.IntegrityError:
            if spec.key is None:
                raise
            return self._submit(spec, live_per_actor)  # queued meanwhile: join that one

    def _submit(self, spec: JobSpec, live_per_actor: int | None) -> tuple[Job, bool]:
        with self._write() as conn:
            if spec.key is not None:
                found = conn.execute(
                    sa.select(*_STATUS_COLUMNS)
                    .where(j.c.key == spec.key, j.c.status != Status.dismissed.value)
                    .order_by(j.c.created.desc())
                    .limit(1)
                ).first()
                if found is not None:
                    return _job(found), False
            if live_per_actor is not None:
                live = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(j)
                    .where(j.c.actor == spec.actor, j.c.status.in_(_LIVE))
                ).scalar_one()
                if live >= live_per_actor:
                    raise BusyError(
                        f"{live} jobs of yours are waiting or running; ask again when one "
                        "has finished",
                        code="too_many_jobs",
                    )
            ident = new_job_id()
            conn.execute(
                j.insert().values(
                    id=ident,
                    process=spec.process,
                    inputs=spec.inputs,
                    key=spec.key,
                    status=Status.accepted.value,
                    progress=0.0,
                    message=None,
                    actor=spec.actor,
                    attempts=0,
                    cancel=False,
                    created=utcnow(),
                    payload=spec.payload,
                )
            )
        return self.get_job(ident), True

    def get_job(self, ident: str, result: bool = False) -> Job:
        """A job's status (with its result if asked: the results route)."""
        columns = [*_STATUS_COLUMNS, j.c.result] if result else _STATUS_COLUMNS
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*columns).where(j.c.id == ident)).first()
        if row is None:
            raise NotFoundError(f"no job {ident}", code="job_not_found")
        return _job(row)

    def list_jobs(self, status: Status | None = None, limit: int = 100) -> list[Job]:
        query = sa.select(*_STATUS_COLUMNS).order_by(j.c.created.desc()).limit(limit)
        if status is not None:
            query = query.where(j.c.status == status.value)
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(query)]

    def job_payload(self, ident: str) -> bytes | None:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(j.c.payload).where(j.c.id == ident)).scalar()
        return None if value is None else bytes(value)

    def claim_job(
        self, worker: str, stale_seconds: float, max_attempts: int
    ) -> tuple[Job, str] | None:
        """The oldest job waiting, or running with a silent heartbeat (its worker died),
        now held by ``worker`` under a new lease. A job whose workers died
        ``max_attempts`` times is failed instead of tried again."""
        while True:
            with self._write() as conn:
                now = utcnow()  # once the store is ours (a GeoPackage writer may have waited)
                stale = now - timedelta(seconds=stale_seconds)
                waiting = sa.or_(
                    j.c.status == Status.accepted.value,
                    sa.and_(j.c.status == Status.running.value, j.c.heartbeat < stale),
                )
                row = conn.execute(
                    sa.select(j.c.id, j.c.attempts, j.c.cancel, j.c.started)
                    .where(waiting)
                    .order_by(j.c.created)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    return None
                mine = j.c.id == row.id
                if row.cancel or row.attempts >= max_attempts:
                    lost = {
                        "error": f"its worker stopped {row.attempts} times; not tried again",
                        "code": "worker_lost",
                        "type": "InternalError",
                    }
                    status = Status.dismissed if row.cancel else Status.failed
                    conn.execute(
                        j.update()
                        .where(mine)
                        .values(
                            status=status.value,
                            error=DISMISSED if row.cancel else lost,
                            finished=now,
                            lease=None,
                            payload=None,
                        )
                    )
                    continue
                lease = new_job_id()
                taken = conn.execute(
                    j.update()
                    .where(mine)
                    .values(
                        status=Status.running.value,
                        worker=worker,
                        lease=lease,
                        attempts=j.c.attempts + 1,
                        started=row.started or now,
                        heartbeat=now,
                        message=None,
                    )
                ).rowcount
            if taken:
                return self.get_job(row.id), lease

    def beat_job(self, ident: str, lease: str, progress: float, message: str | None) -> bool:
        """Record progress and that the worker lives; ``False`` when the job is no longer
        this lease's to run or someone asked to stop it."""
        with self._write() as conn:
            done = conn.execute(
                j.update()
                .where(j.c.id == ident, j.c.lease == lease)
                .values(heartbeat=utcnow(), progress=progress, message=message)
            ).rowcount
            cancel = conn.execute(sa.select(j.c.cancel).where(j.c.id == ident)).scalar()
        return bool(done) and not cancel

    def finish_job(
        self,
        ident: str,
        lease: str,
        status: Status,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """The job's outcome, written once, by the lease that ran it (``False``: the job
        was taken up by another worker meanwhile, whose outcome stands)."""
        assert status in FINISHED
        values: dict[str, Any] = {
            "status": status.value,
            "finished": utcnow(),
            "lease": None,
            "result": result,
            "error": error,
            "payload": None,  # the upload is imported (or refused): no need to keep it
        }
        if status is Status.successful:
            values["progress"] = 1.0
        held = (j.c.id == ident, j.c.lease == lease, j.c.status == Status.running.value)
        with self._write() as conn:
            return bool(conn.execute(j.update().where(*held).values(**values)).rowcount)

    def cancel_job(self, ident: str) -> Job:
        """Dismiss a waiting job now; ask a running one to stop at its next step."""
        with self._write() as conn:
            waiting = conn.execute(
                j.update()
                .where(j.c.id == ident, j.c.status == Status.accepted.value)
                .values(
                    status=Status.dismissed.value,
                    cancel=True,
                    finished=utcnow(),
                    error=DISMISSED,
                    payload=None,
                )
            ).rowcount
            running = (
                waiting
                or conn.execute(
                    j.update()
                    .where(j.c.id == ident, j.c.status == Status.running.value)
                    .values(cancel=True)
                ).rowcount
            )
            if not running:
                status = conn.execute(sa.select(j.c.status).where(j.c.id == ident)).scalar()
                if status is None:
                    raise NotFoundError(f"no job {ident}", code="job_not_found")
                raise ConflictError(f"job {ident} has finished ({status})", code="job_finished")
        return self.get_job(ident)

    def release_job(self, ident: str, lease: str) -> None:
        """Hand a job back untouched (its worker is stopping): the next worker starts it
        at once, without waiting for the heartbeat to go stale, and without counting it
        as a lost worker."""
        with self._write() as conn:
            conn.execute(
                j.update()
                .where(j.c.id == ident, j.c.lease == lease)
                .values(
                    status=Status.accepted.value,
                    lease=None,
                    worker=None,
                    attempts=j.c.attempts - 1,
                    progress=0.0,
                    message=None,
                )
            )

    def prune_jobs(self, before: datetime) -> int:
        """Forget jobs that finished before ``before``; a result asked again is redone."""
        with self._write() as conn:
            return int(
                conn.execute(
                    j.delete().where(
                        j.c.status.in_([s.value for s in FINISHED]), j.c.finished < before
                    )
                ).rowcount
            )
