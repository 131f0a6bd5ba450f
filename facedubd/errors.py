"""The daemon's one error hierarchy. Each class has a stable `code` and an HTTP status;
its docstring is the default sentence a person reads."""

from __future__ import annotations

from typing import ClassVar


class FacedubError(Exception):
    """Something went wrong inside facedub."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str | None = None) -> None:
        doc = " ".join((type(self).__doc__ or "").split())  # a wrapped docstring: one line
        self.message = message or doc
        super().__init__(self.message)


class InvalidRequest(FacedubError):
    """The request is not valid."""

    code = "invalid_request"
    http_status = 400


class InputError(FacedubError):
    """An input file was refused before anything was charged."""

    http_status = 400


class UnreadablePhoto(InputError):
    """The photo could not be read as an image (JPG, PNG, WebP, HEIC, GIF)."""

    code = "unreadable_photo"


class UnreadableVideo(InputError):
    """The video could not be read: it is not a video file, or it is damaged."""

    code = "unreadable_video"


class UnsupportedCodec(InputError):
    """The video uses a codec this machine's ffmpeg cannot decode."""

    code = "unsupported_codec"


class NoFaceInPhoto(InputError):
    """No face was found in the photo."""

    code = "no_face_in_photo"


class FaceTooSmall(InputError):
    """The face in the photo is too small to use."""

    code = "face_too_small"


class NoFaceInVideo(InputError):
    """No face was found in the video."""

    code = "no_face_in_video"


class VideoTooShort(InputError):
    """The video is shorter than the requested duration."""

    code = "video_too_short"


class InvalidDuration(InputError):
    """duration must be a whole number of seconds from 1 to 30."""

    code = "invalid_duration"


class ModelError(FacedubError):
    """A model could not be fetched, verified, converted or loaded."""

    code = "model_error"


class DeviceUnavailable(FacedubError):
    """The requested compute device is not available."""

    code = "device_unavailable"


class PipelineError(FacedubError):
    """The video could not be generated."""

    code = "pipeline_failed"


class Cancelled(FacedubError):
    """The job was cancelled."""

    code = "cancelled"


class Unauthorized(FacedubError):
    """A valid API key is required: send `Authorization: Bearer fdb_...`."""

    code = "unauthorized"
    http_status = 401


class PlanNoApi(FacedubError):
    """This account's plan has no API access; the Agency plan does."""

    code = "plan_no_api"
    http_status = 403


class AccountSuspended(FacedubError):
    """This account is suspended."""

    code = "account_suspended"
    http_status = 403


class CreditsExhausted(FacedubError):
    """This month's credits are used up and overage is switched off for this account."""

    code = "credits_exhausted"
    http_status = 403

    @classmethod
    def for_job(cls, needed: int, left: int) -> CreditsExhausted:
        """A job that needs more credits than are left (some may be)."""
        if left <= 0:
            return cls()
        return cls(
            f"This job needs {needed} credits and {left} "
            f"{'is' if left == 1 else 'are'} left this month; overage is switched off for "
            "this account: ask for a shorter duration or more credits."
        )


class NotFound(FacedubError):
    """No such resource for this account."""

    code = "not_found"
    http_status = 404


class RateLimited(FacedubError):
    """Too many requests: wait and try again."""

    code = "rate_limited"
    http_status = 429

    def __init__(
        self,
        message: str | None = None,
        retry_after: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = headers or {}


class ConcurrencyLimit(FacedubError):
    """Too many active jobs: wait for one to finish before submitting another."""

    code = "concurrency_limit"
    http_status = 429


class KeyLimit(FacedubError):
    """This account already has the maximum number of active API keys; revoke one first."""

    code = "key_limit"
    http_status = 400


class FileTooLarge(FacedubError):
    """An uploaded file is larger than the limit."""

    code = "file_too_large"
    http_status = 413


class AlreadyExists(FacedubError):
    """That already exists."""

    code = "already_exists"
    http_status = 409


class IdempotencyConflict(FacedubError):
    """This Idempotency-Key was already used with a different request."""

    code = "idempotency_conflict"
    http_status = 409


class JobFinished(FacedubError):
    """The job has already finished."""

    code = "job_finished"
    http_status = 409


class ModelsLoading(FacedubError):
    """The face models are still being prepared: try again shortly."""

    code = "models_loading"
    http_status = 503


class ModelsUnavailable(FacedubError):
    """The face models could not be prepared, so no job can run (the daemon's log says why);
    retrying does not help: fix the cause and restart facedubd."""

    code = "models_unavailable"
    http_status = 503


class LinkExpired(FacedubError):
    """This link has expired or its file is gone."""

    code = "link_expired"
    http_status = 410


class LinkInvalid(FacedubError):
    """This link is not valid."""

    code = "link_invalid"
    http_status = 403


class DaemonAlreadyRunning(FacedubError):
    """Another facedubd is already listening on this socket."""

    code = "already_running"


class PipelineCrashed(FacedubError):
    """The video generator stopped unexpectedly."""

    code = "pipeline_crashed"


class Interrupted(FacedubError):
    """The daemon stopped twice while this job ran; it was not retried again."""

    code = "interrupted"


class StorageFull(FacedubError):
    """The daemon's disk is full; nothing was kept or charged. Try again once space is freed."""

    code = "storage_full"
    http_status = 507
