"""Header values HTTP can carry: text beyond ASCII travels percent-encoded as UTF-8.

Starlette writes headers as Latin-1, so a version named ``2026年第一季度`` in a header
would fail the response; raw UTF-8 bytes (which the fast path could send) are read
differently by every client. Percent-encoding (as RFC 8187 does for parameters) leaves
ASCII names as they are and lets a client recover the name with ``decodeURIComponent``.
"""

from __future__ import annotations

import string
from urllib.parse import quote

#: Printable ASCII except ``%``, which starts an escape (version names never hold it).
_KEPT = "".join(c for c in string.printable if c not in "%\t\n\r\x0b\x0c")


def text_header(value: str) -> str:
    """``value`` as a header value: unchanged if ASCII, else percent-encoded UTF-8."""
    return quote(value, safe=_KEPT)


def attachment(filename: str) -> str:
    """A Content-Disposition for a download whose name may be Chinese."""
    return f"attachment; filename*=UTF-8''{quote(filename)}"
