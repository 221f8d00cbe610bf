"""The browser pages the API serves itself: GraphiQL and the live odds board, with no CDN.

The scripts under static/ are built from clients/web by `npm run build` in clients/ and committed,
so the server needs no Node.js."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def graphiql_page() -> HTMLResponse:
    return HTMLResponse((STATIC / "graphiql.html").read_text())


async def _board(request: Request) -> FileResponse:
    return FileResponse(STATIC / "index.html")


def routes() -> list[Route | Mount]:
    return [Route("/", _board), Mount("/static", StaticFiles(directory=STATIC), name="static")]
