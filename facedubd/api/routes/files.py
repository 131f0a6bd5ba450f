"""Signed output and artifact URLs: no API key, like a CDN link; Range supported."""

from __future__ import annotations

import re
import time

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from facedubd.api.auth import state_of
from facedubd.api.schemas import Problem
from facedubd.api.security import check_file_signature
from facedubd.api.views import artifact_path
from facedubd.errors import LinkExpired, LinkInvalid

router = APIRouter(tags=["files"])
_NAME = re.compile(r"^[a-z_]+\.(mp4|jpg|png)$")
_MEDIA = {"mp4": "video/mp4", "jpg": "image/jpeg", "png": "image/png"}


@router.get(
    "/files/{job_id}/{name}",
    summary="Download a job's output or artifact through a signed URL",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}, "image/jpeg": {}, "image/png": {}}},
        206: {"description": "Partial content (Range)"},
        403: {"model": Problem},
        410: {"model": Problem},
    },
)
# HEAD (size and type, no body) is what players and download tools ask first; kept out
# of the schema, where it would only repeat GET
@router.head("/files/{job_id}/{name}", include_in_schema=False)
async def download(
    request: Request, job_id: str, name: str, expires: str = "", signature: str = ""
) -> FileResponse:
    state = state_of(request)
    if not _NAME.match(name):
        raise LinkInvalid()
    check_file_signature(
        state.secrets.url_signing, job_id, name, expires, signature, int(time.time())
    )
    job = await state.store.job_by_id(job_id)
    path = artifact_path(state.jobs_dir() / job_id, name)
    if job is None or job.files_swept or not path.is_file():
        days = state.settings.output_retention_days
        raise LinkExpired(
            "This file has been deleted: its job was deleted, or its "
            f"{days:g}-day retention period ended."
        )
    return FileResponse(path, media_type=_MEDIA[name.rsplit(".", 1)[1]])
