"""User-facing errors: one clear line that names the file, row or field at fault."""

from __future__ import annotations


class GridgisError(Exception):
    """An error caused by input or state the user can fix; shown without a traceback.

    ``status`` is the HTTP status the API answers with.
    """

    status: int = 400

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.message = message
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class InputError(GridgisError):
    """A file, field or value that cannot be used as given."""


class InvalidValueError(InputError):
    """A parameter value out of range or not a number (HTTP 422, like schema errors)."""

    status = 422


class NotFoundError(GridgisError):
    status = 404


class ConflictError(GridgisError):
    status = 409


class TooLargeError(GridgisError):
    status = 413
