"""/usage and /auth/token."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from facedubd.api.auth import Principal, require, state_of
from facedubd.api.routes.jobs import month_start
from facedubd.api.schemas import Problem, TokenOut, TokenRequest, Usage
from facedubd.api.security import make_stream_token
from facedubd.errors import NotFound

router = APIRouter(tags=["account"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (400, 401, 403, 404, 429)
}


@router.get(
    "/usage", response_model=Usage, summary="Get your current credit usage", responses=_ERRORS
)
async def usage(
    request: Request, principal: Annotated[Principal, Depends(require("other"))]
) -> Any:
    user = principal.user
    used = await state_of(request).store.credits_used(user.id, month_start(int(time.time())))
    return Usage(
        plan=user.plan,
        credits_used=used,
        credits_limit=user.credits_limit,
        bonus_credits=user.bonus_credits,
        credits_remaining=user.credits_limit + user.bonus_credits - used,
    )


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="Get a short-lived JWT for the SSE stream (all jobs, or one job)",
    responses=_ERRORS,
)
async def stream_token(
    request: Request,
    principal: Annotated[Principal, Depends(require("other"))],
    body: Annotated[TokenRequest | None, Body()] = None,
) -> Any:
    state = state_of(request)
    job_id = body.job_id if body is not None else None
    if job_id is not None and await state.store.job_for_user(principal.user.id, job_id) is None:
        raise NotFound("No such job for this account.")
    ttl = state.settings.stream_token_ttl_s
    token = make_stream_token(
        state.secrets.stream_jwt, principal.user.id, job_id, int(time.time()), ttl
    )
    return TokenOut(token=token, expires_in=ttl)
