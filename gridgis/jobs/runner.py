"""A worker: takes jobs from the store one at a time and runs them, beating a heartbeat.

Runs in each server (``GRIDGIS_JOB_WORKERS``) and in ``gridgis jobs work``. The store is
the only thing workers share: any worker, on any machine, takes up a job whose worker
died once its heartbeat is ``job_stale_seconds`` old, and a worker that stops cleanly
hands its job back at the next step, so the next one starts it at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gridgis.clock import utcnow
from gridgis.errors import GridgisError
from gridgis.jobs.model import Job, JobCancelled, Status, failure, new_job_id
from gridgis.jobs.processes import PROCESSES, Run
from gridgis.settings import Settings
from gridgis.store import SqlStore

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 3600.0


class _HandBack(BaseException):
    """The worker is stopping: give the job back rather than finish it."""


class JobRunner:
    def __init__(self, store: SqlStore, settings: Settings, threads: int | None = None) -> None:
        self.store = store
        self.settings = settings
        self.threads = settings.job_workers if threads is None else threads
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{new_job_id()[:6]}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool: list[threading.Thread] = []
        self._last_prune = 0.0

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        for n in range(self.threads):
            thread = threading.Thread(target=self._loop, name=f"gridgis-job-{n}", daemon=True)
            thread.start()
            self._pool.append(thread)

    def notify(self) -> None:
        """A job was queued here: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._pool:
            thread.join(timeout)
        self._pool.clear()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.drain()
            except (OperationalError, PoolTimeout):
                log.warning("jobs: the store does not answer; trying again shortly")
            except Exception:
                log.exception("jobs: looking for work failed")
            self._wake.wait(self.settings.job_poll_seconds)
            self._wake.clear()

    # --- work -------------------------------------------------------------------------------
    def drain(self) -> int:
        """Run jobs until none is waiting; returns how many ran."""
        self._prune()
        ran = 0
        while not self._stopping.is_set():
            claimed = self.store.claim_job(
                self.worker, self.settings.job_stale_seconds, self.settings.job_attempts
            )
            if claimed is None:
                break
            self.run(*claimed)
            ran += 1
        return ran

    def run(self, job: Job, lease: str) -> None:
        state: dict[str, object] = {"progress": job.progress, "message": None}
        halted = threading.Event()  # the store says stop (asked to, or no longer ours)
        finished = threading.Event()

        def tick(stage: str, done: int, total: int) -> None:
            state["message"] = stage
            state["progress"] = min(max(done / total, 0.0), 1.0) if total else 0.0
            if total and done >= total:
                return  # the last step may follow a commit: stopping now would misreport it
            if self._stopping.is_set():
                raise _HandBack
            if halted.is_set():
                raise JobCancelled

        def beat() -> None:
            while not finished.wait(self.settings.job_heartbeat_seconds):
                try:
                    progress, message = state["progress"], state["message"]
                    ours = self.store.beat_job(job.id, lease, float(progress), message)  # type: ignore[arg-type]
                except (OperationalError, PoolTimeout):
                    continue  # the store is away; the next beat may reach it
                except Exception:
                    log.exception("jobs: heartbeat of %s failed", job.id)
                    continue
                if not ours:
                    halted.set()

        heart = threading.Thread(target=beat, name=f"gridgis-beat-{job.id[:8]}", daemon=True)
        heart.start()
        log.info("jobs: %s %s (attempt %d) started", job.process, job.id, job.attempts)
        try:
            result = PROCESSES[job.process](Run(self.store, self.settings, job, tick))
        except _HandBack:
            finished.set()
            self.store.release_job(job.id, lease)
            log.info("jobs: %s handed back on shutdown", job.id)
            return
        except (OperationalError, PoolTimeout):
            # The store went away mid-job: nothing was committed half-way (each write is
            # one transaction); the job is taken up again once its heartbeat is stale.
            finished.set()
            log.warning("jobs: %s lost the store; it will be taken up again", job.id)
            return
        except (GridgisError, JobCancelled) as exc:
            outcome = Status.dismissed if isinstance(exc, JobCancelled) else Status.failed
            finished.set()
            self._finish(job, lease, outcome, error=failure(exc))
            return
        except Exception as exc:
            finished.set()
            log.exception("jobs: %s failed", job.id)
            self._finish(job, lease, Status.failed, error=failure(exc))
            return
        finished.set()
        self._finish(job, lease, Status.successful, result=result)

    def _finish(self, job: Job, lease: str, status: Status, **outcome: Any) -> None:
        if self.store.finish_job(job.id, lease, status, **outcome):
            log.info("jobs: %s %s %s", job.process, job.id, status.value)
        else:  # taken up by another worker while this one was thought dead
            log.warning(
                "jobs: %s was taken up elsewhere; this attempt's outcome is dropped", job.id
            )

    def _prune(self) -> None:
        now = utcnow()
        if now.timestamp() - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = now.timestamp()
        gone = self.store.prune_jobs(now - timedelta(days=self.settings.job_keep_days))
        if gone:
            log.info("jobs: %d finished jobs forgotten", gone)
