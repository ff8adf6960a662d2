"""Headers every page carries, whichever route made it: ``nosniff`` on every answer, and
on HTML pages the frame rules — no other site may frame them (clickjacking), except
``/embed``, which exists to be framed by the systems that embed the map: by any site when
it is public, and opened with an embedding key, only by that key's origins."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.policy import CALLER_KEY

FRAMABLE = ("/embed",)
NO_FRAMES = "frame-ancestors 'none'"


def _with_frame_rule(headers: list[tuple[bytes, bytes]], rule: str) -> list[tuple[bytes, bytes]]:
    """The page's CSP with ``rule`` added (or a CSP of ``rule`` alone)."""
    if any(k.lower() == b"content-security-policy" for k, _ in headers):
        return [
            (k, v + b"; " + rule.encode()) if k.lower() == b"content-security-policy" else (k, v)
            for k, v in headers
        ]
    return [*headers, (b"content-security-policy", rule.encode())]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framable = str(scope.get("path", "")).startswith(FRAMABLE)
        caller = scope.get(CALLER_KEY)
        origins = caller.principal.origins if caller and caller.principal else ()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                kind = dict(headers).get(b"content-type", b"")
                if kind.startswith(b"text/html") and framable and origins:
                    headers = _with_frame_rule(headers, "frame-ancestors " + " ".join(origins))
                if kind.startswith(b"text/html") and not framable:
                    headers.append((b"x-frame-options", b"DENY"))
                    headers = _with_frame_rule(headers, NO_FRAMES)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
