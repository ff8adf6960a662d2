"""Signing in and out: a person's session, in a signed ``HttpOnly`` cookie.

``POST /api/session`` with the name and password sets the cookie and answers the CSRF
token that the page sends back in ``X-CSRF-Token`` with every change it makes; the
cookie is ``SameSite=Strict``, so another site's page cannot ride on it either.
Failed attempts per name and address pause that pair (429 with ``Retry-After``), and
four times as many from one address, whatever the names, pause the address.
"""

from __future__ import annotations

import functools
import secrets
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from api.access import Access, requires
from api.bodies import Body
from api.credentials import SESSION_COOKIE
from api.deps import CallerDep, ServicesDep
from api.responses import JSONResponse
from gridgis.credentials import hash_password, password_matches, user_principal

router = APIRouter(prefix="/api", tags=["session"], dependencies=[requires(Access.open)])


@functools.cache
def _dummy() -> str:
    """Checked against when the name is unknown, so a wrong name costs what a wrong
    password does and the answer's time does not tell which names exist."""
    return hash_password(secrets.token_urlsafe(24))


class SignIn(Body):
    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


@router.post(
    "/session",
    max_body_size=4096,
    responses={401: {"description": "Wrong name or password."}, 429: {"description": "Paused."}},
)
def sign_in(body: SignIn, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """Sign in: sets the session cookie; answers who signed in and the CSRF token."""
    credentials, settings = services.credentials, services.settings
    attempts, everyone = credentials.attempts, credentials.address_attempts
    wait = attempts.paused_for(body.name, caller.address) or everyone.paused_for("", caller.address)
    if wait is not None:
        return JSONResponse(
            {"error": f"too many failed sign-ins; try again in {wait} s", "code": "login_paused"},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    credentials.refresh()  # an account made a moment ago signs in at once
    user = credentials.tables.users.get(body.name)
    ok = password_matches(user.password_hash if user else _dummy(), body.password)
    if user is None or not ok or user.disabled:
        attempts.failed(body.name, caller.address)
        everyone.failed("", caller.address)
        return JSONResponse(
            {"error": "wrong name or password", "code": "invalid_login"}, status_code=401
        )
    attempts.succeeded(body.name, caller.address)
    cookie, csrf = credentials.sign_in(user)
    answer = JSONResponse({"user": user_principal(user).to_dict(), "csrf": csrf})
    answer.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return answer


@router.get("/session")
def who(request: Request, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    """Who this request speaks for (a key, a person, or no one), with the session's CSRF
    token for a page that reloaded."""
    principal = caller.principal
    csrf = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if principal is not None and principal.kind == "user" and cookie:
        csrf = services.credentials.csrf_of(cookie)
    return {"user": None if principal is None else principal.to_dict(), "csrf": csrf}


@router.delete("/session", status_code=204, response_class=Response)
def sign_out() -> Response:
    answer = Response(status_code=204)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer
