"""The one input check, used by `POST /jobs` (before charging) and by `facedubd run`.

Everything is judged by content, never by file name. Each refusal is an `InputError` with
the code of DESIGN's table and a sentence a person understands (never a path).

Photos: EXIF orientation applied; transparency laid over white; CMYK, grey, palette and
16-bit images turned into 8-bit RGB; animations give their first frame; HEIC via
pillow-heif; anything larger than MAX_PHOTO_SIDE is downscaled as it is decoded. Of
several faces, the largest is the character.

Videos: ffprobe must read them; the clip must be at least `duration` long (one frame of
tolerance); ffmpeg must have a decoder for the codec; a face must show in frames sampled
at SAMPLE_FPS within the first `duration` seconds.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facedubd.errors import (
    FaceTooSmall,
    InvalidDuration,
    NoFaceInPhoto,
    NoFaceInVideo,
    PipelineError,
    UnreadablePhoto,
    UnreadableVideo,
    UnsupportedCodec,
    VideoTooShort,
)
from facedubd.pipeline import ffmpeg_args as fa
from facedubd.pipeline.media import FrameReader, VideoInfo, probe

MIN_DURATION, MAX_DURATION = 1, 30
#: Photos are downscaled to at most this many pixels on their long side.
MAX_PHOTO_SIDE = 2048
#: The smallest usable face in the photo, pixels across (after any downscale).
MIN_FACE_PX = 64
#: Frames a second looked at when checking that the video shows a face.
SAMPLE_FPS = 2


@dataclasses.dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)


@dataclasses.dataclass(frozen=True)
class PhotoCheck:
    rgb: np.ndarray  # H x W x 3 uint8, upright
    face: Box  # the largest face, in `rgb` pixels
    original_size: tuple[int, int]  # (width, height) as stored, before any downscale


@dataclasses.dataclass(frozen=True)
class VideoCheck:
    info: VideoInfo
    first_face_s: float  # time of the first sampled frame showing a face


@dataclasses.dataclass(frozen=True)
class InputCheck:
    photo: PhotoCheck
    video: VideoCheck
    duration: int


def validate_duration(value: object) -> int:
    """A whole number of seconds from 1 to 30 (ints, or text such as "10"), else
    InvalidDuration."""
    if isinstance(value, bool):
        raise InvalidDuration()
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise InvalidDuration()
        value = int(text)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not MIN_DURATION <= value <= MAX_DURATION:
        raise InvalidDuration()
    return value


# --- faces --------------------------------------------------------------------------------


def find_faces(models: Any, rgb: np.ndarray) -> list[Box]:
    """Face boxes in an RGB image, largest first (helper `faces` owns the detector)."""
    from facedubd.pipeline.face import detect_faces

    boxes = [_as_box(found) for found in detect_faces(models, rgb)]
    return sorted(boxes, key=lambda box: box.area, reverse=True)


def _as_box(found: Any) -> Box:
    box = getattr(found, "box", found)
    x0, y0, x1, y1 = (float(v) for v in box)
    return Box(x0, y0, x1, y1)


# --- photos -------------------------------------------------------------------------------


def _register_heif() -> None:
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - pillow-heif is a pinned dependency
        pass


def _decode(image: Image.Image) -> Image.Image:
    """The first frame, decoded at no more than about MAX_PHOTO_SIDE (JPEG draft mode)."""
    image.seek(0)  # animated GIF / WebP: the first frame
    image.draft("RGB", (MAX_PHOTO_SIDE, MAX_PHOTO_SIDE))
    image.load()
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: alpha over white; CMYK, grey, palette, 16-bit and float converted."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float32)
        sixteen_bit = image.mode.startswith("I;16") or values.max(initial=0) > 255
        scale = 257.0 if sixteen_bit else 1.0
        grey = np.clip(values / scale + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def load_photo(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """The photo upright, as 8-bit RGB at most MAX_PHOTO_SIDE on its long side, and its
    stored size. UnreadablePhoto when it is not an image Pillow can decode."""
    if not path.is_file():
        raise UnreadablePhoto("The photo file cannot be found.")
    if path.stat().st_size == 0:
        raise UnreadablePhoto("The photo file is empty.")
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                stored = image.size
                upright = ImageOps.exif_transpose(_decode(image)) or image
                rgb = _to_rgb(upright)
    except Image.DecompressionBombError:
        raise UnreadablePhoto("The photo is far too large to be a portrait.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise UnreadablePhoto() from None
    if max(rgb.size) > MAX_PHOTO_SIDE:
        rgb.thumbnail((MAX_PHOTO_SIDE, MAX_PHOTO_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(rgb, dtype=np.uint8).copy(), stored


def check_photo(path: Path, models: Any) -> PhotoCheck:
    """Decode the photo and find the character's face (the largest one)."""
    rgb, stored = load_photo(path)
    faces = find_faces(models, rgb)
    if not faces:
        raise NoFaceInPhoto(
            "No face was found in the photo: use a clear photo of one person facing the camera."
        )
    face = faces[0]
    if face.width < MIN_FACE_PX:
        raise FaceTooSmall(
            f"The face in the photo is too small ({face.width:.0f} pixels across); it must be "
            f"at least {MIN_FACE_PX} pixels across: use a closer or larger photo."
        )
    return PhotoCheck(rgb=rgb, face=face, original_size=stored)


# --- videos -------------------------------------------------------------------------------


def seconds_phrase(seconds: float) -> str:
    """3 -> "3 s", 2.4 -> "2.4 s", 0.0417 -> "0.04 s"."""
    text = f"{seconds:.2f}".rstrip("0").rstrip(".")
    return f"{text} s"


def check_length(info: VideoInfo, duration: int) -> None:
    """VideoTooShort unless the clip is at least `duration` long, less one frame."""
    if info.duration + info.frame_duration + 1e-6 < duration:
        raise VideoTooShort(
            f"The video is {seconds_phrase(info.duration)} long, shorter than the "
            f"{duration} s asked for: send a clip at least {duration} s long or ask for "
            "a shorter duration."
        )


def decode_failure(detail: str, codec: str) -> UnreadableVideo | UnsupportedCodec:
    """Turn ffmpeg's stderr after a failed decode into the error a person reads."""
    lowered = detail.lower()
    if "decoder" in lowered and "not found" in lowered:
        return UnsupportedCodec(
            f"The video uses the {codec} codec, which this machine's ffmpeg cannot decode: "
            "convert it to H.264 first."
        )
    return UnreadableVideo("The video could not be decoded: the file may be damaged.")


def sample_frames(path: Path, info: VideoInfo, duration: float) -> Iterable[np.ndarray]:
    """Frames at SAMPLE_FPS over the first `duration` seconds, upright, streamed."""
    spec = info.decode_spec(duration)
    reader = FrameReader(fa.sample_args(path, spec, SAMPLE_FPS), info.width, info.height)
    try:
        with reader:
            yield from reader
    except PipelineError:
        raise decode_failure(reader.detail, info.codec) from None


def check_video(path: Path, duration: int, models: Any) -> VideoCheck:
    """Probe by content, check length and codec, and look for a face in sampled frames."""
    if not path.is_file():
        raise UnreadableVideo("The video file cannot be found.")
    if path.stat().st_size == 0:
        raise UnreadableVideo("The video file is empty.")
    info = probe(path)
    check_length(info, duration)
    decoded = 0
    for index, frame in enumerate(sample_frames(path, info, float(duration))):
        decoded += 1
        if find_faces(models, frame):
            return VideoCheck(info=info, first_face_s=index / SAMPLE_FPS)
    if decoded == 0:
        raise UnreadableVideo("No picture could be decoded from the video: it may be damaged.")
    raise NoFaceInVideo(
        f"No face was found in the first {duration} s of the video: the reference must show "
        "a person's face."
    )


def check_inputs(photo: Path, video: Path, duration: object, models: Any) -> InputCheck:
    """Every refusal, in the order a person would fix them: duration, photo, video."""
    seconds = validate_duration(duration)
    photo_check = check_photo(photo, models)
    video_check = check_video(video, seconds, models)
    return InputCheck(photo=photo_check, video=video_check, duration=seconds)
