"""User-facing errors: one clear line that names the file, row or field at fault.

The library says what went wrong, never how a caller reached it: no HTTP statuses (the
API maps classes to statuses in ``api/errors.py``) and no command-line syntax in the
text. Where the fix is "give this option", the error names it in ``param`` and each
front end says it its own way (``--encoding`` on the command line, the ``encoding``
field over HTTP). ``code`` is a stable machine name a page can translate.
"""

from __future__ import annotations

from typing import Any


class GridgisError(Exception):
    """An error caused by input or state the user can fix; shown without a traceback."""

    code: str = "invalid_input"
    #: What else the error knows, for a caller to show (where a retired grid went, the
    #: findings a publish was refused for).
    extra: dict[str, Any] | None = None

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.param = param
        if code is not None:
            self.code = code
        super().__init__(f"{source}: {message}" if source else message)

    def to_dict(self) -> dict[str, Any]:
        """The one error shape, ``{"error", "code", "param", "source", …extra}`` (what is
        ``None`` left out): what the API answers and what a failed job keeps."""
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        more = {"param": self.param, "source": self.source, **(self.extra or {})}
        body.update({k: v for k, v in more.items() if v is not None})
        return body


class InputError(GridgisError):
    """A file, field or value that cannot be used as given."""


class InvalidValueError(InputError):
    """A parameter value out of range or not a number (like a schema error)."""

    code = "invalid_value"


class NotFoundError(GridgisError):
    code = "not_found"


class ConflictError(GridgisError):
    code = "conflict"


class StaleError(GridgisError):
    """An edit made against a grid that has changed since it was read (its ETag);
    ``current`` is the grid's ETag now, so the client can read it again."""

    code = "precondition_failed"

    def __init__(self, message: str, *, current: str) -> None:
        super().__init__(message)
        self.current = current


class UnconditionalError(GridgisError):
    """An edit that does not say which state of the grid it was made against."""

    code = "precondition_required"


class TooLargeError(GridgisError):
    code = "too_large"


class BusyError(GridgisError):
    """Too much asked at once by one caller; ask again later."""

    code = "busy"


class UnauthorizedError(GridgisError):
    """No credential, or one that does not check out (unknown, revoked, expired)."""

    code = "unauthorized"


class ForbiddenError(GridgisError):
    """A credential that checks out but may not do this (its role, scope or origin)."""

    code = "forbidden"
