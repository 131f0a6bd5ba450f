"""The wire contract: field names and types exactly as the spec's examples, plus DESIGN's
additions (progress, error_code, artifacts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from facedubd.pipeline.types import Stage

JobStatus = Literal["queued", "processing", "completed", "failed"]
#: The pipeline's stage names are the wire's (one list, in facedubd.pipeline.types).
JobStage = Stage


class Problem(BaseModel):
    """An RFC 9457 problem document; `code` is stable, `detail` is for a person."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str


class JobCreated(BaseModel):
    job_id: str
    status: JobStatus
    credits_charged: int
    is_overage: bool


class JobOut(BaseModel):
    id: str
    status: JobStatus
    stage: JobStage
    output_url: str | None
    created_at: int
    error: str | None
    duration_seconds: int
    credits_charged: int
    progress: float = Field(ge=0, le=1)
    error_code: str | None
    artifacts: dict[str, str] = Field(
        description="Signed URLs of the preview and the character's views, once made."
    )


class Usage(BaseModel):
    plan: str
    credits_used: int
    credits_limit: int
    bonus_credits: int
    credits_remaining: int


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)


class KeyCreated(BaseModel):
    id: str
    name: str
    key: str
    prefix: str
    created_at: int


class KeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: int
    last_used_at: int | None


class KeyRevoked(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: int
    revoked_at: int


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: str | None = None


class TokenOut(BaseModel):
    token: str
    expires_in: int


class Health(BaseModel):
    status: Literal["ok"]
    models: Literal["ready", "loading", "failed"]
    #: only with "failed": the failure's code (model_error, device_unavailable); the log says why
    models_error: str | None = None
