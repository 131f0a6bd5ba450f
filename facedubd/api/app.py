"""The ASGI app: one FastAPI instance over an AppState the server builds."""

from __future__ import annotations

from fastapi import FastAPI

from facedubd.api import problems
from facedubd.api.routes import account, files, jobs, keys, meta
from facedubd.api.state import AppState

DESCRIPTION = (
    "Programmatic access to FaceDub video generation, self-hosted. Authenticate with "
    "`Authorization: Bearer fdb_...`; errors are RFC 9457 problem documents with a `code`."
)


def create_app(state: AppState) -> FastAPI:
    app = FastAPI(
        title="facedubd",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.facedubd = state
    problems.install(app)
    for module in (meta, jobs, keys, account, files):
        app.include_router(module.router)
    return app
