"""The rules that apply to a request, whichever path answers it.

Plain lookups and tiles are answered before the framework (:mod:`api.fastpath`), so a
rule kept in a FastAPI middleware would silently skip them. Every HTTP request
therefore meets :class:`AccessPolicy` first, in the app's own ASGI entry, before it is
sent down either path: CORS today; API keys, scopes and rate limits (issue [9/11]) plug
in here, so no path can bypass them. The policy says who the caller is (for the audit
log), which headers every answer carries, and whether to answer at once instead
(a CORS preflight, later a 401 or 429).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.types import Scope

from gridgis.jsonio import json_dumps
from gridgis.settings import Settings

Headers = tuple[tuple[bytes, bytes], ...]

#: Methods other pages may use across origins, and what their scripts may read.
CORS_METHODS = "GET, POST, PATCH, DELETE"
CORS_EXPOSE = b"ETag, X-Gridgis-Version, Content-Disposition, Location"
PREFLIGHT_MAX_AGE = b"600"
#: Where the caller is kept in the ASGI scope, for routes (who writes, in the audit log).
CALLER_KEY = "gridgis.caller"


@dataclass(frozen=True)
class Caller:
    """Who is asking: anonymous (known by address) until keys and accounts arrive."""

    address: str
    origin: str | None = None

    @property
    def actor(self) -> str:
        """The name the audit log records for this caller's writes."""
        return f"http:{self.address}"


@dataclass(frozen=True)
class EarlyAnswer:
    """An answer the policy gives itself, without reaching any route."""

    status: int
    headers: Headers
    body: bytes = b""


@dataclass(frozen=True)
class Admission:
    caller: Caller
    headers: Headers = ()  # added to whatever answers the request
    early: EarlyAnswer | None = field(default=None)


def _error(message: str, code: str) -> bytes:
    return json_dumps({"error": message, "code": code}).encode()


class AccessPolicy:
    """One object, called for every HTTP request by :class:`api.fastpath.FastPathApp`."""

    def __init__(self, settings: Settings) -> None:
        # Deny by default: only the configured embedding origins may call from a browser.
        self.origins = frozenset(o.rstrip("/") for o in settings.cors_origins)

    def admit(self, scope: Scope) -> Admission:
        client = scope.get("client")
        origin = None
        request_method = None
        for key, value in scope["headers"]:
            if key == b"origin":
                origin = value.decode("latin-1")
            elif key == b"access-control-request-method":
                request_method = value.decode("latin-1")
        caller = Caller(client[0] if client else "unknown", origin)
        if origin is None:
            return Admission(caller)
        allowed = origin in self.origins
        cors: Headers = (
            (
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-expose-headers", CORS_EXPOSE),
                (b"vary", b"Origin"),
            )
            if allowed
            else ()
        )
        if scope["method"] == "OPTIONS" and request_method is not None:
            return Admission(caller, early=self._preflight(scope, allowed, request_method, cors))
        return Admission(caller, cors)

    @staticmethod
    def _preflight(scope: Scope, allowed: bool, method: str, cors: Headers) -> EarlyAnswer:
        if not allowed or method.upper() not in CORS_METHODS.split(", "):
            why = "origin" if not allowed else "method"
            body = _error(f"cross-origin {why} not allowed", f"cors_{why}_not_allowed")
            return EarlyAnswer(403, ((b"content-type", b"application/json"),), body)
        asked = next(
            (v for k, v in scope["headers"] if k == b"access-control-request-headers"), b""
        )
        headers = (
            *cors,
            (b"access-control-allow-methods", CORS_METHODS.encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE),
            *(((b"access-control-allow-headers", asked),) if asked else ()),
        )
        return EarlyAnswer(200, headers)
