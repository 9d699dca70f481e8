"""The served app's HTTP layer (ASGI middleware, used by ``serve.py``): security headers,
and downloads served only to the browser that asked for them.

Streamlit has no setting for response headers; its ASGI mode (``st.App``) takes
middleware, which adds these to every HTTP response (pages, static files, media, health
check; the WebSocket handshake is left alone).

A download button's file is kept by Streamlit at ``/media/<id>``, an address that any
client holding it could fetch. `DownloadsForTheirBrowser` gives every browser a random
HttpOnly cookie (`BROWSER_COOKIE`); a page that builds a file grants it to the cookie of
the browser that clicked (`DOWNLOAD_GRANTS`, through ``dashboards.common.download``), for
`DOWNLOAD_LINK_SECONDS`; a ``/media/`` response is sent only to a browser holding a grant
for exactly those bytes, any other client gets 404 (403 without the cookie).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

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


# --- downloads bound to their browser ---------------------------------------------------------

BROWSER_COOKIE = "observatoire_navigateur"
"""The cookie that tells browsers apart (random, HttpOnly: the page's scripts cannot read it)."""

DOWNLOAD_LINK_SECONDS = 300
"""How long a built file can be fetched by the browser that asked for it (five minutes: the
browser fetches it at once; a later click builds it again, and audits it again)."""

_MEDIA_PREFIX = "media/"


def _digest(data: bytes | str) -> str:
    # Streamlit serves a str as its UTF-8 bytes.
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return hashlib.sha256(raw).hexdigest()


class DownloadGrants:
    """Which browser may fetch which built file, until when (in this server process)."""

    def __init__(self, seconds: float = DOWNLOAD_LINK_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._files: dict[tuple[str, str], float] = {}  # (browser, sha256) -> until
        self._paths: dict[tuple[str, str], float] = {}  # (browser, path) -> until

    def grant(self, browser: str | None, data: bytes | str, now: float | None = None) -> None:
        """Let ``browser`` (its `BROWSER_COOKIE`) fetch ``data`` for `seconds` from ``now``.
        Without a cookie (a bare ``streamlit run``, a test runtime) nothing is granted."""
        if not browser:
            return
        now = time.time() if now is None else now
        with self._lock:
            self._prune(now)
            self._files[(browser, _digest(data))] = now + self.seconds

    def allows_body(self, browser: str, path: str, body: bytes,
                    now: float | None = None) -> bool:  # fmt: skip
        """Whether ``browser`` was granted ``body``; the ``path`` that served it is then
        remembered for the same browser (a second fetch, a HEAD, a range) until the grant
        ends."""
        now = time.time() if now is None else now
        with self._lock:
            until = self._files.get((browser, _digest(body)), 0.0)
            if until <= now:
                return False
            self._paths[(browser, path)] = max(until, self._paths.get((browser, path), 0.0))
            return True

    def allows_path(self, browser: str, path: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            return self._paths.get((browser, path), 0.0) > now

    def _prune(self, now: float) -> None:
        for table in (self._files, self._paths):
            for key in [k for k, until in table.items() if until <= now]:
                del table[key]


DOWNLOAD_GRANTS = DownloadGrants()
"""The grants of this server process (the pages and the middleware run in it)."""


def _request_cookie(scope, name: str) -> str | None:  # noqa: ANN001 - ASGI scope
    # Split by hand: http.cookies drops every cookie after one it cannot parse (another
    # application on the same host may set such a cookie).
    for key, value in scope.get("headers", []):
        if key.lower() == b"cookie":
            for pair in value.decode("latin-1").split(";"):
                cookie, _, content = pair.strip().partition("=")
                if cookie == name and content.strip():
                    return content.strip()
    return None


def _is_https(scope) -> bool:  # noqa: ANN001 - ASGI scope
    if scope.get("scheme") == "https":
        return True
    forwarded = dict(scope.get("headers", [])).get(b"x-forwarded-proto", b"")
    return forwarded.decode("latin-1").split(",")[0].strip().lower() == "https"


def _media_prefix() -> str:
    try:
        from streamlit import config

        base = (config.get_option("server.baseUrlPath") or "").strip("/")
    except Exception:  # noqa: BLE001 - no Streamlit configuration: the default address
        base = ""
    return f"/{base}/{_MEDIA_PREFIX}" if base else f"/{_MEDIA_PREFIX}"


async def _refuse(send, status: int) -> None:  # noqa: ANN001 - ASGI send
    body = "Fichier introuvable ou lien expiré : cliquez de nouveau sur le bouton de " \
           "téléchargement dans l'application.".encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class DownloadsForTheirBrowser:
    """ASGI middleware: every browser gets its `BROWSER_COOKIE`; a ``/media/`` response is
    sent only to the browser `DOWNLOAD_GRANTS` allows (see the module's docstring)."""

    def __init__(self, app, grants: DownloadGrants | None = None) -> None:  # noqa: ANN001
        self.app = app
        self.grants = grants if grants is not None else DOWNLOAD_GRANTS

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        browser = _request_cookie(scope, BROWSER_COOKIE)
        if scope.get("path", "").startswith(_media_prefix()):
            await self._media(scope, receive, send, browser)
            return
        if browser:
            await self.app(scope, receive, send)
            return
        cookie = (f"{BROWSER_COOKIE}={secrets.token_hex(16)}; Path=/; HttpOnly; "
                  "SameSite=Strict" + ("; Secure" if _is_https(scope) else ""))  # fmt: skip

        async def send_with_cookie(message) -> None:  # noqa: ANN001 - ASGI message
            if message.get("type") == "http.response.start":
                headers = [*message.get("headers", []),
                           (b"set-cookie", cookie.encode("latin-1"))]  # fmt: skip
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _media(self, scope, receive, send, browser: str | None) -> None:  # noqa: ANN001
        if not browser:
            await _refuse(send, 403)
            return
        path = scope["path"]
        if self.grants.allows_path(browser, path):
            await self.app(scope, receive, send)
            return
        if scope.get("method", "GET") != "GET":
            await _refuse(send, 404)
            return
        # The whole file, uncompressed, to compare with what was granted: no gzip, no range.
        headers = [(k, v) for k, v in scope.get("headers", [])
                   if k.lower() not in (b"accept-encoding", b"range")]  # fmt: skip
        start: dict | None = None
        chunks: list[bytes] = []

        async def keep(message) -> None:  # noqa: ANN001 - ASGI message
            nonlocal start
            if message.get("type") == "http.response.start":
                start = message
            elif message.get("type") == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app({**scope, "headers": headers}, receive, keep)
        body = b"".join(chunks)
        if start is None or start.get("status") != 200 or not self.grants.allows_body(
            browser, path, body
        ):
            await _refuse(send, 404)
            return
        await send(start)
        await send({"type": "http.response.body", "body": body})
