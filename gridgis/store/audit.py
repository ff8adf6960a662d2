"""The audit log's chain: each entry carries the hash of the one before, so an entry
changed, removed or slipped in afterwards breaks the chain where it happened, and
``gridgis audit verify`` says which entry that is.

An entry's hash covers what it says (when, who, what, which, the detail and the
reason) and the previous entry's hash; the detail is hashed in a canonical form (keys
sorted, as it reads back from either store), so PostgreSQL's JSONB key order and the
GeoPackage's text give the same hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from gridgis.jsonio import json_bytes

GENESIS = "0" * 64  # what the first entry's "previous hash" is


def canonical(value: Any) -> bytes:
    """JSON with sorted keys, of the value as a store gives it back."""
    return orjson.dumps(orjson.loads(json_bytes(value)), option=orjson.OPT_SORT_KEYS)


def entry_hash(
    previous: str,
    at: datetime,
    actor: str,
    action: str,
    target: str | None,
    detail: dict[str, Any],
    reason: str | None,
) -> str:
    said = canonical([at.isoformat(timespec="microseconds"), actor, action, target, reason])
    return hashlib.sha256(previous.encode() + said + canonical(detail)).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """What ``verify`` found: how many entries, and the first that breaks the chain."""

    entries: int
    ok: bool
    broken_at: int | None = None  # the entry's id
    problem: str | None = None
