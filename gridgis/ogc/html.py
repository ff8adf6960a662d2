"""``f=html``: plain pages over the JSON documents, for people following links in a browser.

Each function turns a document of :mod:`gridgis.ogc.documents` into the context of a
template under ``templates/ogc/`` (autoescaped, see :mod:`gridgis.templating`), in the
page's language (``urls.lang``: Chinese unless ``lang=en``). Links come from the documents,
built by a :class:`~gridgis.ogc.links.Urls` that keeps ``lang``, so following them keeps
the language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from gridgis.i18n import DEFAULT_LANG, HTML_LANG, Lang
from gridgis.ogc import media
from gridgis.ogc.links import ROOT, Urls, collection_path, items_path
from gridgis.templating import render

Doc = dict[str, Any]

LABELS: dict[Lang, dict[str, str]] = {
    "zh": {
        "root": "OGC API 要素服务",
        "conformance": "一致性类别",
        "conformance_intro": "本服务实现的 OGC API – Features 第 1 部分一致性类别：",
        "collections": "集合",
        "items": "要素",
        "links": "链接",
        "rel": "关系",
        "type": "类型",
        "link": "链接",
        "id": "编号",
        "title": "名称",
        "geometry": "几何类型",
        "extent": "范围（经纬度）",
        "period": "时间范围",
        "since": "{start} 起",
        "between": "{start} 至 {end}",
        "properties": "属性",
        "filter_hint": "每个属性都可以筛选要素，例如",
        "prev": "‹ 上一页",
        "next": "下一页 ›",
        "shown": "第 {first}–{last} 个，共 {matched} 个要素。",
        "none_shown": "本页没有要素，共 {matched} 个要素。",
        "other_lang": "English",
    },
    "en": {
        "root": "OGC API Features",
        "conformance": "Conformance",
        "conformance_intro": "The conformance classes of OGC API – Features Part 1 "
        "this service implements:",
        "collections": "Collections",
        "items": "Items",
        "links": "Links",
        "rel": "rel",
        "type": "type",
        "link": "link",
        "id": "id",
        "title": "title",
        "geometry": "geometry",
        "extent": "extent (lon/lat)",
        "period": "time",
        "since": "from {start}",
        "between": "{start} to {end}",
        "properties": "Properties",
        "filter_hint": "Each can filter items, e.g.",
        "prev": "‹ previous",
        "next": "next ›",
        "shown": "{first}–{last} of {matched} features.",
        "none_shown": "None of {matched} features.",
        "other_lang": "中文",
    },
}


def _html_link(doc: Doc, rel: str) -> str | None:
    for item in doc.get("links", []):
        if item["rel"] == rel and item["type"] == media.HTML:
            return str(item["href"])
    return None


def _with_lang(href: str, lang: Lang) -> str:
    """``href`` in ``lang``: the default language needs no parameter."""
    parts = urlsplit(href)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    if lang != DEFAULT_LANG:
        params.append(("lang", lang))
    return urlunsplit(parts._replace(query=urlencode(params, quote_via=quote)))


def _render(
    name: str,
    urls: Urls,
    doc: Doc,
    title: str,
    trail: list[tuple[str, str]],
    **extra: Any,
) -> str:
    """A page: breadcrumbs from the landing page, a link to this page in the other language."""
    lang = urls.lang
    t = LABELS[lang]
    other: Lang = "en" if lang == "zh" else "zh"
    here = _html_link(doc, "self") or _html_link(doc, "alternate")
    context = {
        "html_lang": HTML_LANG[lang],
        "t": t,
        "title": title,
        "crumbs": [(urls.to(ROOT, [("f", "html")]), t["root"]), *trail],
        **extra,
    }
    if here is not None:
        context["other_lang"] = {
            "href": _with_lang(here, other),
            "text": t["other_lang"],
            "lang": HTML_LANG[other],
        }
    return render(f"ogc/{name}.html", context)


def landing(urls: Urls, doc: Doc) -> str:
    return _render(
        "landing", urls, doc, doc["title"], [], description=doc["description"], links=doc["links"]
    )


def conformance(urls: Urls, doc: Doc) -> str:
    t = LABELS[urls.lang]
    here = urls.to(f"{ROOT}/conformance", [("f", "html")])
    trail = [(here, t["conformance"])]
    return _render("conformance", urls, doc, t["conformance"], trail, conforms=doc["conformsTo"])


def _moment(text: str, zone: str) -> str:
    """An RFC 3339 moment to read on the city's clock: ``2026-03-01 16:00:00 +08:00``,
    as the command line shows times and ``at=`` reads them."""
    local = datetime.fromisoformat(text).astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S ") + f"{offset[:3]}:{offset[3:]}"


def _period(c: Doc, t: dict[str, str], zone: str) -> str:
    intervals = c.get("extent", {}).get("temporal", {}).get("interval") or []
    if not intervals:
        return ""
    start, end = intervals[0]
    if end is None:
        return t["since"].format(start=_moment(start, zone))
    return t["between"].format(start=_moment(start, zone), end=_moment(end, zone))


def _collection_rows(entries: list[Doc], t: dict[str, str], zone: str) -> list[dict[str, str]]:
    rows = []
    for c in entries:
        bbox = c.get("extent", {}).get("spatial", {}).get("bbox", [[]])[0]
        rows.append(
            {
                "id": c["id"],
                "href": _html_link(c, "self") or _html_link(c, "alternate") or "",
                "title": c["title"],
                "geometry": c.get("geometryType", ""),
                "bbox": ", ".join(f"{v:.5f}" for v in bbox),
                "period": _period(c, t, zone),
                "items": _html_link(c, "items") or "",
            }
        )
    return rows


def collections(urls: Urls, doc: Doc, zone: str) -> str:
    t = LABELS[urls.lang]
    here = urls.to(f"{ROOT}/collections", [("f", "html")])
    rows = _collection_rows(doc["collections"], t, zone)
    return _render(
        "collections", urls, doc, t["collections"], [(here, t["collections"])], rows=rows
    )


def collection(urls: Urls, doc: Doc, zone: str) -> str:
    t = LABELS[urls.lang]
    return _render(
        "collection",
        urls,
        doc,
        doc["title"],
        _trail(urls, doc["id"], doc["title"], t)[:2],
        description=doc["description"],
        rows=_collection_rows([doc], t, zone),
        properties=doc.get("properties", []),
        links=doc["links"],
    )


def _trail(urls: Urls, collection_id: str, title: str, t: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (urls.to(f"{ROOT}/collections", [("f", "html")]), t["collections"]),
        (urls.to(collection_path(collection_id), [("f", "html")]), title),
        (urls.to(items_path(collection_id), [("f", "html")]), t["items"]),
    ]


def _item_href(urls: Urls, collection_id: str, feature_id: Any) -> str:
    path = f"{items_path(collection_id)}/{quote(str(feature_id), safe='')}"
    return urls.to(path, [("f", "html")])


def items(
    urls: Urls,
    collection_id: str,
    title: str,
    doc: Doc,
    offset: int,
) -> str:
    """A page of features: a map, a table (ids link to each item) and prev/next links."""
    t = LABELS[urls.lang]
    feats = doc["features"]
    keys: list[str] = list(dict.fromkeys(k for f in feats for k in f["properties"]))
    matched = doc["numberMatched"]
    summary = (
        t["shown"].format(first=offset + 1, last=offset + doc["numberReturned"], matched=matched)
        if feats
        else t["none_shown"].format(matched=matched)
    )
    pages = [
        (href, t[rel]) for rel in ("prev", "next") if (href := _html_link(doc, rel)) is not None
    ]
    rows = [
        {
            "href": _item_href(urls, collection_id, f["id"]),
            "id": str(f["id"]),
            "values": [f["properties"].get(k) for k in keys],
        }
        for f in feats
    ]
    return _render(
        "items",
        urls,
        doc,
        f"{title} · {t['items']}",
        _trail(urls, collection_id, title, t),
        summary=summary,
        pages=pages,
        geojson=doc,
        keys=keys,
        features=rows,
    )


def item(urls: Urls, collection_id: str, title: str, doc: Doc) -> str:
    t = LABELS[urls.lang]
    trail = [
        *_trail(urls, collection_id, title, t),
        (_item_href(urls, collection_id, doc["id"]), str(doc["id"])),
    ]
    return _render(
        "item",
        urls,
        doc,
        f"{title} · {doc['id']}",
        trail,
        geojson=doc,
        properties=list(doc["properties"].items()),
        links=doc["links"],
    )
