"""The look-back review (回头看) as one HTML file a grid office can mail, open offline and
print on A4: the summary, a map of the findings, households per grid against the band,
the findings and the communities.

Everything the page needs is inside it. Grid office networks are often cut off from the
internet, so Leaflet (from xstatic-leaflet, as the server uses) is inlined, its images
become ``data:`` URIs, there is no basemap and the histogram is an inline PNG. A folium
element that asks for any other file fails the render instead of leaving a CDN link.
"""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import folium
import folium.map
import numpy as np
import pandas as pd
import xstatic.pkg.leaflet as xleaflet
from branca.element import CssLink, Element, Figure, JavascriptLink
from markupsafe import Markup
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as PlotFigure
from numpy.typing import NDArray

from gridgis.errors import GridgisError
from gridgis.geojson import feature_collection, geometry_texts
from gridgis.i18n import HTML_LANG
from gridgis.review.context import ReviewContext
from gridgis.review.findings import LABELS_ZH, TYPES
from gridgis.review.proposals import Proposal, propose
from gridgis.review.run import SEVERITY_ORDER, WHERE_PRECISION, Review
from gridgis.templating import environment, render

SEVERITY_LABELS = {"error": "错误", "warning": "警告", "info": "提示"}
SEVERITY_COLOURS = {"error": "#d7301f", "warning": "#f08c00", "info": "#3182bd"}
STATUS_LABELS = {"draft": "草稿", "published": "已发布", "archived": "已归档"}
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "SimHei")
GRID_PRECISION = 5  # about 1 m: outlines to look at, and a city's grids stay a few MB
MAP_HEIGHT_PX = 520
#: Leaflet's files as folium names them, and where xstatic-leaflet keeps them.
LEAFLET_FILES = {"leaflet": "leaflet.js", "leaflet_css": "leaflet.css"}
_LAYER = environment().get_template("review/layer.js")


# --- the page ------------------------------------------------------------------------------
def render_report(
    review: Review,
    ctx: ReviewContext,
    *,
    before: ReviewContext | None = None,
    proposals: list[Proposal | Refusal] | None = None,
) -> str:
    """The report of ``review`` (made from ``ctx``) as one self-contained HTML page.

    With ``before`` (usually the version this one replaces) the histogram shows both, so
    the office sees whether the redraw brought grids into the band. ``proposals`` (see
    :func:`report_proposals`) are listed before and after and drawn on the map.
    """
    summary = review.summary
    proposals = proposals or []
    return render(
        "review/report.html",
        {
            "html_lang": HTML_LANG["zh"],
            "title": f"回头看报告 Look-back review · {review.version}",
            "version": review.version,
            "before": before.version.name if before is not None else None,
            "status": STATUS_LABELS.get(summary["status"], summary["status"]),
            "status_en": summary["status"],
            "s": summary,
            "by_severity": [
                (SEVERITY_LABELS[k], k, summary["by_severity"].get(k, 0), SEVERITY_COLOURS[k])
                for k in SEVERITY_ORDER
            ],
            "by_type": [
                (LABELS_ZH.get(t, t), t, TYPES[t].severity, n)
                for t, n in summary["by_type"].items()
            ],
            "findings": _finding_rows(review),
            "communities": community_table(review, ctx).to_dict("records"),
            "histogram": histogram_png(ctx, before),
            "map": findings_map(review, ctx, [p for p in proposals if isinstance(p, Proposal)]),
            "proposals": [_proposal_row(p) for p in proposals],
            "colours": SEVERITY_COLOURS,
            "severity_labels": SEVERITY_LABELS,
        },
    )


@dataclass(frozen=True)
class Refusal:
    """A fixable finding whose proposal found no fix, and why."""

    id: str
    finding: str
    grids: list[str]
    reason: str


REPORT_PROPOSALS = 30  # most proposals a report computes (each reads its own grids)


def report_proposals(ctx: ReviewContext, review: Review) -> list[Proposal | Refusal]:
    """The proposals of the review's first fixable findings (errors first)."""
    out: list[Proposal | Refusal] = []
    for f in [f for f in review.findings if f.proposal][:REPORT_PROPOSALS]:
        assert f.proposal is not None
        try:
            out.append(propose(ctx, f.proposal))
        except GridgisError as exc:
            out.append(Refusal(f.proposal, f.type, f.grids, exc.message))
    return out


def _proposal_row(p: Proposal | Refusal) -> dict[str, Any]:
    if isinstance(p, Refusal):
        return {
            "id": p.id,
            "type_label": LABELS_ZH.get(p.finding, p.finding),
            "type": p.finding,
            "note": p.reason,
            "before": [],
            "after": [],
            "fixed": False,
        }
    return {
        "id": p.id,
        "type_label": LABELS_ZH.get(p.finding.type, p.finding.type),
        "type": p.finding.type,
        "note": p.note,
        "before": p.before,
        "after": p.after(),
        "fixed": True,
    }


def write_report(path: Path | str, html: str) -> Path:
    """Write ``html`` to ``path`` (UTF-8; folders made as needed) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def _finding_rows(review: Review) -> list[dict[str, Any]]:
    return [
        {
            "id": f.detail.get("id", n),
            "severity": f.severity,
            "severity_label": SEVERITY_LABELS[f.severity],
            "type": f.type,
            "type_label": LABELS_ZH.get(f.type, f.type),
            "grids": f.grids,
            "value": f.value,
            "limit": f.limit,
            "rule": f.rule(),
            "rule_en": f.rule_en(),
        }
        for n, f in enumerate(review.findings, start=1)
    ]


# --- by community --------------------------------------------------------------------------
def community_table(review: Review, ctx: ReviewContext) -> pd.DataFrame:
    """Per community: grids, households (today's buildings), comprehensive grids in the
    band, and findings touching it (a finding over two communities counts in each)."""
    low, high = review.summary["band"]
    hh = ctx.households
    names = ctx.grids.get("community_name")
    grids = pd.DataFrame(
        {
            "community_code": ctx.community_of.astype(str),
            "community_name": names.fillna("").astype(str) if names is not None else "",
            "households": hh,
            "in_band": ctx.comprehensive & (hh >= low) & (hh <= high),
        }
    )
    table = grids.groupby("community_code", sort=True).agg(
        community_name=("community_name", "first"),
        grids=("households", "size"),
        households=("households", "sum"),
        in_band=("in_band", "sum"),
    )
    community_of = dict(zip(ctx.codes.tolist(), grids["community_code"].tolist(), strict=True))
    touched = pd.DataFrame(
        [
            (n, community)
            for n, f in enumerate(review.findings)
            for community in [
                *(community_of.get(code) for code in f.grids),
                f.detail.get("community"),
            ]
            if community
        ],
        columns=["finding", "community_code"],
    ).drop_duplicates()
    table["findings"] = touched.groupby("community_code").size()
    table["findings"] = table["findings"].fillna(0).astype(int)
    return table.reset_index()


# --- households per grid -------------------------------------------------------------------
def _comprehensive_households(ctx: ReviewContext) -> NDArray[np.int64]:
    return np.asarray(ctx.households[ctx.comprehensive], dtype=np.int64)


@cache
def _cjk_font() -> str | None:
    """An installed CJK font, so Chinese labels are not boxes; None when there is none."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def histogram_png(ctx: ReviewContext, before: ReviewContext | None = None) -> str:
    """Households per comprehensive grid (the band applies to those), with the band
    shaded, as base64 PNG; ``before`` as a second series when given."""
    low, high = ctx.settings.min_households, ctx.settings.max_households
    series = [(ctx.version.name, _comprehensive_households(ctx), "#2b8cbe")]
    if before is not None:
        series.insert(0, (before.version.name, _comprehensive_households(before), "#bdbdbd"))
    values = np.concatenate([s[1] for s in series])
    top = max(int(values.max()) if len(values) else 0, high) * 1.05
    bins = np.linspace(0, top, 41)
    font = _cjk_font()
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]

    figure = PlotFigure(figsize=(7.2, 3.1), dpi=150, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.axvspan(low, high, color="#74c476", alpha=0.18, lw=0)
    ax.axvline(low, color="#31a354", lw=0.8)
    ax.axvline(high, color="#31a354", lw=0.8)
    for n, (name, hh, colour) in enumerate(series):
        filled = n == len(series) - 1
        ax.hist(
            hh,
            bins=bins.tolist(),
            color=colour,
            alpha=0.85 if filled else 1.0,
            histtype="stepfilled" if filled else "step",
            lw=1.4,
            label=f"{name}（{len(hh)}个网格 grids）",
        )
    ax.text(
        (low + high) / 2,
        1.01,
        f"户数区间 band {low}–{high}",
        transform=ax.get_xaxis_transform(),
        ha="center",
        va="bottom",
        fontsize=8,
        color="#006d2c",
        family=family,
    )
    ax.set_xlabel("每个综合网格的户数 Households per comprehensive grid", family=family)
    ax.set_ylabel("网格数 Grids", family=family)
    ax.legend(loc="upper left", prop={"family": family, "size": 8}, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# --- the map -------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapParts:
    """A folium map cut into what goes in the page's head, its body and a script after."""

    head: Markup
    body: Markup
    script: Markup


@cache
def _leaflet_asset(name: str) -> str:
    """Leaflet's file ``name`` as text, its images as ``data:`` URIs and no source map."""
    folder = Path(xleaflet.BASE_DIR)
    text = (folder / LEAFLET_FILES[name]).read_text(encoding="utf-8")
    text = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", text)

    def inline(found: re.Match[str]) -> str:
        data = base64.b64encode((folder / found.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\((images/[\w.-]+\.png)\)", inline, text)


def _inline(tag: JavascriptLink | CssLink, name: str) -> Element:
    if name not in LEAFLET_FILES:
        raise ValueError(f"the report has no offline copy of {name!r} ({tag.url})")
    text = _leaflet_asset(name)
    if isinstance(tag, CssLink):
        return Element(f"<style>{text}</style>")
    if "</script" in text.lower():
        raise ValueError(f"{name} cannot be inlined: it closes its own <script>")
    return Element(f"<script>{text}</script>")


class OfflineFigure(Figure):  # type: ignore[misc]
    """A folium figure whose script and style links (named as folium names them) become
    inline copies; a link with no offline copy is an error, not a CDN request."""

    def parts(self) -> MapParts:
        for child in list(self._children.values()):
            child.render()
        for name, child in list(self.header._children.items()):
            if isinstance(child, JavascriptLink | CssLink):
                self.header.add_child(_inline(child, name), name=name)
        return MapParts(
            head=Markup(self.header.render()),
            body=Markup(self.html.render()),
            script=Markup(self.script.render()),
        )


class GeoJsonLayer(folium.map.Layer):  # type: ignore[misc]
    """GeoJSON held in the page (the report is one file): Leaflet path ``style``, circle
    markers for points, and a popup of (property, label) rows set as text, never HTML."""

    _template = _LAYER

    def __init__(
        self,
        data: dict[str, Any],
        name: str,
        style: dict[str, Any],
        *,
        popup: list[tuple[str, str]] | None = None,
        radius: float = 6.0,
        control: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=control, show=True)
        self._name = "GeoJsonLayer"
        self.data = data
        rows = popup or []
        self.spec = {
            "style": {**style, "interactive": bool(rows)},
            "popup": [list(r) for r in rows],
            "radius": radius,
        }

    def render(self, **kwargs: Any) -> Any:
        root = self.get_root()
        assert isinstance(root, Figure), "a layer renders inside a page"
        library = self._template.module.__dict__["library"]
        root.script.add_child(Element(library()), name="gridgis_review_layer")
        return super().render(**kwargs)  # type: ignore[no-untyped-call]


FINDING_POPUP = [
    ("type", "类型 Type"),
    ("severity", "严重程度 Severity"),
    ("grids", "网格 Grids"),
    ("rule", "规则"),
    ("rule_en", "Rule"),
]


def _finding_collections(review: Review) -> dict[str, dict[str, Any]]:
    """Per severity, the findings that have a place, as GeoJSON."""
    placed = [f for f in review.findings if f.where is not None]
    texts: Any = (
        geometry_texts(np.array([f.where for f in placed], dtype=object), WHERE_PRECISION)
        if placed
        else []
    )
    out: dict[str, dict[str, Any]] = {
        k: {"type": "FeatureCollection", "features": []} for k in SEVERITY_ORDER
    }
    for f, text in zip(placed, texts, strict=True):
        properties = {
            "id": f.detail.get("id"),
            "type": f"{LABELS_ZH.get(f.type, f.type)} {f.type}",
            "severity": f"{SEVERITY_LABELS[f.severity]} {f.severity}",
            "grids": ", ".join(f.grids),
            "rule": f.rule(),
            "rule_en": f.rule_en(),
        }
        feature = {"type": "Feature", "properties": properties, "geometry": json.loads(str(text))}
        out[f.severity]["features"].append(feature)
    return out


def findings_map(
    review: Review, ctx: ReviewContext, proposals: list[Proposal] | None = None
) -> MapParts:
    """The grids outlined thin grey, each finding where it is, coloured by severity, and
    the grids proposals would draw, dashed."""
    minx, miny, maxx, maxy = (float(v) for v in ctx.grids.total_bounds)
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_start=14,
        height=f"{MAP_HEIGHT_PX}px",
        control_scale=True,
        prefer_canvas=False,
        zoom_snap=0.25,  # fit the city to the page's width, not to the next whole zoom
    )
    m.default_js = [("leaflet", LEAFLET_FILES["leaflet"])]
    m.default_css = [("leaflet_css", LEAFLET_FILES["leaflet_css"])]
    OfflineFigure().add_child(m)
    grids = json.loads(feature_collection(ctx.grids, ["code", "name"], precision=GRID_PRECISION))
    GeoJsonLayer(
        grids,
        "网格 Grids",
        {"color": "#8c8c8c", "weight": 0.8, "fill": False, "className": "gridgis-grid"},
    ).add_to(m)
    collections = _finding_collections(review)
    for severity in reversed(SEVERITY_ORDER):  # errors drawn last, on top
        found = collections[severity]
        if not found["features"]:
            continue
        colour = SEVERITY_COLOURS[severity]
        GeoJsonLayer(
            found,
            f"{SEVERITY_LABELS[severity]} {severity}（{len(found['features'])}）",
            {
                "color": colour,
                "fillColor": colour,
                "weight": 2,
                "fillOpacity": 0.45,
                "className": f"gridgis-finding gridgis-{severity}",
            },
            popup=FINDING_POPUP,
        ).add_to(m)
    if proposals:
        drawn = [p.add.assign(proposal=p.id) for p in proposals]
        after = pd.concat(drawn, ignore_index=True)
        GeoJsonLayer(
            json.loads(
                feature_collection(
                    after, ["proposal", "code", "name", "households"], precision=WHERE_PRECISION
                )
            ),
            f"调整方案 proposals（{len(proposals)}）",
            {
                "color": "#2b6cb0",
                "weight": 2,
                "dashArray": "5 4",
                "fill": False,
                "className": "gridgis-proposal",
            },
            popup=[
                ("proposal", "方案 Proposal"),
                ("code", "网格 Grid"),
                ("households", "户数 Households"),
            ],
        ).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.LayerControl(collapsed=False).add_to(m)
    root = m.get_root()
    assert isinstance(root, OfflineFigure)
    return root.parts()
