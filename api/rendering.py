"""The app's pages render through gridgis's one template environment
(:mod:`gridgis.templating`), with ``api/templates/`` searched before gridgis's own, so a
page here can extend the shared layout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Template

from gridgis.templating import environment, render

PACKAGES = ("api",)


def render_page(name: str, context: Mapping[str, Any]) -> str:
    return render(name, context, PACKAGES)


def template(name: str) -> Template:
    """A template itself, for code that renders it its own way (folium elements)."""
    return environment(*PACKAGES).get_template(name)
