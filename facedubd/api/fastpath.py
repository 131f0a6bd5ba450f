"""The hot read, `GET /jobs/{job_id}`, answered in front of the framework's stack.

Scripts poll this route; FastAPI's middleware, dependency solving and response-model
validation cost more than the work itself. The front runs the very same function the
FastAPI route runs (`jobs.job_reply`) and the same error rendering, so the answers are
identical; everything else, and the OpenAPI document, stays with the app behind it."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from facedubd.api.problems import crash_response, error_response
from facedubd.api.routes.jobs import job_reply
from facedubd.errors import FacedubError

log = logging.getLogger("facedubd.api")
PREFIX = "/jobs/"


def job_read_id(scope: Scope) -> str | None:
    """The job id when `scope` is `GET /jobs/{job_id}` (one non-empty segment), else None."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX) or len(path) == len(PREFIX) or "/" in path[len(PREFIX) :]:
        return None
    return path[len(PREFIX) :]


class JobReadFront:
    """ASGI app: `GET /jobs/{job_id}` answered directly; any other request goes to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        job_id = job_read_id(scope)
        if job_id is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # what Starlette sets: request.app.state holds the AppState
        try:
            response = await job_reply(Request(scope, receive), job_id)
        except FacedubError as error:
            response = error_response(error)
        except Exception as exc:  # the app's catch-all would answer the same
            log.error("unhandled %s in a request", type(exc).__name__)
            response = crash_response()
        await response(scope, receive, send)
