"""One Jinja2 environment for every HTML page: autoescaped, strict, shared layout.

Templates are package data in a package's ``templates/`` folder. gridgis's own (the
shared layout ``base.html``, its macros, the OGC pages) are always found; a front end
adds its folder in front with ``environment("api")``, so its pages can extend ours and
there is one way to render. Values are escaped unless a template says otherwise, a
misspelt variable is an error rather than an empty string, and ``|tojson`` gives JSON
that is safe inside ``<script>`` (``<``, ``>``, ``&`` and ``'`` as ``\\u`` escapes, so no
value can close the script or open a comment).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2

from gridgis.jsonio import json_dumps

TEMPLATE_DIR = "templates"


def json_text(value: Any) -> str:
    """A value as JSON to show as text (escaped like any text, unlike ``|tojson``)."""
    return json_dumps(value)


@cache
def environment(*packages: str) -> jinja2.Environment:
    """The environment over ``packages``' templates (searched first), then gridgis's.

    Cached per tuple of packages, so templates are compiled once per process.
    """
    loaders = [jinja2.PackageLoader(p, TEMPLATE_DIR) for p in (*packages, "gridgis")]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        # Pages are escaped; .js templates (folium elements) hold code, written as such.
        autoescape=jinja2.select_autoescape(("html", "xml"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Page JSON through jsonio like all JSON: Chinese stays readable (and a third the
    # size), keys keep their order, NaN is null; |tojson then escapes it for <script>.
    env.policies["json.dumps_function"] = lambda value, **_: json_dumps(value)
    env.policies["json.dumps_kwargs"] = {}
    env.filters["json_text"] = json_text
    return env


def render(name: str, context: Mapping[str, Any], packages: tuple[str, ...] = ()) -> str:
    """Render template ``name`` with ``context`` (see :func:`environment`)."""
    return environment(*packages).get_template(name).render(context)
