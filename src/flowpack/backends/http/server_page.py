"""The human pages of ``flowpack serve``: the store's refs at ``/``, grouped by kind, and the
pages the caller adds (:data:`PageRenderer`: ``flowpack serve`` adds each flow's audit view at
``/flows/{project}/{flow}``; the backend knows only that a renderer turns the location and the
path's parameters into HTML).

Flows (``flows/...``), runs (``runs/...``) and every other ref (tags), each with the digest it
points at, newest-first order being the ref store's business (names are sorted here).  The
page needs the ``read`` scope like every other read; it shows nothing a read token could not
list through ``/refs``.  Everything shown is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from flowpack.backends.http.server import authorize, state_of, translate
from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError
from flowpack.cas.location import Location
from flowpack.cas.protocols import RefStore

__all__ = ["ROUTES", "PageRenderer", "page_routes"]

#: ``render(location, path_params) -> HTML``: a page added to the server (read scope).  It may
#: raise a FlowpackError (NotFound becomes 404, and so on, as for every other route).
PageRenderer = Callable[[Location, Mapping[str, str]], str]

MAX_ROWS = 1000
GROUPS = (("Flows", "flows/"), ("Runs", "runs/"), ("Other refs", ""))
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2em .6em;"
    "border-bottom:1px solid #ddd}code{font-size:.9em}"
)


def _collect(refs: RefStore) -> list[tuple[str, Digest]]:
    out: list[tuple[str, Digest]] = []
    for item in refs.iter_refs(""):
        out.append(item)
        if len(out) >= MAX_ROWS:
            break
    return sorted(out)


def _table(title: str, rows: list[tuple[str, Digest]]) -> Iterator[str]:
    yield f"<h2>{html.escape(title)} ({len(rows)})</h2>"
    if not rows:
        yield "<p>none</p>"
        return
    yield "<table><tr><th>name</th><th>digest</th><th>size</th></tr>"
    for name, digest in rows:
        yield (
            f"<tr><td>{html.escape(name)}</td><td><code>{html.escape(str(digest))}</code></td>"
            f"<td>{digest.size}</td></tr>"
        )
    yield "</table>"


async def home(request: Request) -> Response:
    """``GET /``: an HTML overview of the served store (read scope)."""
    authorize(request, "read")
    location = state_of(request).location
    try:
        found = await run_in_threadpool(_collect, location.refs)
    except FlowpackError as exc:
        raise translate(exc, "ref listing") from None
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>flowpack store</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>flowpack store <code>{html.escape(location.url)}</code></h1>",
    ]
    taken: set[str] = set()
    for title, prefix in GROUPS:
        rows = [(n, d) for n, d in found if n.startswith(prefix) and n not in taken]
        taken.update(n for n, _ in rows)
        parts.extend(_table(title, rows))
    if len(found) >= MAX_ROWS:
        parts.append(f"<p>first {MAX_ROWS} refs shown; list them all with GET /refs</p>")
    parts.append("</body></html>")
    return HTMLResponse("".join(parts))


ROUTES = [Route("/", home, methods=["GET"])]


def page_routes(pages: Mapping[str, PageRenderer]) -> list[Route]:
    """One read-scope route per ``path -> renderer`` (a starlette path, ``{name}`` parameters)."""

    def endpoint(render: PageRenderer) -> Callable[[Request], object]:
        async def page(request: Request) -> Response:
            authorize(request, "read")
            location = state_of(request).location
            params = dict(request.path_params)
            try:
                text = await run_in_threadpool(render, location, params)
            except FlowpackError as exc:
                raise translate(exc, request.url.path) from None
            return HTMLResponse(text)

        return page

    return [Route(path, endpoint(render), methods=["GET"]) for path, render in pages.items()]
