"""Every error leaves as RFC 9457 application/problem+json with a stable `code`."""

from __future__ import annotations

import http
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from facedubd.errors import (
    FacedubError,
    InvalidDuration,
    ModelsLoading,
    ModelsUnavailable,
    RateLimited,
    StorageFull,
    Unauthorized,
)

log = logging.getLogger("facedubd.api")
PROBLEM_TYPE = "application/problem+json"
_HTTP_CODES = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 413: "file_too_large"}


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    body = {
        "type": "about:blank",
        "title": http.HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_TYPE)


def from_error(error: FacedubError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after), **error.headers}
    elif isinstance(error, ModelsLoading):
        headers = {"Retry-After": "10"}
    elif isinstance(error, Unauthorized):
        headers = {"WWW-Authenticate": 'Bearer realm="facedub"'}  # RFC 9110: say the scheme
    return problem(error.http_status, error.code, error.message, headers)


def error_response(error: FacedubError) -> Response:
    """The answer for a FacedubError: its own problem, or a plain 500 for internal ones."""
    if error.http_status >= 500 and not isinstance(
        error, ModelsLoading | ModelsUnavailable | StorageFull
    ):
        log.error("internal error %s: %s", error.code, type(error).__name__)
        return crash_response()
    return from_error(error)


def crash_response() -> Response:
    return problem(500, "internal", "Something went wrong inside the daemon.")


def _validation_detail(exc: RequestValidationError) -> tuple[str, str]:
    errors: list[Any] = list(exc.errors())
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":  # its loc is a byte offset, no field name
        return "invalid_request", "Invalid request: the body is not valid JSON."
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    if "duration" in where:
        return InvalidDuration.code, InvalidDuration().message
    message = str(first.get("msg", "invalid value"))
    return "invalid_request", f"Invalid request: {where or 'body'}: {message}."


def install(app: FastAPI) -> None:
    async def on_facedub(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, FacedubError)
        return error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        code, detail = _validation_detail(exc)
        return problem(400, code, detail)

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        code = _HTTP_CODES.get(status, "invalid_request" if status < 500 else "internal")
        detail = exc.detail if isinstance(exc.detail, str) else http.HTTPStatus(status).phrase
        return problem(status, code, detail, dict(exc.headers or {}))

    async def on_crash(_: Request, exc: Exception) -> Response:
        log.error("unhandled %s in a request", type(exc).__name__)
        return crash_response()

    app.add_exception_handler(FacedubError, on_facedub)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
