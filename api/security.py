"""Headers every page carries, whichever route made it: ``nosniff`` on every answer, and
on HTML pages the frame rules — no other site may frame them (clickjacking), except
``/embed``, which exists to be framed by the systems that embed the map."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAMABLE = ("/embed",)
NO_FRAMES = "frame-ancestors 'none'"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framable = str(scope.get("path", "")).startswith(FRAMABLE)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers.append((b"x-content-type-options", b"nosniff"))
                kind = dict(headers).get(b"content-type", b"")
                if kind.startswith(b"text/html") and not framable:
                    headers.append((b"x-frame-options", b"DENY"))
                    if b"content-security-policy" in names:
                        headers = [
                            (k, v + b"; " + NO_FRAMES.encode())
                            if k.lower() == b"content-security-policy"
                            else (k, v)
                            for k, v in headers
                        ]
                    else:
                        headers.append((b"content-security-policy", NO_FRAMES.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
