"""Who may see and change the admin page: a bearer token, or a login cookie made from it.

Every path but ``/health``, ``/login`` and the stylesheet needs the admin token when one is
set: either ``Authorization: Bearer TOKEN`` (scripts, Prometheus) or the HttpOnly,
SameSite=Strict cookie that ``POST /login`` sets. The cookie holds an HMAC derived from the
token and a per-process salt, never the token itself, so a restart or a new token signs
everyone out.

Forms are protected against cross-site requests three ways: the cookie is SameSite=Strict,
a POST authenticated by cookie must carry the page's ``csrf`` field (an HMAC only a page
we served contains), and a POST whose ``Origin`` names another host is refused. A POST
with a valid bearer header needs no ``csrf`` field: a browser never adds that header on
another site's behalf.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from yarl import URL

from bridgebot.web.html import Safe, fill, page

__all__ = ["COOKIE", "PUBLIC_PATHS", "Auth", "redirect"]

log = logging.getLogger("bridgebot.web")

COOKIE = "bridgebot_admin"
#: Paths anyone may fetch: health checks must work without a secret.
PUBLIC_PATHS = frozenset({"/health", "/login", "/style.css"})

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_LOGIN = """<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label>Admin token <input type="password" name="token" autocomplete="current-password"
 autofocus required></label> <button type="submit">Sign in</button></form>
<p><small>The token is the one bridgebot was started with for this page. Scripts can send
it as <code>Authorization: Bearer TOKEN</code> instead of signing in.</small></p>"""


def _digest(key: bytes, what: str) -> str:
    return hmac.new(key, what.encode(), hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def redirect(target: str) -> web.Response:
    """303 See Other: after a form post the browser fetches ``target`` with GET."""
    return web.Response(status=303, headers={"Location": target})


def _safe_next(target: str) -> str:
    # Only same-site paths: "//evil.example" or "https://…" would make /login an open redirect.
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class Auth:
    """Checks requests against the admin token (``None``: no login, forms still CSRF-safe)."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        salt = secrets.token_bytes(32)
        key = (token or "").encode() + salt
        self._session = _digest(key, "session")
        #: The value every form we render carries in its hidden ``csrf`` field.
        self.csrf = _digest(key, "csrf")

    # -- checks -------------------------------------------------------------------------

    def _bearer(self, request: web.Request) -> bool | None:
        """True/False for a right/wrong bearer header; None when there is none (or no token)."""
        header = request.headers.get("Authorization")
        if header is None or self.token is None:
            return None
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and _same(given.strip(), self.token)

    def _cookie_ok(self, request: web.Request) -> bool:
        return _same(request.cookies.get(COOKIE, ""), self._session)

    async def _form_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin and origin != "null":
            try:
                origin_host = URL(origin).host
            except ValueError:
                return False
            if origin_host is None or origin_host.lower() != (request.url.host or "").lower():
                return False
        try:
            form = await request.post()
        except ValueError:
            return False
        given = form.get("csrf")
        return isinstance(given, str) and _same(given, self.csrf)

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Refuse unauthenticated requests (401) and forged form posts (403)."""
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        by_header = self._bearer(request)
        if self.token is not None and not (by_header or self._cookie_ok(request)):
            wrong = by_header is False or COOKIE in request.cookies
            return self.unauthorized(request, wrong)
        if request.method == "POST" and not by_header and not await self._form_ok(request):
            log.warning("web: refused a form post to %s without a valid csrf field", request.path)
            body = fill(
                '<p class="error">This form came from an old page or from another site. '
                'Reload <a href="/">the admin page</a> and try again.</p>'
            )
            return web.Response(
                status=403, text=page("Form refused", body), content_type="text/html"
            )
        return await handler(request)

    def unauthorized(self, request: web.Request, wrong: bool) -> web.Response:
        """401 in the form the client reads: JSON for the API, text for metrics, else HTML."""
        headers = {"WWW-Authenticate": 'Bearer realm="bridgebot"'}
        why = "wrong admin token" if wrong else "the admin token is required"
        hint = "send Authorization: Bearer TOKEN, or sign in at /login"
        if request.path.startswith("/api/"):
            body = {"error": why, "hint": hint}
            return web.json_response(body, status=401, headers=headers)
        if request.path == "/metrics":
            return web.Response(status=401, text=f"{why}: {hint}\n", headers=headers)
        return self.login_page(request.path_qs, why, status=401, headers=headers)

    # -- login / logout -----------------------------------------------------------------

    def login_page(
        self,
        next_path: str,
        problem: str = "",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        """The sign-in form, with ``problem`` (if any) saying what went wrong."""
        error = fill('<p class="error">{p}.</p>', p=problem) if problem else Safe("")
        body = Safe(error + fill(_LOGIN, next=_safe_next(next_path)))
        text = page("Sign in to bridgebot", body)
        return web.Response(status=status, text=text, content_type="text/html", headers=headers)

    async def get_login(self, request: web.Request) -> web.Response:
        """GET /login: the form."""
        return self.login_page(request.query.get("next", "/"))

    async def post_login(self, request: web.Request) -> web.StreamResponse:
        """POST /login: a right token sets the session cookie and goes back to the page."""
        try:
            form = await request.post()
        except ValueError:
            return self.login_page("/", "could not read the form", status=400)
        target = _safe_next(str(form.get("next", "/")))
        given = form.get("token")
        if self.token is None:
            return redirect(target)
        if not isinstance(given, str) or not _same(given, self.token):
            log.warning("web: failed sign-in from %s", request.remote)
            problem = "that is not the admin token; check it and try again"
            return self.login_page(target, problem, status=401)
        response = redirect(target)
        response.set_cookie(COOKIE, self._session, httponly=True, samesite="Strict", path="/")
        return response

    async def post_logout(self, request: web.Request) -> web.StreamResponse:
        """POST /logout: forget the cookie."""
        response = redirect("/login")
        response.del_cookie(COOKIE, path="/")
        return response
