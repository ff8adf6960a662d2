"""``gridgis jobs``: what the servers were asked to do in the background, and a worker
that does it (for a deployment whose web servers run no jobs: ``GRIDGIS_JOB_WORKERS=0``).
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from gridgis.cli import JsonFlag, _emit_json, _settings, _store, err, handled, out
from gridgis.jobs import Status
from gridgis.jobs.runner import JobRunner
from gridgis.terminal import city_time, print_table

jobs_app = typer.Typer(help="Background jobs: list, show, stop, work.", no_args_is_help=True)


@jobs_app.command("list")
@handled
def jobs_list(
    status: Annotated[Status | None, typer.Option(help="Only jobs in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The newest jobs first."""
    settings = _settings()
    jobs = _store(settings).list_jobs(status, limit)
    if as_json:
        _emit_json([job.status_info() for job in jobs])
        return
    rows = [
        [
            job.id,
            job.process,
            job.status.value,
            f"{round(job.progress * 100)}%",
            job.message or "",
            job.actor,
            city_time(job.created, settings.timezone),
        ]
        for job in jobs
    ]
    headers = ["id", "process", "status", "progress", "stage", "actor", "created"]
    print_table(out, headers, rows, whole={"id"})


@jobs_app.command("show")
@handled
def jobs_show(ident: Annotated[str, typer.Argument()], as_json: JsonFlag = False) -> None:
    """One job's status, error and result."""
    job = _store(_settings()).get_job(ident, result=True)
    body = {**job.status_info(), "result": job.result}
    if as_json:
        _emit_json(body)
        return
    out.print(f"{job.process} {job.id}: {job.status.value} ({round(job.progress * 100)}%)")
    if job.error:
        err.print(f"error: {job.error.get('error')}")


@jobs_app.command("stop")
@handled
def jobs_stop(ident: Annotated[str, typer.Argument()], as_json: JsonFlag = False) -> None:
    """Dismiss a waiting job, or ask a running one to stop at its next step."""
    job = _store(_settings()).cancel_job(ident)
    if as_json:
        _emit_json(job.status_info())
    else:
        out.print(f"job {job.id}: {job.status.value}{' (stopping)' if job.cancel else ''}")


@jobs_app.command("work")
@handled
def jobs_work(
    threads: Annotated[int, typer.Option(min=1, help="Jobs run at once.")] = 1,
) -> None:
    """Run jobs until stopped (Ctrl-C or SIGTERM hands a running job back)."""
    settings = _settings()
    runner = JobRunner(_store(settings), settings, threads=threads)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    runner.start()
    err.print(f"worker {runner.worker}: waiting for jobs")
    stopping.wait()
    runner.stop()
