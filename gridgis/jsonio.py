"""JSON as people read it: Chinese stays Chinese, dates become ISO 8601 text."""

from __future__ import annotations

import json
from typing import Any


def json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
