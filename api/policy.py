"""The rules that apply to a request, whichever path answers it.

Plain lookups and tiles are answered before the framework (:mod:`api.fastpath`), so a
rule kept in a FastAPI middleware would silently skip them. Every HTTP request
therefore meets :class:`AccessPolicy` first, in the app's own ASGI entry, before it is
sent down either path: CORS, who the caller is (an API key, a session cookie, or no
one), what the route needs (:mod:`api.access`), the rate limit on reads made without a
key. The policy says who the caller is (for the audit log and the routes' scope
checks), which headers every answer carries, and whether to answer at once instead (a
CORS preflight, a 401, 403 or 429).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from starlette.requests import cookie_parser
from starlette.routing import BaseRoute
from starlette.types import Scope

from api.access import ADMITTED_KEY, Access, RouteTable
from api.credentials import CSRF_HEADER, SESSION_COOKIE, Credentials
from api.ratelimit import RateLimit
from gridgis.credentials import Principal, Role
from gridgis.jsonio import json_dumps
from gridgis.settings import Settings

Headers = tuple[tuple[bytes, bytes], ...]

#: Methods other pages may use across origins, and what their scripts may read.
CORS_METHODS = "GET, POST, PATCH, DELETE"
CORS_EXPOSE = b"ETag, X-Gridgis-Version, Content-Disposition, Location, Retry-After"
PREFLIGHT_MAX_AGE = b"600"
#: Where the caller is kept in the ASGI scope, for routes (who writes, in the audit log).
CALLER_KEY = "gridgis.caller"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHALLENGE = (b"www-authenticate", b'Bearer realm="gridgis"')
JSON = (b"content-type", b"application/json")


class Caller(NamedTuple):
    """Who is asking: a key's or an account's principal, or no one (known by address).
    (Tuples, not frozen dataclasses: one is made per request, and a frozen dataclass
    costs a microsecond to make.)"""

    address: str
    origin: str | None = None
    principal: Principal | None = None

    @property
    def actor(self) -> str:
        """The name the audit log records for this caller's writes."""
        if self.principal is not None:
            return self.principal.actor
        return f"http:{self.address}"

    @property
    def scopes(self) -> tuple[str, ...]:
        """The division codes the caller may write in; empty for the whole city."""
        return () if self.principal is None else self.principal.scopes


class EarlyAnswer(NamedTuple):
    """An answer the policy gives itself, without reaching any route."""

    status: int
    headers: Headers
    body: bytes = b""


class Admission(NamedTuple):
    caller: Caller
    headers: Headers = ()  # added to whatever answers the request
    early: EarlyAnswer | None = None


def _error(message: str, code: str) -> bytes:
    return json_dumps({"error": message, "code": code}).encode()


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


class AccessPolicy:
    """One object, called for every HTTP request by :class:`api.fastpath.FastPathApp`."""

    def __init__(
        self,
        settings: Settings,
        credentials: Credentials,
        published: Callable[[], str | None],
    ) -> None:
        # Deny by default: only the configured embedding origins may call from a browser.
        self.origins = frozenset(o.rstrip("/") for o in settings.cors_origins)
        self.public_read = settings.public_read
        self.credentials = credentials
        self.published = published  # the published version's name, as lookups see it
        self.limit = RateLimit(settings.public_rate, settings.public_burst)
        self.table: RouteTable | None = None

    def bind(self, routes: Iterable[BaseRoute]) -> None:
        """Read what each of the app's routes needs (once, when the app starts)."""
        self.table = RouteTable(routes)

    def admit(self, scope: Scope) -> Admission:
        client = scope.get("client")
        origin = referer = request_method = authorization = cookie = csrf = host = None
        for key, value in scope["headers"]:
            if key == b"host":
                host = value.decode("latin-1")
            elif key == b"origin":
                origin = value.decode("latin-1")
            elif key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"cookie":
                cookie = value.decode("latin-1")
            elif key == b"referer":
                referer = value.decode("latin-1")
            elif key == b"access-control-request-method":
                request_method = value.decode("latin-1")
            elif key == CSRF_HEADER:
                csrf = value.decode("latin-1")
        address = client[0] if client else "unknown"
        method: str = scope["method"]
        if method == "OPTIONS" and request_method is not None and origin is not None:
            allowed = origin in self.origins or origin in self.credentials.tables.origins
            cors = self._cors(origin) if allowed else ()
            early = self._preflight(scope, allowed, request_method, cors)
            return Admission(Caller(address, origin), early=early)

        level = self.table.level(method, scope["path"]) if self.table else Access.admin
        query: bytes = scope.get("query_string", b"")
        in_url = None
        if b"key=" in query:
            in_url, rest = self._key_param(query)
            scope["query_string"] = rest  # nothing after this sees the key, the log neither
        principal, session_csrf, problem = self._authenticate(authorization, cookie, in_url)
        caller = Caller(address, origin, principal)
        allowed = origin is not None and (
            origin in self.origins or (principal is not None and origin in principal.origins)
        )
        cors = self._cors(origin) if allowed and origin is not None else ()
        if problem is not None and level > Access.open:  # signing in needs no key
            return self._refuse(caller, cors, 401, *problem)
        if level is Access.public and b"version=" in query and self._names_draft(scope):
            level = Access.viewer  # the public map is the version in force
        if principal is not None and principal.embedding and level > Access.open:
            seen = origin or (_origin_of(referer) if referer else None)
            # The embed page's own requests come from this server's origin, inside the
            # frame of a page of the key's origins (which frame-ancestors enforces).
            own = seen is not None and host is not None and urlsplit(seen).netloc == host
            if seen not in principal.origins and not own:
                return self._refuse(
                    caller,
                    cors,
                    403,
                    f"this key serves pages of {', '.join(principal.origins)} only",
                    "origin_not_allowed",
                )
        refused = self._decide(level, principal)
        if refused is not None:
            return self._refuse(caller, cors, *refused)
        if (
            session_csrf is not None
            and level > Access.open
            and method not in SAFE_METHODS
            and csrf != session_csrf
        ):
            return self._refuse(
                caller,
                cors,
                403,
                "a change made with a session sends its X-CSRF-Token (from sign-in)",
                "csrf_failed",
            )
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            # No code, name or value here holds a NUL (and PostgreSQL cannot store one):
            # said at the door, the same on both stores, rather than deep in a driver.
            return self._refuse(
                caller, cors, 400, "the URL holds a NUL character (%00)", "invalid_value"
            )
        if level is Access.public and (principal is None or principal.embedding):
            wait = self.limit.retry_after(address)
            if wait is not None:
                return self._refuse(
                    caller,
                    cors,
                    429,
                    f"too many requests without a key; try again in {wait} s",
                    "rate_limited",
                    ((b"retry-after", str(wait).encode()),),
                )
        scope[ADMITTED_KEY] = level
        return Admission(caller, cors)

    # --- the parts --------------------------------------------------------------------------
    def _authenticate(
        self, authorization: str | None, cookie: str | None, in_url: str | None
    ) -> tuple[Principal | None, str | None, tuple[str, str] | None]:
        """(principal, the session's CSRF token, or the problem: message and code)."""
        if authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None, None, ("send Authorization: Bearer <key>", "invalid_credentials")
            found = self.credentials.key(token.strip())
            if found is None:
                return None, None, ("the key is unknown, revoked or expired", "invalid_key")
            return found, None, None
        if in_url is not None:
            found = self.credentials.key(in_url)
            if found is None:
                return None, None, ("the key is unknown, revoked or expired", "invalid_key")
            if not found.embedding:
                return (
                    None,
                    None,
                    (
                        "only embedding keys (bound to origins) go in a URL; send this one "
                        "as Authorization: Bearer",
                        "key_in_url",
                    ),
                )
            return found, None, None
        if cookie is not None:
            value = cookie_parser(cookie).get(SESSION_COOKIE)
            if value:
                session = self.credentials.session(value)
                if session is not None:  # a stale cookie is no one, not an error
                    return session.principal, session.csrf, None
        return None, None, None

    def allows(self, level: Access, principal: Principal | None) -> bool:
        """Whether ``principal`` (``None``: anyone) may read what needs ``level``: for
        routes that list things of several levels, and show each caller what it may open."""
        return self._decide(level, principal) is None

    def _decide(self, level: Access, principal: Principal | None) -> tuple[int, str, str] | None:
        if level is Access.open or (level is Access.public and self.public_read):
            return None
        if principal is None:
            what = "a key or a sign-in" if level is Access.public else "a viewer key or more"
            return 401, f"this needs {what}", "unauthorized"
        if level is Access.public:
            return None
        if principal.embedding:
            return (
                403,
                "an embedding key reads what the public map shows, not data in bulk",
                "embedding_key",
            )
        need = {Access.viewer: Role.viewer, Access.editor: Role.editor, Access.admin: Role.admin}
        if principal.role < need[level]:
            return 403, f"this needs the {need[level].name} role", "forbidden_role"
        return None

    def _names_draft(self, scope: Scope) -> bool:
        """Whether ``version=`` names anything but the version in force."""
        params = parse_qsl(scope["query_string"].decode("latin-1"))
        named = [v for k, v in params if k == "version"]
        return bool(named) and any(v != self.published() for v in named)

    @staticmethod
    def _key_param(query: bytes) -> tuple[str | None, bytes]:
        """The ``key`` parameter, and the query without it, every other byte as sent."""
        parts = query.split(b"&")
        keys = [unquote(p[4:].decode("latin-1")) for p in parts if p.startswith(b"key=")]
        rest = b"&".join(p for p in parts if not p.startswith(b"key="))
        return (keys[0] if keys else None), rest

    @staticmethod
    def _cors(origin: str) -> Headers:
        return (
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", CORS_EXPOSE),
            (b"vary", b"Origin"),
        )

    @staticmethod
    def _refuse(
        caller: Caller,
        cors: Headers,
        status: int,
        message: str,
        code: str,
        extra: Headers = (),
    ) -> Admission:
        headers = (JSON, *cors, *extra, *((CHALLENGE,) if status == 401 else ()))
        return Admission(caller, early=EarlyAnswer(status, headers, _error(message, code)))

    @staticmethod
    def _preflight(scope: Scope, allowed: bool, method: str, cors: Headers) -> EarlyAnswer:
        if not allowed or method.upper() not in CORS_METHODS.split(", "):
            why = "origin" if not allowed else "method"
            body = _error(f"cross-origin {why} not allowed", f"cors_{why}_not_allowed")
            return EarlyAnswer(403, (JSON,), body)
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
