"""Review one version: every check over it, findings sorted, a summary to act on."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridgis.geojson import geometry_texts
from gridgis.review.checks import CHECKS, NEEDS
from gridgis.review.context import ReviewContext
from gridgis.review.findings import TYPES, Finding
from gridgis.review.proposals import name_proposals
from gridgis.settings import Settings
from gridgis.store.base import Store

Progress = Callable[[str, int, int], None]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
WHERE_PRECISION = 6  # about 10 cm: a map of findings, not a survey


@dataclass
class Review:
    version: str
    findings: list[Finding]
    summary: dict[str, Any]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_dict(self) -> dict[str, Any]:
        wheres = [f.where for f in self.findings]
        present = [i for i, w in enumerate(wheres) if w is not None]
        texts: Any = (
            geometry_texts(np.array([wheres[i] for i in present], dtype=object), WHERE_PRECISION)
            if present
            else []
        )
        encoded: list[dict[str, Any] | None] = [None] * len(wheres)
        for i, text in zip(present, texts, strict=True):
            encoded[i] = json.loads(str(text))
        return {
            "version": self.version,
            "summary": self.summary,
            "findings": [f.to_dict(w) for f, w in zip(self.findings, encoded, strict=True)],
        }


def review_context(ctx: ReviewContext, *, progress: Progress | None = None) -> Review:
    """Every check over a loaded version."""
    started = time.perf_counter()
    tick = progress or (lambda _s, _i, _n: None)
    findings: list[Finding] = []
    present = {layer.kind for layer in ctx.layers}
    skipped: dict[str, str] = {}
    for n, check in enumerate(CHECKS):
        tick(check.__name__, n, len(CHECKS))
        missing = [k for k in NEEDS.get(check.__name__, ()) if k not in present]
        if missing:
            skipped[check.__name__] = f"no {' or '.join(missing)} imported"
            continue
        findings.extend(check(ctx))
    tick("done", len(CHECKS), len(CHECKS))
    name_proposals(ctx, findings)
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.type, f.grids))
    for n, f in enumerate(findings, start=1):
        f.detail.setdefault("id", n)
    summary = _summary(ctx, findings, time.perf_counter() - started)
    summary["skipped"] = skipped  # checks without the layers they judge by, and why
    return Review(ctx.version.name, findings, summary)


def review_version(
    store: Store, name: str, settings: Settings, *, progress: Progress | None = None
) -> Review:
    """Read ``name`` and the base layers, then check it."""
    ctx = ReviewContext.load(store, name, settings)
    return review_context(ctx, progress=progress)


def _summary(ctx: ReviewContext, findings: list[Finding], seconds: float) -> dict[str, Any]:
    s = ctx.settings
    hh = ctx.households
    comp = ctx.comprehensive
    in_band = comp & (hh >= s.min_households) & (hh <= s.max_households)
    by_type = Counter(f.type for f in findings)
    by_severity: Counter[str] = Counter(f.severity for f in findings)
    return {
        "status": ctx.version.status,
        "grids": len(ctx.grid_m),
        "households": int(hh.sum()),
        "band": [s.min_households, s.max_households],
        "in_band": int(in_band.sum()),
        "in_band_share": round(float(in_band.sum() / max(comp.sum(), 1)), 4),
        "findings": len(findings),
        "by_severity": {k: by_severity.get(k, 0) for k in SEVERITY_ORDER},
        "by_type": {t: by_type[t] for t in TYPES if by_type.get(t)},
        "publishable": by_severity.get("error", 0) == 0,
        "seconds": round(seconds, 2),
    }
