"""/jobs: submit, list, read, stream, cancel, delete."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from facedubd.api.auth import Principal, authenticate, check_account, require, state_of
from facedubd.api.schemas import JobCreated, JobOut, Problem
from facedubd.api.security import read_stream_token
from facedubd.api.state import AppState
from facedubd.api.upload import FileLimit, Upload, receive_form
from facedubd.api.views import base_url, job_created, job_fields, job_out
from facedubd.errors import (
    ConcurrencyLimit,
    CreditsExhausted,
    InvalidRequest,
    JobFinished,
    ModelsLoading,
    ModelsUnavailable,
    NotFound,
    Unauthorized,
)
from facedubd.paths import ensure_private_dir
from facedubd.pipeline.types import DEFAULT_DURATION_S
from facedubd.store import IdempotentReplay, Job, NewJob

router = APIRouter(tags=["jobs"])
PHOTO_FIELD = "character_photo"
VIDEO_FIELD = "reference_video"
IDEMPOTENCY_TTL_S = 86400
JOB_ID = re.compile(r"^[0-9a-f]{12}$")
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in {
        400: "Bad request: invalid parameters or refused input",
        401: "Missing or invalid API key",
        403: "Plan without API access, account suspended, or credits exhausted",
        404: "No such job for this account",
        429: "Rate or concurrency limit",
    }.items()
}

_FORM_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [PHOTO_FIELD, VIDEO_FIELD],
                    "properties": {
                        PHOTO_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "Photo of the character (JPG, PNG, WebP)",
                        },
                        VIDEO_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "Reference video with motion to replicate",
                        },
                        "duration": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 30,
                            "default": 5,
                            "description": "Video duration in seconds (1-30, default 5)",
                        },
                    },
                }
            }
        },
    }
}


def month_start(now: int) -> int:
    moment = datetime.fromtimestamp(now, UTC)
    return int(moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())


def credits_for(duration: int, seconds_per_credit: int) -> int:
    return math.ceil(duration / seconds_per_credit)


async def _precheck(state: AppState, principal: Principal) -> None:
    """Cheap refusals before reading a large body (the transaction checks again)."""
    if state.models.failed:
        raise ModelsUnavailable()
    user = principal.user
    if await state.store.count_active_jobs(user.id) >= state.settings.max_active_jobs:
        raise ConcurrencyLimit(
            f"This account already has {state.settings.max_active_jobs} active jobs; "
            "wait for one to finish before submitting another."
        )
    if not user.overage_enabled:
        used = await state.store.credits_used(user.id, month_start(int(time.time())))
        if used >= user.credits_limit + user.bonus_credits:
            raise CreditsExhausted()


def _duration(upload: Upload) -> int:
    from facedubd.pipeline.inputs import validate_duration

    value: int = validate_duration(upload.fields.get("duration", str(DEFAULT_DURATION_S)))
    return value


def _require_files(upload: Upload) -> tuple[Path, Path]:
    missing = [f for f in (PHOTO_FIELD, VIDEO_FIELD) if f not in upload.files]
    if missing:
        raise InvalidRequest(f"Missing file field(s): {', '.join(missing)}.")
    return upload.files[PHOTO_FIELD], upload.files[VIDEO_FIELD]


async def _models(state: AppState) -> Any:
    """The face models; a request that finds them loading waits `models_wait_s` at most
    (503 models_loading, retry later); failed models are 503 models_unavailable, final."""
    if not state.models.ready and not await state.models.wait(state.settings.models_wait_s):
        raise ModelsUnavailable() if state.models.failed else ModelsLoading()
    return state.models.value


def _check_inputs(photo: Path, video: Path, duration: int, models: Any) -> None:
    from facedubd.pipeline.inputs import check_inputs

    check_inputs(photo, video, duration, models)


async def _replay(state: AppState, user_id: str, key: str | None, digest: str) -> Response | None:
    if key is None:
        return None
    record = await state.store.idempotency(user_id, key, int(time.time()) - IDEMPOTENCY_TTL_S)
    if record is None:
        return None
    if record.request_hash != digest:
        from facedubd.errors import IdempotencyConflict

        raise IdempotencyConflict()
    return JSONResponse(record.response, headers={"Idempotent-Replayed": "true"})


@router.post(
    "/jobs",
    response_model=JobCreated,
    summary="Create a new video generation job",
    responses={
        **_ERRORS,
        409: {"model": Problem},
        413: {"model": Problem},
        503: {"model": Problem},
    },
    openapi_extra=_FORM_SCHEMA,
)
async def create_job(
    request: Request,
    principal: Annotated[Principal, Depends(require("post_jobs"))],
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Any:
    state = state_of(request)
    await _precheck(state, principal)
    staging = ensure_private_dir(state.uploads_dir()) / secrets.token_hex(8)
    ensure_private_dir(staging)
    try:
        limits = [
            FileLimit(PHOTO_FIELD, int(state.settings.max_photo_mb * 1_000_000), "photo"),
            FileLimit(VIDEO_FIELD, int(state.settings.max_video_mb * 1_000_000), "video"),
        ]
        upload = await receive_form(
            request.stream(), request.headers.get("content-type"), staging, limits
        )
        duration = _duration(upload)
        photo, video = _require_files(upload)
        replay = await _replay(state, principal.user.id, idempotency_key, upload.request_hash())
        if replay is not None:
            return replay
        models = await _models(state)
        await asyncio.to_thread(_check_inputs, photo, video, duration, models)
        return await _admit(state, principal, staging, duration, idempotency_key, upload)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


async def _admit(
    state: AppState,
    principal: Principal,
    staging: Path,
    duration: int,
    idempotency_key: str | None,
    upload: Upload,
) -> Any:
    job_id = secrets.token_hex(6)
    job_dir = ensure_private_dir(state.jobs_dir() / job_id)
    inputs = ensure_private_dir(job_dir / "inputs")
    (staging / PHOTO_FIELD).rename(inputs / "photo")
    (staging / VIDEO_FIELD).rename(inputs / "video")
    now = int(time.time())
    new = NewJob(
        id=job_id,
        user_id=principal.user.id,
        duration_seconds=duration,
        credits=credits_for(duration, state.settings.seconds_per_credit),
        max_active_jobs=state.settings.max_active_jobs,
        month_start=month_start(now),
        now=now,
        idempotency_key=idempotency_key,
        request_hash=upload.request_hash() if idempotency_key else None,
    )
    try:
        job = await state.store.create_job(new, lambda j: job_created(j).model_dump())
    except IdempotentReplay as replay:
        shutil.rmtree(job_dir, ignore_errors=True)
        return JSONResponse(replay.record.response, headers={"Idempotent-Replayed": "true"})
    except BaseException:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    if state.runner is not None:
        state.runner.wake()
    return job_created(job)


def _valid_id(job_id: str) -> str:
    if not JOB_ID.match(job_id):
        raise NotFound("No such job for this account.")
    return job_id


async def _job(state: AppState, user_id: str, job_id: str) -> Job:
    job = await state.store.job_for_user(user_id, _valid_id(job_id))
    if job is None:
        raise NotFound("No such job for this account.")
    return job


@router.get(
    "/jobs",
    response_model=list[JobOut],
    summary="List your recent jobs (up to 50), newest first",
    responses=_ERRORS,
)
async def list_jobs(
    request: Request,
    principal: Annotated[Principal, Depends(require("get_jobs"))],
    limit: Annotated[int, Query(ge=1, le=50)] = 50,
    before: Annotated[str | None, Query(description="a job id: list the jobs after it")] = None,
) -> Any:
    state = state_of(request)
    anchor = await _job(state, principal.user.id, before) if before is not None else None
    jobs = await state.store.list_jobs(principal.user.id, limit, anchor)
    base = base_url(state, request)
    return [job_out(state, job, base) for job in jobs]


async def job_reply(request: Request, job_id: str) -> Response:
    """GET /jobs/{job_id}: authenticate, check the account, count a `get_jobs` hit, read.

    Plain functions and a JSON body built directly: the hot path (api/fastpath.py runs
    it in front of the framework; the route below runs it too)."""
    state = state_of(request)
    principal = await authenticate(request)
    check_account(principal.user)
    decision = state.limits.get_jobs.hit(principal.user.id, time.monotonic())
    job = await _job(state, principal.user.id, job_id)
    body = job_fields(state, job, base_url(state, request))
    return JSONResponse(body, headers=decision.headers())


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    summary="Get status of a specific job",
    responses=_ERRORS,
)
async def get_job(request: Request, job_id: str) -> Any:
    return await job_reply(request, job_id)


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobOut,
    summary="Cancel a queued or running job (credits are refunded)",
    responses={**_ERRORS, 409: {"model": Problem}},
)
async def cancel_job(
    request: Request,
    job_id: str,
    principal: Annotated[Principal, Depends(require("other"))],
) -> Any:
    state = state_of(request)
    job = await _job(state, principal.user.id, job_id)
    if job.finished:
        raise JobFinished()
    cancelled = await _cancel(state, job)
    if cancelled is None:
        raise JobFinished()
    return job_out(state, cancelled, base_url(state, request))


async def _cancel(state: AppState, job: Job) -> Job | None:
    failed = await state.store.fail_job(
        job.id, "The job was cancelled.", "cancelled", int(time.time())
    )
    if failed is not None:
        if state.runner is not None:
            await state.runner.cancel(job.id)
        state.bus.notify(job.id)
    return failed


@router.delete(
    "/jobs/{job_id}",
    status_code=204,
    summary="Delete a job, its files, output and artifacts (cancelling it first)",
    responses=_ERRORS,
)
async def delete_job(
    request: Request,
    job_id: str,
    principal: Annotated[Principal, Depends(require("other"))],
) -> Response:
    state = state_of(request)
    job = await _job(state, principal.user.id, job_id)
    if not job.finished:
        await _cancel(state, job)
    await state.store.delete_job(job.id, int(time.time()))
    shutil.rmtree(state.jobs_dir() / job.id, ignore_errors=True)
    state.bus.notify(job.id)
    return Response(status_code=204)


async def _stream_user(state: AppState, request: Request, token: str | None, job_id: str) -> str:
    if not token:
        raise Unauthorized("The stream needs a token from POST /auth/token in ?token=.")
    user_id = read_stream_token(state.secrets.stream_jwt, token, job_id)
    user = await state.store.user_by_id(user_id)
    if user is None:
        raise Unauthorized()
    check_account(user)
    state.limits.get_jobs.hit(user.id, time.monotonic())
    return user.id


@router.get(
    "/jobs/{job_id}/stream",
    summary="SSE stream of real-time job status updates (JWT in ?token=)",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **_ERRORS,
    },
)
async def stream_job(
    request: Request,
    job_id: str,
    token: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    state = state_of(request)
    user_id = await _stream_user(state, request, token, job_id)
    job = await _job(state, user_id, job_id)
    seen = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    return EventSourceResponse(
        _events(state, request, job, seen),
        ping=max(1, math.ceil(state.settings.sse_keepalive_s)),
        headers={"Cache-Control": "no-store"},
    )


async def _events(
    state: AppState, request: Request, job: Job, seen: int
) -> AsyncIterator[dict[str, str]]:
    base = base_url(state, request)
    current: Job | None = job
    while current is not None:
        waiter = state.bus.waiter(current.id)
        if current.version > seen:
            seen = current.version
            body = job_out(state, current, base).model_dump()
            yield {"event": "job", "id": str(current.version), "data": json.dumps(body)}
        if current.finished:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), timeout=1.0)
        current = await state.store.job_for_user(current.user_id, current.id)
