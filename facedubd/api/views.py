"""Turn rows into the wire shapes of schemas.py; file URLs are signed here, on every read."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import Request

from facedubd.api.auth import PEER_UID_KEY
from facedubd.api.schemas import JobCreated, JobOut
from facedubd.api.security import sign_file_url
from facedubd.api.state import AppState
from facedubd.store import Job

OUTPUT_NAME = "output.mp4"


def base_url(state: AppState, request: Request) -> str:
    """--public-url, else for a request over the Unix socket the TCP port's URL (a link
    to http://localhost/ would lead nowhere), else the request's own host."""
    if state.public_url:
        return state.public_url
    if PEER_UID_KEY in request.scope and state.tcp_url:
        return state.tcp_url
    return str(request.base_url)


def artifact_path(job_dir: Path, name: str) -> Path:
    """Where a job's file `name` lives: the output, the preview, or a view."""
    out = job_dir / "out"
    if name.endswith(".png"):
        return out / "views" / name
    return out / name


def job_out(state: AppState, job: Job, base: str) -> JobOut:
    return JobOut(**job_fields(state, job, base))


def job_fields(state: AppState, job: Job, base: str) -> dict[str, Any]:
    """JobOut's fields as a plain dict in wire order; URLs are signed only for files kept."""
    expires = int(time.time()) + state.settings.output_url_ttl_s
    secret = state.secrets.url_signing

    def sign(name: str) -> str:
        return sign_file_url(base, secret, job.id, name, expires)

    live = not job.files_swept
    return {
        "id": job.id,
        "status": job.status,
        "stage": job.stage,
        "output_url": sign(OUTPUT_NAME) if job.has_output and live else None,
        "created_at": job.created_at,
        "error": job.error,
        "duration_seconds": job.duration_seconds,
        "credits_charged": job.credits_charged,
        "progress": float(round(job.progress, 4)),
        "error_code": job.error_code,
        "artifacts": {Path(n).stem: sign(n) for n in job.artifacts} if live else {},
    }


def job_created(job: Job) -> JobCreated:
    return JobCreated(
        job_id=job.id,
        status=job.status,  # type: ignore[arg-type]
        credits_charged=job.credits_charged,
        is_overage=job.is_overage,
    )
