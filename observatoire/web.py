"""HTTP security headers for the served app (an ASGI middleware, used by ``serve.py``).

Streamlit has no setting for response headers; its ASGI mode (``st.App``) takes
middleware, which adds these to every HTTP response (pages, static files, media, health
check; the WebSocket handshake is left alone).
"""

from __future__ import annotations

SECURITY_HEADERS: dict[str, str] = {
    # No other site may show the app in a frame (clickjacking of the sign-in or entry pages).
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # A link followed out of the app does not carry its address (?equipe=CODE) along.
    "referrer-policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware: adds `SECURITY_HEADERS` to every HTTP response of ``app``
    (a header the app already set is kept as the app set it)."""

    def __init__(self, app) -> None:  # noqa: ANN001 - any ASGI application
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:  # noqa: ANN001 - ASGI message
            if message.get("type") == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.decode("latin-1").lower() for name, _ in headers}
                headers += [(name.encode("latin-1"), value.encode("latin-1"))
                            for name, value in SECURITY_HEADERS.items()
                            if name not in present]  # fmt: skip
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
