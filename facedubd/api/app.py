"""The ASGI app: one FastAPI instance over an AppState the server builds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from facedubd.api import problems
from facedubd.api.routes import account, files, jobs, keys, meta
from facedubd.api.state import AppState

DESCRIPTION = (
    "Programmatic access to FaceDub video generation, self-hosted. Authenticate with "
    "`Authorization: Bearer fdb_...`; errors are RFC 9457 problem documents with a `code`."
)


def problem_documents(spec: dict[str, Any]) -> dict[str, Any]:
    """Errors leave as application/problem+json and never as the framework's 422: say so."""
    for operation in (op for path in spec.get("paths", {}).values() for op in path.values()):
        responses = operation.get("responses", {})
        responses.pop("422", None)
        for status, response in responses.items():
            content = response.get("content", {})
            if status[0] in "45" and "application/json" in content:
                content["application/problem+json"] = content.pop("application/json")
    schemas = spec.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return spec


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_documents(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    return build


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
    for module in (jobs, meta, keys, account, files):  # the busiest routes match first
        app.include_router(module.router)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app
