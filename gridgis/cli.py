"""The ``gridgis`` command line: every command has ``--help``; most have ``--json``."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from gridgis.csvsafe import spreadsheet_safe
from gridgis.errors import GridgisError
from gridgis.jsonio import json_dumps
from gridgis.samplecity import ScaleName
from gridgis.settings import Settings
from gridgis.terminal import city_time, print_table

app = typer.Typer(
    help="gridgis: merge department grid layers into one comprehensive grid layer, "
    "publish it, and answer 'which grid is this?'.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Create or migrate the store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
versions_app = typer.Typer(help="List grid versions (no command); delete or rename a draft.")
app.add_typer(versions_app, name="versions")
review_app = typer.Typer(help="Review a version (回头看): what is wrong, grid by grid.")
app.add_typer(review_app, name="review")
audit_app = typer.Typer(help="The audit log: who changed what, when; and its chain.")
app.add_typer(audit_app, name="audit")

out = Console(markup=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
P = ParamSpec("P")
R = TypeVar("R")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def handled(fn: Callable[P, R]) -> Callable[P, R]:
    """Show a user error as one line on stderr and exit 1, without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except GridgisError as exc:
            err.print(Text.assemble(("error:", "bold red"), " ", cli_message(exc)), soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def cli_message(exc: GridgisError) -> str:
    """The error in the command line's words: the option at fault as ``--name``."""
    text = str(exc)
    return f"{text} (--{exc.param.replace('_', '-')})" if exc.param else text


def _settings(**overrides: Any) -> Settings:
    base = Settings()  # read the environment afresh for every command
    values = {k: v for k, v in overrides.items() if v is not None}
    return base.model_copy(update=values) if values else base


def _store(settings: Settings, check: bool = True) -> Any:
    from gridgis.store import open_store

    return open_store(settings, check=check)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr; yields ``tick(stage, done, total)`` for the library."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=1)

        def tick(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=max(total, 1))

        yield tick


def _emit_json(value: Any) -> None:
    sys.stdout.write(json_dumps(value) + "\n")


# --- db -------------------------------------------------------------------------------------
def _report_schema(store: Any, as_json: bool) -> None:
    info = {
        "store": store.kind,
        "location": store.location,
        "revision": store.schema_revision(),
        "head": store.head_revision(),
    }
    if as_json:
        _emit_json(info)
    else:
        out.print(
            f"{info['store']} store at {info['location']}: schema at revision "
            f"{info['revision'] or 'none'} (newest {info['head']})"
        )


@db_app.command("upgrade")
@handled
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    as_json: JsonFlag = False,
) -> None:
    """Create the schema or migrate it to REVISION (default: the newest)."""
    store = _store(_settings(), check=False)
    store.upgrade(revision)
    _report_schema(store, as_json)


@db_app.command("downgrade")
@handled
def db_downgrade(
    revision: Annotated[
        str, typer.Option(help="Target revision ('base' drops everything).")
    ] = "base",
    as_json: JsonFlag = False,
) -> None:
    """Migrate the schema down to REVISION."""
    store = _store(_settings(), check=False)
    store.downgrade(revision)
    _report_schema(store, as_json)


@db_app.command("current")
@handled
def db_current(as_json: JsonFlag = False) -> None:
    """Show which store is configured and its schema revision."""
    _report_schema(_store(_settings(), check=False), as_json)


# --- import and layers ---------------------------------------------------------------------
@app.command("import")
@handled
def import_cmd(
    kind: Annotated[
        str,
        typer.Argument(
            help="department, communities, streets, compounds, buildings, addresses, or "
            "grids (a grid layer edited elsewhere, as a draft version)."
        ),
    ],
    path: Annotated[Path, typer.Argument(help=".shp, .zip, .gpkg, .geojson or .kml file.")],
    department: Annotated[
        str | None, typer.Option(help="Department name (department layers).")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Force the .dbf text encoding.")] = None,
    crs: Annotated[
        str | None, typer.Option(help="Source CRS: EPSG code, cgcs2000, wgs84, gcj02 or bd09.")
    ] = None,
    layer: Annotated[str | None, typer.Option(help="Layer inside a GeoPackage.")] = None,
    households_field: Annotated[
        str | None, typer.Option(help="Field holding households (buildings).")
    ] = None,
    name_field: Annotated[str | None, typer.Option(help="Field holding names.")] = None,
    code_field: Annotated[
        str | None, typer.Option(help="Field holding codes (communities).")
    ] = None,
    id_field: Annotated[
        str | None, typer.Option(help="Field holding the department's own grid id.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Check and report; write nothing.")] = False,
    version: Annotated[
        str | None, typer.Option("--version", help="Draft version to import grids into.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Note stored with the version.")] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite a draft of the same name.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import a layer file into the store (one transaction; re-importing is a no-op)."""
    from gridgis.importer.pipeline import import_layer

    settings = _settings()
    store = _store(settings)
    if kind == "grids":
        _import_grids(store, settings, path, version, encoding, crs, layer, note, replace, as_json)
        return
    named = {
        "households": households_field,
        "name": name_field,
        "code": code_field,
        "source_id": id_field,
    }
    overrides = {k: v for k, v in named.items() if v}
    with progress_bar("importing") as tick:
        report = import_layer(
            store,
            kind,
            path,
            settings=settings,
            department=department,
            encoding=encoding,
            crs=crs,
            layer=layer,
            actor=settings.actor,
            field_overrides=overrides,
            dry_run=dry_run,
            progress=tick,
        )
    if as_json:
        _emit_json(report.to_dict())
        return
    out.print(report.summary())
    for warning in report.warnings:
        err.print(Text.assemble(("warning:", "yellow"), " ", warning), soft_wrap=True)
    if report.dropped_rows:
        shown = ", ".join(map(str, report.dropped_rows[:20]))
        err.print(Text.assemble(("dropped rows:", "yellow"), " ", shown), soft_wrap=True)


def _import_grids(
    store: Any,
    settings: Settings,
    path: Path,
    version: str | None,
    encoding: str | None,
    crs: str | None,
    layer: str | None,
    note: str | None,
    replace: bool,
    as_json: bool,
) -> None:
    from gridgis.errors import InputError
    from gridgis.importer.grids import import_grids

    if version is None:
        raise InputError("say which draft the grids go into", param="version")
    with progress_bar("importing grids") as tick:
        info, report = import_grids(
            store,
            path,
            version,
            settings=settings,
            actor=settings.actor,
            encoding=encoding,
            crs=crs,
            layer=layer,
            note=note,
            replace=replace,
            progress=tick,
        )
    if as_json:
        _emit_json({"version": asdict(info), "report": report.to_dict()})
    else:
        out.print(report.summary())


def _listing(
    items: list[Any],
    as_json: bool,
    columns: dict[str, Callable[[Any], str]],
    whole: Collection[str] = ("kind", "name"),
) -> None:
    """Dataclasses as JSON, or as a table of ``columns`` (header → cell)."""
    if as_json:
        _emit_json([asdict(item) for item in items])
        return
    rows = [[cell(item) for cell in columns.values()] for item in items]
    print_table(out, list(columns), rows, whole)


@app.command("layers")
@handled
def layers_cmd(as_json: JsonFlag = False) -> None:
    """List the current layers with their provenance (times on the city's clock)."""
    settings = _settings()
    _listing(
        _store(settings).list_layers(),
        as_json,
        {
            "kind": lambda la: la.kind,
            "name": lambda la: la.name,
            "rows": lambda la: str(la.rows),
            "source": lambda la: la.source_name,
            "CRS": lambda la: la.crs,
            "encoding": lambda la: la.encoding or "",
            "imported": lambda la: city_time(la.imported_at, settings.timezone),
        },
    )


# --- merge, versions, publish ---------------------------------------------------------------
@app.command("merge")
@handled
def merge_cmd(
    version: Annotated[str, typer.Option("--version", help="Name of the draft version.")],
    min_households: Annotated[int | None, typer.Option(help="Lower household band.")] = None,
    max_households: Annotated[int | None, typer.Option(help="Upper household band.")] = None,
    previous: Annotated[
        str | None,
        typer.Option(help="Version whose codes unchanged grids keep (default: the published)."),
    ] = None,
    note: Annotated[str | None, typer.Option(help="Note stored with the version.")] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite a draft of the same name.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Merge the department layers into a draft version (never publishes)."""
    from gridgis.merge import run_merge

    settings = _settings(min_households=min_households, max_households=max_households)
    store = _store(settings)
    with progress_bar("merging") as tick:
        info, result = run_merge(
            store,
            version,
            settings=settings,
            actor=settings.actor,
            previous=previous,
            note=note,
            replace=replace,
            progress=tick,
        )
    if as_json:
        _emit_json({"version": asdict(info), "report": result.report})
        return
    from gridgis.merge.report import summary

    out.print(f"draft {info.name} saved (not published)")
    for line in summary(result.report):
        out.print(line)


@app.command("crosswalk")
@handled
def crosswalk_cmd(
    version: Annotated[str, typer.Argument(help="Grid version.")],
    department: Annotated[str | None, typer.Option(help="Only this department.")] = None,
    grid: Annotated[str | None, typer.Option(help="Only this comprehensive grid.")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write CSV here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """How department grids map onto a version's grids (area and household shares)."""
    from gridgis.export import crosswalk_frame

    frame = crosswalk_frame(_store(_settings()), version, department, grid)
    if out_path is not None:
        # Excel reads the BOM; text it would run as a formula is guarded.
        spreadsheet_safe(frame).to_csv(out_path, index=False, encoding="utf-8-sig")
        out.print(f"wrote {len(frame)} rows to {out_path}")
    elif as_json:
        _emit_json(frame.to_dict("records"))
    else:
        rows = [[str(v) for v in row] for row in frame.itertuples(index=False)]
        ids = ("department", "department_grid_id", "source_id", "grid_code")
        print_table(out, [str(c) for c in frame.columns], rows, ids)


@versions_app.callback(invoke_without_command=True)
@handled
def versions_cmd(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List grid versions (``versions delete`` and ``versions rename`` change a draft)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    _listing(
        _store(settings).list_versions(),
        as_json,
        {
            "name": lambda v: v.name,
            "status": lambda v: v.status,
            "grids": lambda v: str(v.grid_count),
            "created": lambda v: city_time(v.created_at, settings.timezone),
            "published": lambda v: city_time(v.published_at, settings.timezone),
            "valid to": lambda v: city_time(v.valid_to, settings.timezone),
            "note": lambda v: v.note or "",
        },
    )


@versions_app.command("delete")
@handled
def versions_delete_cmd(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The draft to delete.")],
    as_json: JsonFlag = False,
) -> None:
    """Delete a draft with its grids; published and archived versions stay."""
    settings = _settings()
    info = _store(settings).delete_version(name, settings.actor)
    if as_json:
        _emit_json(asdict(info))
    else:
        out.print(f"deleted draft {info.name} ({info.grid_count} grids)")


@versions_app.command("rename")
@handled
def versions_rename_cmd(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The draft to rename.")],
    new_name: Annotated[str, typer.Argument(metavar="NEW", help="Its new name.")],
    as_json: JsonFlag = False,
) -> None:
    """Give a draft another name; published and archived versions keep theirs."""
    settings = _settings()
    info = _store(settings).rename_version(name, new_name, settings.actor)
    if as_json:
        _emit_json(asdict(info))
    else:
        out.print(f"renamed draft {name} to {info.name}")


@app.command("publish")
@handled
def publish_cmd(
    name: Annotated[str, typer.Argument(help="Version to publish.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
    valid_from: Annotated[
        str | None,
        typer.Option(help="YYYY-MM-DD: in force since that day (back-dating); default now."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Publish despite the review's errors (needs --reason; audited)."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Review a version, then publish it; the one published before is archived. A
    version with errors (gaps, overlaps, bad codes …) is refused unless forced."""
    from gridgis.lookup.when import parse_at
    from gridgis.review.publishing import publish_reviewed

    settings = _settings()
    start = parse_at(valid_from, settings.timezone, day_start=True) if valid_from else None
    info = publish_reviewed(
        _store(settings),
        name,
        settings,
        actor=settings.actor,
        reason=reason,
        valid_from=start,
        force=force,
    )
    if as_json:
        _emit_json(asdict(info))
    else:
        out.print(f"published {info.name} ({info.grid_count} grids)")


@audit_app.callback(invoke_without_command=True)
@handled
def audit_cmd(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The newest entries of the audit log (``audit verify`` checks its chain)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    _listing(
        _store(settings).read_audit(limit),
        as_json,
        {
            "at": lambda e: city_time(e.at, settings.timezone),
            "actor": lambda e: e.actor,
            "action": lambda e: e.action,
            "target": lambda e: e.target or "",
            "reason": lambda e: e.reason or "",
        },
        whole=("action", "target"),
    )


@audit_app.command("verify")
@handled
def audit_verify_cmd(as_json: JsonFlag = False) -> None:
    """Walk the audit log's chain: exit 1 naming the first entry changed, removed or
    slipped in, if there is one."""
    check = _store(_settings()).verify_audit()
    if as_json:
        _emit_json(asdict(check))
    elif check.ok:
        out.print(f"audit log intact: {check.entries} entries, each chained to the one before")
    else:
        err.print(Text.assemble(("broken:", "red"), f" entry {check.broken_at}: {check.problem}"))
    if not check.ok:
        raise typer.Exit(1)


@review_app.callback(invoke_without_command=True)
@handled
def review_cmd(
    ctx: typer.Context,
    version: Annotated[
        str | None, typer.Option("--version", help="Version to review (default: the published).")
    ] = None,
    as_json: JsonFlag = False,
    report: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Also write the report (HTML that opens offline and prints on A4)."
        ),
    ] = None,
) -> None:
    """Check a version: coverage, geometry, households, borders, codes, officers, drift."""
    if ctx.invoked_subcommand is not None:
        return
    from gridgis.errors import NotFoundError
    from gridgis.review.context import ReviewContext, made_from
    from gridgis.review.run import review_context

    settings = _settings()
    store = _store(settings)
    if version is None:
        published = store.published_version()
        if published is None:
            raise NotFoundError("no version is published: say which to review", param="version")
        version = published.name
    with progress_bar("reviewing") as tick:
        # Read once: the report draws the same grids and households the checks judged.
        loaded = ReviewContext.load(store, version, settings)
        review = review_context(loaded, progress=tick)
        if report is not None:
            from gridgis.review.report import render_report, report_proposals, write_report

            tick("writing the report", 1, 1)
            proposals = report_proposals(loaded, review)
            earlier = made_from(loaded.version)
            known = {v.name for v in store.list_versions()}
            before = (
                ReviewContext.load(store, earlier, settings)
                if earlier is not None and earlier in known
                else None
            )
            page = render_report(review, loaded, before=before, proposals=proposals)
            report = write_report(report, page)
    if as_json:
        _emit_json(review.to_dict())
    else:
        _print_review(review)
    if report is not None:
        (err if as_json else out).print(f"报告 report: {report}")


@review_app.command("show")
@handled
def review_show_cmd(
    version: Annotated[str, typer.Option("--version", help="The version reviewed.")],
    proposal: Annotated[str, typer.Option("--proposal", help="The proposal's id.")],
    as_json: JsonFlag = False,
) -> None:
    """A proposal's grids before and after (nothing is saved)."""
    from gridgis.review.context import ReviewContext
    from gridgis.review.proposals import propose

    settings = _settings()
    found = propose(ReviewContext.load(_store(settings), version, settings), proposal)
    if as_json:
        _emit_json(found.to_dict())
        return
    _print_proposal(found)


@review_app.command("apply")
@handled
def review_apply_cmd(
    version: Annotated[str, typer.Option("--version", help="The version reviewed.")],
    proposal: Annotated[str, typer.Option("--proposal", help="The proposal's id.")],
    into: Annotated[
        str | None, typer.Option(help="Draft to save the result in (default VERSION-ID).")
    ] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite a draft of that name.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Apply one proposal into a new draft (the version itself is left as it is)."""
    from gridgis.review.proposals import apply_proposal

    settings = _settings()
    info, found = apply_proposal(
        _store(settings),
        version,
        proposal,
        settings,
        actor=settings.actor,
        into=into,
        replace=replace,
    )
    if as_json:
        _emit_json({"version": asdict(info), "proposal": found.to_dict()})
        return
    _print_proposal(found)
    out.print(f"draft {info.name} saved (not published)")


def _print_proposal(found: Any) -> None:
    out.print(f"{found.id}: {found.note}")
    for label, rows in (("before", found.before), ("after", found.after())):
        for row in rows:
            out.print(f"  {label}: {row['code']} {row['name']} {row['households']} households")


def _print_review(review: Any) -> None:
    s = review.summary
    out.print(
        f"{review.version} ({s['status']}): {s['grids']} grids, {s['households']} households, "
        f"{s['in_band']} in the band {s['band'][0]}–{s['band'][1]} "
        f"({100 * s['in_band_share']:.1f}%)"
    )
    sev = s["by_severity"]
    out.print(
        f"{s['findings']} findings: {sev['error']} errors, {sev['warning']} warnings, "
        f"{sev['info']} notes in {s['seconds']} s"
        + ("" if s["publishable"] else " — not publishable until the errors are fixed")
    )
    rows = [
        [f.severity, f.type, ", ".join(f.grids[:3]) + (" …" if len(f.grids) > 3 else ""), f.rule()]
        for f in review.findings
    ]
    if rows:
        print_table(out, ["severity", "type", "grids", "rule"], rows, ("type", "grids"))


@app.command("diff")
@handled
def diff_cmd(
    a: Annotated[str, typer.Argument(metavar="A", help="The earlier version.")],
    b: Annotated[str, typer.Argument(metavar="B", help="The later version.")],
    as_json: JsonFlag = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print the old → new code mapping as CSV.")
    ] = False,
    as_patch: Annotated[
        bool, typer.Option("--jsonl", help="Print the patch (JSON lines) that turns A into B.")
    ] = False,
) -> None:
    """What changed from A to B: grids, the old → new code mapping, households, buildings
    and addresses whose grid changed."""
    from gridgis.diff import diff_versions, patch_lines

    settings = _settings()
    store = _store(settings)
    if as_patch:
        for line in patch_lines(store.read_grids(a), store.read_grids(b), a, b):
            sys.stdout.write(line + "\n")
        return
    diff = diff_versions(store, a, b, settings)
    if as_json:
        _emit_json(diff.to_dict())
        return
    if as_csv:
        sys.stdout.write(spreadsheet_safe(diff.mapping).to_csv(index=False))
        return
    s = diff.summary()
    out.print(
        f"{a} → {b}: {s['added']} added, {s['removed']} removed, {s['reshaped']} reshaped, "
        f"{s['renamed']} renamed, {s['updated']} updated, {s['unchanged']} unchanged"
    )
    out.print(
        f"{s['households_moved']} households in {s['buildings_moved']} buildings and "
        f"{s['addresses_moved']} standard addresses changed grid"
    )
    went: dict[str, list[str]] = {}
    for old, new, share, hh in zip(
        diff.mapping["old_code"].tolist(),
        diff.mapping["new_code"].tolist(),
        diff.mapping["old_share"].fillna(0).tolist(),
        diff.mapping["households"].tolist(),
        strict=True,
    ):
        went.setdefault(str(old), []).append(f"{new} ({100 * share:.0f}% of area, {hh} households)")
    for old, targets in went.items():
        out.print(f"  {old} → {', '.join(targets)}")


# --- export and lookup ----------------------------------------------------------------------
@app.command("export")
@handled
def export_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="Output file.")],
    version: Annotated[str | None, typer.Option(help="Grid version to export.")] = None,
    layer: Annotated[
        str | None,
        typer.Option(
            help="Layer: communities, streets, compounds, buildings, addresses, department/NAME."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="gpkg, geojson, shp or csv (WKT).")] = "gpkg",
    crs: Annotated[str | None, typer.Option(help="Output CRS (default EPSG:4490).")] = None,
    encoding: Annotated[str, typer.Option(help="Shapefile .dbf encoding.")] = "UTF-8",
    as_json: JsonFlag = False,
) -> None:
    """Write a version or a stored layer to a file."""
    from gridgis.errors import InputError
    from gridgis.export import layer_frame, version_frame, write_frame

    if (version is None) == (layer is None):
        raise InputError("give exactly one of --version NAME or --layer KIND[/NAME]")
    store = _store(_settings())
    if version is not None:
        frame, name = version_frame(store, version), version
    else:
        assert layer is not None
        frame, name = layer_frame(store, layer)
    written = write_frame(frame, fmt, out_path, name, crs=crs, encoding=encoding)
    if as_json:
        _emit_json({"path": str(written), "features": len(frame), "format": fmt})
    else:
        out.print(f"wrote {len(frame)} features to {written}")


@app.command("lookup")
@handled
def lookup_cmd(
    lon: Annotated[float | None, typer.Option(help="x: longitude (or easting).")] = None,
    lat: Annotated[float | None, typer.Option(help="y: latitude (or northing).")] = None,
    address: Annotated[str | None, typer.Option(help="An address as a resident types it.")] = None,
    csv_in: Annotated[
        Path | None, typer.Option("--csv", help="A CSV with lon,lat columns to answer in bulk.")
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where --csv writes its answer.")
    ] = None,
    crs: Annotated[
        str, typer.Option(help="wgs84, cgcs2000, gcj02, bd09 or an EPSG code.")
    ] = "wgs84",
    at: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD: the version in force that day.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Which grid holds a point (--lon/--lat), an address (--address) or every row of a CSV."""
    from gridgis.crs import parse_crs
    from gridgis.errors import InputError
    from gridgis.lookup import PublishedIndex
    from gridgis.lookup.when import parse_at

    modes = [lon is not None or lat is not None, address is not None, csv_in is not None]
    if sum(modes) != 1:
        raise InputError("give one of --lon/--lat, --address or --csv (with --out)")
    settings = _settings()
    spec = parse_crs(crs)
    when = parse_at(at, settings.timezone) if at else None
    point = _point(lon, lat, spec) if modes[0] else None
    store = _store(settings)
    try:
        loaded = PublishedIndex(store).resolve(when)
        if csv_in is not None:
            _lookup_csv(loaded, csv_in, out_path, spec, settings, as_json)
        elif address is not None:
            _lookup_address(store, loaded, address, as_json)
        elif point is not None:
            _lookup_point(loaded, point, f"({lon}, {lat}) ({crs})", as_json)
    finally:
        store.close()


def _print_grid(grid: dict[str, Any]) -> None:
    officer = grid.get("officer") or {}
    out.print(
        f"{grid['code']} {grid['name']} — {grid['community_name']}, "
        f"{grid['subdistrict_name']}; {grid['households']} households; officer "
        f"{officer.get('name') or '—'} {officer.get('phone') or ''}",
        highlight=False,
    )


def _point(lon: float | None, lat: float | None, spec: Any) -> tuple[float, float]:
    from gridgis.errors import InputError
    from gridgis.lookup.coords import one_to_lonlat

    if lon is None or lat is None:
        raise InputError("--lon and --lat go together")
    return one_to_lonlat(lon, lat, spec)


def _lookup_point(loaded: Any, point: tuple[float, float], label: str, as_json: bool) -> None:
    from gridgis.errors import NotFoundError

    grid = loaded.grid_at(*point)
    if grid is None:
        raise NotFoundError(f"no grid contains {label} in version {loaded.info.name}")
    if as_json:
        _emit_json(grid)
    else:
        _print_grid(grid)


def _lookup_csv(
    loaded: Any, csv_in: Path, out_path: Path | None, spec: Any, settings: Settings, as_json: bool
) -> None:
    from gridgis.errors import InputError
    from gridgis.lookup.bulk import csv_chunks, decode_csv, lookup_table, read_point_table

    if out_path is None:
        raise InputError("--csv needs --out FILE for the answer")
    if not csv_in.is_file():
        raise InputError("no such file", source=str(csv_in))
    with progress_bar("reading") as tick:
        tick("reading", 0, 3)
        frame, x_col, y_col = read_point_table(
            decode_csv(csv_in.read_bytes(), str(csv_in)), settings.max_bulk_points, str(csv_in)
        )
        tick("looking up", 1, 3)
        table = lookup_table(frame, x_col, y_col, loaded, spec)
        rows = max(len(table), 1)
        with out_path.open("w", encoding="utf-8-sig", newline="") as sink:
            for written, chunk in enumerate(csv_chunks(table, rows=50_000)):
                sink.write(chunk)
                tick(f"writing {min((written + 1) * 50_000, rows):,}/{rows:,}", 2, 3)
        tick("done", 3, 3)
    summary = {
        "version": loaded.info.name,
        "rows": len(table),
        "found": int((table["grid_code"] != "").sum()) if "grid_code" in table else 0,
        "errors": int((table["error"] != "").sum()) if "error" in table else 0,
        "out": str(out_path),
    }
    if as_json:
        _emit_json(summary)
    else:
        out.print(
            f"{summary['rows']:,} rows → {out_path}: {summary['found']:,} in a grid of "
            f"{loaded.info.name}, {summary['errors']:,} with errors",
            highlight=False,
        )


def _lookup_address(store: Any, loaded: Any, address: str, as_json: bool) -> None:
    from gridgis.address.book import AddressBook, address_answer
    from gridgis.errors import NotFoundError

    result = AddressBook(store).matcher().match(address)
    answer = address_answer(result, loaded)
    if result.match is None:
        near = "; ".join(f"{c.address} ({c.score:.2f})" for c in result.candidates[:3])
        raise NotFoundError(
            f"no address in the base is close enough to {address!r}"
            + (f"; nearest: {near}" if near else "")
        )
    if as_json:
        _emit_json(answer)
        return
    match = result.match
    flags = f" [{', '.join(match.flags)}]" if match.flags else ""
    out.print(f"{match.address} (score {match.score:.2f}{flags})", highlight=False)
    if answer["grid"] is None:
        out.print(f"  no grid of {loaded.info.name} holds this address's point")
    else:
        _print_grid(answer["grid"])


# --- sample data, serve, demo ---------------------------------------------------------------
@app.command("sample-city")
@handled
def sample_city_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write into.")],
    scale: Annotated[
        ScaleName,
        typer.Option(
            help="small: 4 communities (the demo's and the tests'); "
            "city: all 174 of 旌阳区 (the benchmarks')."
        ),
    ] = "small",
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same city.")] = 7,
    as_json: JsonFlag = False,
) -> None:
    """Write a deterministic sample city (base layers, department layers, manifest)."""
    from gridgis.samplecity.generate import generate, layout_summary
    from gridgis.samplecity.writer import write_city

    with err.status(f"generating the {scale} sample city…"):
        city = generate(scale, seed, _settings().metric_epsg)
        write_city(city, out_dir, seed=seed, scale=scale)
    summary = layout_summary(city)
    if as_json:
        _emit_json({"out": str(out_dir), **summary})
    else:
        out.print(f"wrote {out_dir}: " + ", ".join(f"{v} {k}" for k, v in summary.items()))


@app.command("serve")
@handled
def serve_cmd(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes; each holds its own copy of the index.")
    ] = 1,
) -> None:
    """Serve the API and the map (uvicorn with httptools)."""
    settings = _settings(host=host, port=port)
    _store(settings).close()  # fail early, with a clear message, if the store is not ready
    server = _http_server()
    out.print(f"gridgis serving at http://{settings.host}:{settings.port}/map (Ctrl-C stops)")
    server(settings, workers)


def _http_server() -> Callable[[Settings, int], None]:
    """The HTTP app's entry point (``api.serve:run``), found by name: the library and its
    command line import nothing of the app."""
    from importlib.metadata import entry_points

    from gridgis.errors import GridgisError

    found = entry_points(group="gridgis.server", name="uvicorn")
    if not found:
        raise GridgisError("the HTTP server is not installed: pip install -e . in the project")
    run: Callable[[Settings, int], None] = next(iter(found)).load()
    return run


@app.command("demo")
@handled
def demo_cmd(
    sample_dir: Annotated[Path, typer.Option(help="Where the sample city lives.")] = Path(
        "shapefiles"
    ),
    serve: Annotated[bool, typer.Option(help="Serve the map when done.")] = True,
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
) -> None:
    """Sample city → import → merge → publish → serve; reuses what already exists."""
    from gridgis.demo import run_demo

    settings = _settings(host=host, port=port)
    store = _store(settings, check=False)
    store.upgrade()
    out.print(f"store: {store.kind} at {store.location}")
    run_demo(store, settings, sample_dir, say=lambda m: out.print(m), actor=settings.actor)
    store.close()
    if serve:
        serve_cmd(host=settings.host, port=settings.port)


def main() -> None:
    app()


from gridgis.cli_access import keys_app, users_app  # noqa: E402  (they use the helpers above)
from gridgis.cli_jobs import jobs_app  # noqa: E402

app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(jobs_app, name="jobs")
