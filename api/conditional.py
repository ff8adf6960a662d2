"""Answers a client may keep: an ETag from the content key, ``304`` when it still holds it.

Big answers (the city's grids are 3.7 MB of GeoJSON) then cross the network, and the
gzip middleware, once per content change instead of on every page load.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Response

from api.headers import etag, matches

#: Keep, but ask before using: the content may change at any publish or re-import.
REVALIDATE = "no-cache"


def tagged(
    request: Request, parts: tuple[object, ...], body: Callable[[], bytes], media_type: str
) -> Response:
    """``body()`` with an ETag made of ``parts``, or ``304`` if the client has it."""
    tag = etag(*parts)
    headers = {"ETag": tag, "Cache-Control": REVALIDATE}
    if matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body(), media_type=media_type, headers=headers)
