"""The daemon's one error hierarchy. Each class has a stable `code` and an HTTP status;
its docstring is the default sentence a person reads."""

from __future__ import annotations

from typing import ClassVar


class FacedubError(Exception):
    """Something went wrong inside facedub."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str | None = None) -> None:
        doc = (type(self).__doc__ or "").strip()
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
