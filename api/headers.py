"""Header values that may carry a Chinese name: HTTP headers are ASCII (latin-1 at most).

A version called ``v2-文明`` must reach a client intact, not crash the answer with a
``UnicodeEncodeError``. Free-text values are percent-encoded UTF-8 (RFC 3986, what
``decodeURIComponent`` reads); file names go as RFC 6266 ``filename`` with an ASCII
fallback beside RFC 8187 ``filename*``.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

#: ASCII punctuation a header value may keep as it is (``%`` is not among them, so a
#: value that needed no encoding decodes to itself).
_SAFE = " !#$&'()*+,-./:;<=>?@[]^_`{|}~"


def header_text(value: str) -> str:
    """``value`` as an ASCII header value: unchanged if it is printable ASCII without
    ``%``, else percent-encoded UTF-8."""
    if value.isascii() and value.isprintable() and "%" not in value:
        return value
    return quote(value, safe=_SAFE)


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """``attachment; filename="…"; filename*=UTF-8''…`` for any file name."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    value = f'{disposition}; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


def etag(*parts: object) -> str:
    """A strong ETag from what identifies an answer (content keys, the request's shape):
    the same on every worker and after a restart, new when the content changes."""
    return '"' + hashlib.sha1(repr(parts).encode()).hexdigest()[:20] + '"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (or ``*``)."""
    if if_none_match is None:
        return False
    given = {t.strip() for t in if_none_match.split(",")}
    return tag in given or "*" in given or f"W/{tag}" in given
