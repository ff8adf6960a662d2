"""The page ``/embed?grid=CODE`` shows when the version it shows has no grid ``CODE``.

Links in host systems outlive redraws: a portal keeps ``grid=510603001001003`` after the
回头看 review retired that code. Rather than an error in the iframe, the page says so in
the reader's language and, where another version had the code, which grids now cover
its area (:func:`gridgis.lineage.successors`), each linked to its own embed view with the
link's other parameters kept. No script: the page's CSP with nothing to run.

Hand-escaped like :func:`api.embedpage.render_embed` was; it belongs with that page's
template once the embed pages are templates.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from api.embedpage import LABELS, Lang, asset_url
from gridgis.lineage import Succession


@dataclass(frozen=True)
class RetiredPage:
    """``link(code)`` is the embed URL of grid ``code`` (``None``: without a grid)."""

    lang: Lang
    code: str
    version: str
    succession: Succession | None
    link: Callable[[str | None], str]

    def say(self, key: str, **values: str) -> str:
        return html.escape(LABELS[self.lang][key].format(**values))

    def all_grids(self) -> str:
        href = html.escape(self.link(None))
        return f'<p><a class="gridgis-all" href="{href}">{self.say("retired_all")}</a></p>'

    @property
    def title(self) -> str:
        return self.say("missing_title" if self.succession is None else "retired_title")

    def body(self) -> list[str]:
        s = self.succession
        lead = "missing_lead" if s is None else "retired_lead"
        out = [f"<h1>{self.title}</h1>"]
        out.append(f"<p>{self.say(lead, code=self.code, version=self.version)}</p>")
        if s is None:
            return [*out, f"<p>{self.say('retired_unknown')}</p>", self.all_grids()]
        out.append(f"<p>{self.say('retired_last', version=s.version, name=s.name or s.code)}</p>")
        if not s.successors:
            return [*out, f"<p>{self.say('retired_no_successor')}</p>", self.all_grids()]
        out.append(f"<p>{self.say('retired_now')}</p>")
        out.append('<ul class="gridgis-successors">')
        for grid in s.successors:
            name = html.escape(f"{grid.name or ''} {grid.code}".strip())
            where = f" · {html.escape(grid.community_name)}" if grid.community_name else ""
            share = self.say("retired_share", share=_percent(grid.share))
            href = html.escape(self.link(grid.code))
            out.append(
                f'<li data-code="{html.escape(grid.code)}"><a class="gridgis-successor" '
                f'href="{href}">{name}</a>{where} · {share}</li>'
            )
        out.append("</ul>")
        if s.uncovered >= 0.01:
            out.append(f"<p>{self.say('retired_uncovered', share=_percent(s.uncovered))}</p>")
        return out


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%" if share >= 0.01 else "<1%"


def render_retired(page: RetiredPage) -> str:
    title = f"{page.title} · gridgis · {html.escape(LABELS[page.lang]['title'])}"
    body = "\n".join(page.body())
    return f"""<!DOCTYPE html>
<html lang="{"zh-CN" if page.lang == "zh" else "en"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="strict-origin-when-cross-origin">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{asset_url("embed.css")}">
</head>
<body class="gridgis-page">
<main class="gridgis-retired" data-code="{html.escape(page.code)}" data-error="grid_not_found">
{body}
</main>
</body>
</html>
"""
