"""The one template environment: escaping, strictness, JSON in scripts, the api folder."""

from __future__ import annotations

import json
import re

import jinja2
import pytest

from api.embedpage import EmbedPage, render_embed
from api.rendering import PACKAGES
from gridgis.templating import environment, render

HOSTILE = "</script><script>alert(1)</script><!--"


def test_values_are_escaped_and_misspelt_names_fail() -> None:
    page = render("page.html", {"html_lang": "zh-CN", "title": HOSTILE, "crumbs": []})
    assert "<script>alert" not in page and "&lt;/script&gt;&lt;script&gt;alert(1)" in page
    with pytest.raises(jinja2.UndefinedError):
        render("page.html", {"html_lang": "zh-CN", "crumbs": []})


def test_json_in_a_script_cannot_close_it() -> None:
    env = environment()
    text = env.from_string("<script>const v={{ v|tojson }};</script>").render(
        v={"备注": HOSTILE, "a&b": "'"}
    )
    assert text.count("</script>") == 1 and "<!--" not in text
    assert "备注" in text  # Chinese stays as it is, not \\u escapes
    inner = text.removeprefix("<script>const v=").removesuffix(";</script>")
    assert json.loads(inner) == {"备注": HOSTILE, "a&b": "'"}


def test_the_api_folder_comes_first_and_extends_the_shared_layout() -> None:
    assert environment(*PACKAGES) is environment(*PACKAGES)  # compiled once
    names = environment(*PACKAGES).list_templates()
    assert {"embed.html", "base.html", "ogc/items.html"} <= set(names)
    assert "embed.html" not in environment().list_templates()


def test_the_embed_shell_keeps_hostile_values_in_their_place() -> None:
    page = EmbedPage(
        lang="en",
        layers=["grids"],
        basemap=None,
        origin="*",
        grid=HOSTILE,
        community=None,
        title=HOSTILE,
        urls={"grids": "/embed/grids.geojson?community=1&shift=none"},
    )
    html = render_embed(page)
    assert html.startswith('<!doctype html>\n<html lang="en">')
    assert len(re.findall(r"<script", html)) == 3  # the config and two scripts, no more
    found = re.search(r'type="application/json">(.*?)</script>', html, re.S)
    assert found and json.loads(found.group(1)) == page.config()
