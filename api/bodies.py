"""The JSON bodies routes take: one base, so every body refuses what none may hold."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class Body(BaseModel):
    """Unknown fields are refused, not ignored (a misspelt ``force`` must not pass as
    absent), and so is a NUL in any text: PostgreSQL cannot store one, and no name,
    reason or note needs it (422 naming the field, on both stores alike)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not contain a NUL character")
        return value
