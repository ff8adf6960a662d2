"""What each route needs, declared beside the route, enforced before any route runs.

A route (or its router) says ``dependencies=[requires(Access.VIEWER)]``. At start the
:class:`RouteTable` reads those declarations off the app's routes, and the access policy
looks every request up in it before the request goes down the fast path or the
framework's, so a refused upload is refused before a byte of its body is read and the
fast path cannot skip a rule. The dependency itself only checks that the policy admitted
the request: a route reached some other way is refused, and a route declared with no
requirement is found by the tests (and treated as admin-only meanwhile).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, Route

from gridgis.errors import ForbiddenError

#: Where the policy leaves the level it admitted the request at.
ADMITTED_KEY = "gridgis.admitted"


class Access(IntEnum):
    """Who may call a route, from anyone to the grid office's administrators."""

    open = 0  # health, the docs, signing in: always
    public = 1  # what the public map shows (unless GRIDGIS_PUBLIC_READ=0), rate-limited
    viewer = 2  # data in bulk, drafts, reviews: a viewer key or account
    editor = 3  # edits, inside the editor's scope
    admin = 4  # uploads, publishing, deleting


Refine = Callable[[dict[str, str]], "Access | None"]


class Requires:
    """The declaration (and a last check) of what a route needs."""

    def __init__(self, level: Access, refine: Refine | None = None) -> None:
        self.level = level
        self.refine = refine  # from the path's parameters, a stricter level (or None)

    async def __call__(self, request: Request) -> None:
        if request.scope.get(ADMITTED_KEY) is None:
            raise ForbiddenError("the request did not pass the access policy", code="forbidden")


def requires(level: Access, refine: Refine | None = None) -> Any:
    return Depends(Requires(level, refine))


def flat_routes(routes: Iterable[BaseRoute]) -> Iterator[Any]:
    """Every route the app answers, its routers' included routes too: FastAPI 0.16x keeps
    an included router as one entry that resolves its routes (with the router's prefix
    and dependencies) on demand, instead of copying them into the app's list."""
    for route in routes:
        nested = getattr(route, "effective_route_contexts", None)
        if nested is not None:
            yield from nested()
        else:
            yield route


def declared(route: Any) -> Requires | None:
    """The route's own requirement (the innermost declaration wins over its router's)."""
    if isinstance(route, Mount | Route) and not isinstance(route, APIRoute):
        return Requires(Access.open)  # static files, the OpenAPI document
    found = [
        d.dependency
        for d in getattr(route, "dependencies", None) or ()
        if isinstance(d.dependency, Requires)
    ]
    return found[-1] if found else None


@dataclass(frozen=True)
class _Entry:
    regex: re.Pattern[str]
    methods: frozenset[str] | None
    requires: Requires


class RouteTable:
    """Path → requirement, matched the way the router will match it."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.exact: dict[str, list[_Entry]] = {}
        self.known: dict[tuple[str, str], Access] = {}  # (method, path) of plain routes
        self.templated: list[_Entry] = []
        self.prefixes: list[tuple[str, Requires]] = []
        for route in flat_routes(routes):
            need = declared(route) or Requires(Access.admin)
            if isinstance(route, Mount):
                self.prefixes.append((route.path.rstrip("/") + "/", need))
                continue
            path = getattr(route, "path", None)
            regex = getattr(route, "path_regex", None)
            if path is None or regex is None:
                continue
            methods = getattr(route, "methods", None)
            entry = _Entry(regex, frozenset(methods) if methods else None, need)
            if "{" in path:
                self.templated.append(entry)
            else:
                self.exact.setdefault(path, []).append(entry)
                if need.refine is None:
                    for method in methods or ():
                        self.known.setdefault((method, path), need.level)

    def level(self, method: str, path: str) -> Access:
        """The level a request needs: the route's, or for a method the path does not take
        (405 to come), the strictest of the path's routes; paths no route has, public."""
        known = self.known.get((method, path))
        if known is not None:
            return known
        exact = self.exact.get(path)
        found: list[tuple[_Entry, dict[str, str]]] = [(e, {}) for e in exact or ()]
        if exact is None:
            for entry in self.templated:
                m = entry.regex.match(path)
                if m:
                    found.append((entry, m.groupdict()))
            if not found:
                for prefix, need in self.prefixes:
                    if path.startswith(prefix):
                        return need.level
                return Access.public
        chosen = [(e, p) for e, p in found if e.methods is None or method in e.methods]
        if method == "HEAD" and not chosen:
            chosen = [(e, p) for e, p in found if e.methods is None or "GET" in e.methods]
        if not chosen:
            return max(e.requires.level for e, _ in found)
        need, params = chosen[0][0].requires, chosen[0][1]
        refined = need.refine(params) if need.refine else None
        return max(need.level, refined) if refined is not None else need.level


_SECURED: dict[Access, list[dict[str, list[str]]]] = {
    Access.open: [],
    Access.public: [{}, {"apiKey": []}, {"session": []}],  # anyone; a key lifts the limit
}
_DENIED = {
    "401": {"description": "No credential, or one unknown, revoked or expired."},
    "403": {"description": "The credential's role, scope or origin does not allow this."},
}


def document_security(app: Any) -> None:
    """Say in the OpenAPI document how to authenticate and what each operation needs
    (``security``, and ``x-gridgis-access`` with the level's name)."""
    from api.credentials import SESSION_COOKIE

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema  # type: ignore[no-any-return]
        schema: dict[str, Any] = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["apiKey"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ggk_… (gridgis keys create)",
            "description": "An API key: Authorization: Bearer ggk_…",
        }
        schemes["session"] = {
            "type": "apiKey",
            "in": "cookie",
            "name": SESSION_COOKIE,
            "description": "A person's session (POST /api/session); writes also send X-CSRF-Token.",
        }
        for route in flat_routes(app.routes):
            if getattr(route, "endpoint", None) is None or not route.include_in_schema:
                continue
            need = declared(route)
            level = need.level if need else Access.admin
            for method in route.methods or ():
                op = schema["paths"].get(route.path_format, {}).get(method.lower())
                if op is None:
                    continue
                op["x-gridgis-access"] = level.name
                op["security"] = _SECURED.get(level, [{"apiKey": []}, {"session": []}])
                if level > Access.open:
                    responses = op.setdefault("responses", {})
                    for status, text in _DENIED.items():
                        responses.setdefault(status, text)
                    if level is Access.public:
                        responses.setdefault("429", {"description": "Too many without a key."})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
