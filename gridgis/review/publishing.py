"""Publishing through the review: a version with errors (coverage, codes) is refused with
the list, unless the publish is forced with a reason, which the audit log keeps together
with what was wrong."""

from __future__ import annotations

from datetime import datetime

from gridgis.errors import ConflictError, InputError
from gridgis.review.context import ReviewContext
from gridgis.review.run import review_context
from gridgis.settings import Settings
from gridgis.store.base import Store, VersionInfo

SHOWN = 10


class VersionHasErrors(ConflictError):
    """The review found errors; ``findings`` lists them as JSON."""

    code = "version_has_errors"

    def __init__(self, message: str, findings: list[dict[str, object]]) -> None:
        super().__init__(message, param="force")
        self.findings = findings
        self.extra = {"findings": findings}


def publish_reviewed(
    store: Store,
    name: str,
    settings: Settings,
    *,
    actor: str,
    reason: str | None = None,
    valid_from: datetime | None = None,
    force: bool = False,
) -> VersionInfo:
    """Review ``name``, then publish it if it has no errors, or if ``force`` (with a
    reason); the publish itself stays one transaction in the store."""
    if store.get_version(name).status == "published":
        return store.get_version(name)
    ctx = ReviewContext.load(store, name, settings)
    review = review_context(ctx)
    errors = [f.to_dict(None) for f in review.errors]
    if errors and not force:
        listed = "; ".join(f"{e['type']} at {', '.join(e['grids'][:3]) or '—'}" for e in errors)
        raise VersionHasErrors(
            f"version {name!r} has {len(errors)} errors the review found "
            f"({listed[:600]}{' …' if len(errors) > SHOWN else ''}); fix them in a draft, "
            "or force the publish with a reason",
            [{k: e[k] for k in ("type", "grids", "value", "rule")} for e in errors],
        )
    if errors and not reason:
        raise InputError("a forced publish needs a reason for the audit log", param="reason")
    detail = (
        {
            "forced": True,
            "errors": [{k: e[k] for k in ("type", "grids", "value")} for e in errors],
        }
        if errors
        else {"review": review.summary["by_type"]}
    )
    # The content reviewed is the content published, or the publish is refused.
    return store.publish(
        name,
        actor,
        reason,
        valid_from=valid_from,
        detail=detail,
        content_key=ctx.version.content_key,
    )
