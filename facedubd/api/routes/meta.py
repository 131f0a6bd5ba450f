"""/healthz and the offline /docs page (our own renderer of /openapi.json)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from facedubd.api.auth import state_of
from facedubd.api.schemas import Health
from facedubd.errors import NotFound

router = APIRouter(tags=["meta"])
_ASSETS = {"docs.js": "text/javascript", "docs.css": "text/css"}


def _static(name: str) -> str:
    return resources.files("facedubd.api").joinpath("static", name).read_text("utf-8")


@router.get(
    "/healthz",
    response_model=Health,
    response_model_exclude_none=True,
    summary="Liveness and model readiness (no auth)",
)
async def healthz(request: Request) -> Any:
    models = state_of(request).models
    return Health(status="ok", models=models.state, models_error=models.error)


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return HTMLResponse(_static("docs.html"))


@router.get("/docs/assets/{name}", include_in_schema=False)
async def docs_asset(name: str) -> Response:
    if name not in _ASSETS:
        raise NotFound("No such file.")
    return Response(_static(name), media_type=_ASSETS[name])
