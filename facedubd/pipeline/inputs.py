"""The one input check, used by `POST /jobs` (before charging) and by `facedubd run`.

Everything is judged by content, never by file name. Each refusal is an `InputError` with
the code of DESIGN's table and a sentence a person understands (never a path).

Photos: EXIF orientation applied; transparency laid over white; CMYK, grey, palette and
16-bit images turned into 8-bit RGB; animations give their first frame; HEIC via
pillow-heif; anything larger than MAX_PHOTO_SIDE is downscaled as it is decoded. Of
several faces, the largest is the character.

Videos: ffprobe must read them; the clip must be at least `duration` long (one frame of
tolerance); ffmpeg must have a decoder for the codec (else `unsupported_codec` naming it);
a face must show in frames sampled at SAMPLE_FPS within the first `duration` seconds.

A face counts only when the mesh model confirms the detector (`confirmed_mesh`): lettering,
patterns and textures the detector mistakes for faces are not faces.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import json
import math
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

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
from facedubd.paths import cache_dir, ensure_private_dir, write_private_file
from facedubd.pipeline import ffmpeg_args as fa
from facedubd.pipeline.media import FrameReader, VideoInfo, run_probe, video_info, video_packet_span
from facedubd.pipeline.types import DEFAULT_DURATION_S

MIN_DURATION, MAX_DURATION = 1, 30
#: Photos are downscaled to at most this many pixels on their long side.
MAX_PHOTO_SIDE = 2048
#: The smallest usable face in the photo, pixels across (after any downscale).
MIN_FACE_PX = 64
#: Frames a second looked at when checking that the video shows a face.
SAMPLE_FPS = 2
#: How far (in face crops, about 1.5 face widths each) the followed person's face may be
#: found from where it was last seen; further faces belong to someone else.
MAX_JUMP = 1.0
#: A face lost for this many frames in a row is then searched for only on every
#: LOST_RETRY_EVERY-th frame: a clip whose face is gone for long stays cheap (the search
#: runs tiles at native resolution), while a short loss (a blink of the mesh, a hand
#: passing) is still searched for on every frame.
LOST_PATIENCE_FRAMES = 12
LOST_RETRY_EVERY = 3
#: Tiles of the native-resolution search for small faces in video frames, pixels.
FINE_TILE = 480
#: In the video check, samples searched with tiles: one in FINE_EVERY (1 a second at 2 fps).
FINE_EVERY = 2
#: A job's keyframe is chosen among about this many samples at most, spread evenly from the
#: first face on (all of them up to 5 s; every 2nd for 10 s, every 6th for 30 s): each
#: candidate costs a face search, and more of them rarely find a better frame.
KEYFRAME_CANDIDATES = 10


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
    #: The first face was found only by a tiled search (the video's faces are small).
    tiled: bool = False


#: on_faces(sample index, frame, [(detection, mesh), ...]) for each sampled frame with faces.
FacesSeen = Callable[[int, np.ndarray, list[tuple[Any, Any]]], None]


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
        if not (text.isascii() and text.isdigit()):  # "２" (full width) is a digit to Python
            raise InvalidDuration()
        value = int(text)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not MIN_DURATION <= value <= MAX_DURATION:
        raise InvalidDuration()
    return value


# --- faces --------------------------------------------------------------------------------


def fine_tiles(width: int, height: int, side: int = FINE_TILE) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) overlapping by half a tile and covering the image."""
    side = min(side, width, height)
    step = max(1, side // 2)
    xs = sorted({*range(0, max(1, width - side + 1), step), max(0, width - side)})
    ys = sorted({*range(0, max(1, height - side + 1), step), max(0, height - side)})
    return [(x, y, side) for y in ys for x in xs]


def detect_small_faces(models: Any, rgb: np.ndarray) -> list[Any]:
    """Faces down to about MIN_VIDEO_FACE_PX across, found at native resolution: the
    full-range detector on overlapping FINE_TILE px tiles (where a 40 px face is a
    twelfth of the input, not the few pixels it shrinks to in a letterboxed 1080x1920)."""
    from facedubd.pipeline.face.anchors import FULL_RANGE
    from facedubd.pipeline.face.detect import Detection, merge_detections, run_detector

    found: list[Detection] = []
    for x, y, side in fine_tiles(rgb.shape[1], rgb.shape[0]):
        offset = np.array([x, y], dtype=np.float32)
        for d in run_detector(models.full, FULL_RANGE, rgb[y : y + side, x : x + side]):
            box = (d.box[0] + x, d.box[1] + y, d.box[2] + x, d.box[3] + y)
            found.append(Detection(box, d.keypoints + offset, d.score))
    return merge_detections(found)


def search_faces(
    models: Any, rgb: np.ndarray, fine: bool = True, tiles: bool = True
) -> tuple[list[tuple[Any, Any]], bool]:
    """(detection, mesh) of each face the mesh model confirms, and whether a tiled search
    found them. The whole image first; when neither detector finds anything there,
    `tiles`: the detector's own tiles on a large image (detect_faces); then, `fine`, when
    nothing is confirmed in an image larger than a fine tile and a half, the fine tiles."""
    from facedubd.pipeline.face import confirmed_mesh, detect_faces
    from facedubd.pipeline.face.anchors import SHORT_RANGE
    from facedubd.pipeline.face.detect import TILE_MIN_LONG_SIDE, run_detector_tiled

    def confirm(detections: list[Any]) -> list[tuple[Any, Any]]:
        pairs = ((d, confirmed_mesh(models, rgb, d)) for d in detections)
        return [(d, mesh) for d, mesh in pairs if mesh is not None]

    found = detect_faces(models, rgb, tiles=False)
    confirmed = confirm(found)
    if confirmed:
        return confirmed, False
    if tiles and not found and max(rgb.shape[:2]) >= TILE_MIN_LONG_SIDE:
        confirmed = confirm(run_detector_tiled(models.short, SHORT_RANGE, rgb))
    if fine and not confirmed and max(rgb.shape[:2]) >= 1.5 * FINE_TILE:
        confirmed = confirm(detect_small_faces(models, rgb))
    return confirmed, bool(confirmed)


def confirmed_faces(models: Any, rgb: np.ndarray, fine: bool = True) -> list[tuple[Any, Any]]:
    """(detection, mesh) of each face the mesh model confirms; when the whole-image pass
    finds none in an image larger than a fine tile and a half, the tiled search."""
    return search_faces(models, rgb, fine)[0]


def find_faces(models: Any, rgb: np.ndarray, fine: bool = True) -> list[Box]:
    """Boxes of the faces in an RGB image that the mesh model confirms, largest first;
    `fine`: with the tiled search for small faces when the whole-image pass finds none."""
    boxes = [_as_box(found) for found, _ in confirmed_faces(models, rgb, fine)]
    return sorted(boxes, key=lambda box: box.area, reverse=True)


def main_face_score(box: Box, width: int, height: int) -> float:
    """How much a face is "the main person": its area, halved when its centre sits at
    the frame's edge (weight 1 at the centre, falling linearly to 0.5 at the border)."""
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    off_x = min(1.0, abs(cx - width / 2) / (width / 2))
    off_y = min(1.0, abs(cy - height / 2) / (height / 2))
    return box.area * (1.0 - 0.5 * max(off_x, off_y))


def main_of(confirmed: list[tuple[Any, Any]], rgb: np.ndarray) -> Any | None:
    """The mesh of the main person's face among confirmed (detection, mesh) pairs."""
    if not confirmed:
        return None
    height, width = rgb.shape[:2]
    boxes = [_as_box(found) for found, _ in confirmed]
    return confirmed[main_face_index(boxes, width, height)][1]


def follow_main_person(models: Any, key_mesh: Any) -> Any:
    """A tracker for the person whose face is `key_mesh` (at the keyframe): it starts
    from there and never jumps more than MAX_JUMP face crops from where that face was
    last seen (so it never moves on to another person)."""
    from facedubd.pipeline.face import FaceTracker

    roi = key_mesh.roi
    return FaceTracker(
        models,
        anchor=(roi.cx, roi.cy, roi.size),
        max_jump=MAX_JUMP,
        patience=LOST_PATIENCE_FRAMES,
        retry_every=LOST_RETRY_EVERY,
    )


def main_face_index(boxes: Iterable[Box], width: int, height: int) -> int:
    """The index of the main person's face among `boxes` (largest and most central)."""
    scores = [main_face_score(box, width, height) for box in boxes]
    if not scores:
        raise ValueError("no faces")
    return int(np.argmax(scores))


def _as_box(found: Any) -> Box:
    box = getattr(found, "box", found)
    x0, y0, x1, y1 = (float(v) for v in box)
    return Box(x0, y0, x1, y1)


# --- photos -------------------------------------------------------------------------------


@functools.cache
def _register_heif() -> bool:
    """Teach Pillow HEIF/HEIC, once; False when pillow-heif is missing."""
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - pillow-heif is a pinned dependency
        return False
    pillow_heif.register_heif_opener()
    return True


def _open_image(path: Path) -> Image.Image:
    """Image.open, with pillow-heif's opener added only when Pillow alone cannot identify
    the file: importing pillow-heif costs about 30 ms of CPU, which a job with a JPEG or
    PNG photo need not pay."""
    try:
        return Image.open(path)
    except UnidentifiedImageError:
        if not _register_heif():
            raise
        return Image.open(path)


#: How Pillow turns each EXIF orientation (2-8) upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: Modes Image.reduce works on directly; others are made RGB before shrinking.
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "CMYK", "I", "F", "I;16"})


def _decode(image: Image.Image) -> Image.Image:
    """The first frame, decoded at no more than about MAX_PHOTO_SIDE (JPEG draft mode)."""
    image.seek(0)  # animated GIF / WebP: the first frame
    # Ask for the long side only: the JPEG decoder then scales by 1/2, 1/4 or 1/8 as long
    # as that side stays at least MAX_PHOTO_SIDE.
    portrait = image.size[1] >= image.size[0]
    image.draft("RGB", (1, MAX_PHOTO_SIDE) if portrait else (MAX_PHOTO_SIDE, 1))
    image.load()
    return image


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except (TypeError, ValueError):
        return 1


def _shrink(image: Image.Image) -> Image.Image:
    """At most 2 x MAX_PHOTO_SIDE on the long side by an integer box reduction, straight
    after decoding, so the copies made afterwards (turn, colour conversion) stay small."""
    factor = max(image.size) // MAX_PHOTO_SIDE
    if factor < 2:
        return image
    if image.mode not in _REDUCIBLE:
        image = _to_rgb(image)
    return image.reduce(factor)


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


def not_a_file(what: str, path: Path) -> str:
    """Why `path` (which is not a regular file) cannot be the photo or video."""
    if path.is_dir():
        return f"The {what} is a folder, not a file."
    return f"The {what} file cannot be found."


def load_photo(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """The photo upright, as 8-bit RGB at most MAX_PHOTO_SIDE on its long side, and its
    stored size. UnreadablePhoto when it is not an image Pillow can decode."""
    if not path.is_file():
        raise UnreadablePhoto(not_a_file("photo", path))
    if path.stat().st_size == 0:
        raise UnreadablePhoto("The photo file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open_image(path) as image:
                stored = image.size
                small = _shrink(_decode(image))
                if (turn := _UPRIGHT.get(_orientation(image))) is not None:
                    small = small.transpose(turn)
                rgb = _to_rgb(small)
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
        # The default was asked for by nobody: say it is one (a 3 s clip sent without a
        # duration read "shorter than the 5 s asked for").
        which = (
            "duration (the default when none is given)"
            if duration == DEFAULT_DURATION_S
            else "duration asked for"
        )
        raise VideoTooShort(
            f"The video is {seconds_phrase(info.duration)} long, shorter than the "
            f"{duration} s {which}: send a clip at least {duration} s long or ask for "
            "a shorter duration."
        )


#: Readable names of codecs, by ffprobe's codec name or the container's fourcc.
CODEC_NAMES = {
    "h264": "H.264",
    "avc1": "H.264",
    "hevc": "HEVC (H.265)",
    "hvc1": "HEVC (H.265)",
    "hev1": "HEVC (H.265)",
    "vvc": "H.266 (VVC)",
    "vvc1": "H.266 (VVC)",
    "vvi1": "H.266 (VVC)",
    "lhv1": "MV-HEVC (layered HEVC)",
    "avs2": "AVS2",
    "avs3": "AVS3",
    "av1": "AV1",
    "vp9": "VP9",
    "prores": "Apple ProRes",
    "mpeg4": "MPEG-4 Part 2",
}


def codec_label(codec: str, tag: str = "") -> str:
    """ "HEVC (H.265)", "H.266 (VVC)"; for a codec ffprobe does not know, its fourcc."""
    name = CODEC_NAMES.get(codec) if codec not in ("", "unknown", "none") else None
    name = name or CODEC_NAMES.get(tag.lower()) or (codec if codec not in ("", "unknown") else "")
    return name or (f"unknown ({tag})" if tag else "unknown")


_DECODER_LINE = re.compile(r"^\s*V[A-Z.]{5}\s+(\S+)\s+.*?(?:\(codec (\S+)\))?\s*$")


def parse_decoders(text: str) -> frozenset[str]:
    """The video codec names `ffmpeg -decoders` can decode (a decoder's own name, and the
    codec it names in "(codec av1)" when that differs)."""
    names: set[str] = set()
    for line in text.splitlines():
        if (match := _DECODER_LINE.match(line)) and match.group(1) != "=":
            names.add(match.group(1))
            if match.group(2):
                names.add(match.group(2))
    return frozenset(names)


def binary_stamp(name: str) -> str | None:
    """The program `name` as found on PATH: its real path, size and change time (a
    replaced or updated ffmpeg gets a new stamp); None when it is not found."""
    found = shutil.which(name)
    if found is None:
        return None
    try:
        stat = os.stat(found)
    except OSError:
        return None
    return f"{os.path.realpath(found)}:{stat.st_size}:{stat.st_mtime_ns}"


def cached_listing(args: list[str], name: str) -> str:
    """The output of `args` (ffmpeg listing what it was built with), kept per ffmpeg binary
    in `<cache>/ffmpeg/<name>.json`: starting ffmpeg just to list costs ~0.1 s a job."""
    stamp = binary_stamp(args[0])
    file = cache_dir() / "ffmpeg" / f"{name}.json"
    if stamp is not None:
        try:
            saved = json.loads(file.read_text())
            if saved["stamp"] == stamp and isinstance(saved["text"], str):
                return str(saved["text"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if stamp is not None and done.returncode == 0 and done.stdout:
        with contextlib.suppress(OSError):
            ensure_private_dir(file.parent)
            partial = file.with_name(f".{file.name}.{os.getpid()}.tmp")
            write_private_file(partial, json.dumps({"stamp": stamp, "text": done.stdout}).encode())
            os.replace(partial, file)
    return done.stdout


@functools.cache
def available_decoders() -> frozenset[str]:
    return parse_decoders(cached_listing(fa.decoders_args(), "decoders"))


_FILTER_LINE = re.compile(r"^\s*[TSC.]{3}\s+(\w+)\s+\S+->\S+")


def parse_filters(text: str) -> frozenset[str]:
    """The filter names in `ffmpeg -filters`."""
    return frozenset(m.group(1) for line in text.splitlines() if (m := _FILTER_LINE.match(line)))


@functools.cache
def available_filters() -> frozenset[str]:
    return parse_filters(cached_listing(fa.filters_args(), "filters"))


def check_colour(info: VideoInfo, filters: frozenset[str] | None = None) -> None:
    """HDR and BT.2020 clips need ffmpeg's zscale (zimg) to become BT.709; without it they
    are refused, saying so, rather than decoded into wrong colours."""
    if not (info.hdr or info.wide_gamut):
        return
    if "zscale" not in (available_filters() if filters is None else filters):
        kind = "HDR" if info.hdr else "wide-gamut (BT.2020)"
        raise UnsupportedCodec(
            f"The video is {kind}, and this machine's ffmpeg has no zscale filter to convert "
            "it to standard colours: convert it to SDR BT.709 first."
        )


def unsupported_codec(label: str) -> UnsupportedCodec:
    return UnsupportedCodec(
        f"The video uses the {label} codec, which this machine's ffmpeg cannot decode: "
        "convert it to H.264 first."
    )


def check_decodable(info: VideoInfo, decoders: frozenset[str] | None = None) -> None:
    """UnsupportedCodec, naming the codec, when ffmpeg has no decoder for it."""
    known = available_decoders() if decoders is None else decoders
    if info.codec in ("", "unknown", "none") or info.codec not in known:
        raise unsupported_codec(codec_label(info.codec, info.codec_tag))


def check_span(info: VideoInfo, duration: int, measured: float | None) -> None:
    """UnreadableVideo when the picture stops well before the length the file announces:
    `measured` is the span of the video packets' timestamps over the first seconds
    (`video_packet_span`; a file cut short in copying or uploading holds fewer than it
    announces), None when they carry none (nothing to judge by)."""
    if measured is None:
        return
    needed = min(float(duration), info.duration)
    span = measured + info.frame_duration
    if span + 3 * info.frame_duration < needed:
        raise UnreadableVideo(
            f"The video's picture stops after {seconds_phrase(span)} although the file says it "
            f"lasts {seconds_phrase(info.duration)}: the file is cut short or damaged; send "
            "it again."
        )


def decode_failure(detail: str, codec: str) -> UnreadableVideo | UnsupportedCodec:
    """Turn ffmpeg's stderr after a failed decode into the error a person reads."""
    lowered = detail.lower()
    if "decoder" in lowered and "not found" in lowered:
        return unsupported_codec(codec_label(codec))
    return UnreadableVideo("The video could not be decoded: the file may be damaged.")


def sample_reader(path: Path, info: VideoInfo, duration: float) -> FrameReader:
    """The decoder of the frames at SAMPLE_FPS over the first `duration` seconds."""
    spec = info.decode_spec(duration)
    return FrameReader(fa.sample_args(path, spec, SAMPLE_FPS), info.width, info.height)


def sample_frames(
    path: Path, info: VideoInfo, duration: float, reader: FrameReader | None = None
) -> Iterable[np.ndarray]:
    """Frames at SAMPLE_FPS over the first `duration` seconds, upright, streamed (from
    `reader`, sample_reader's, when it was started already)."""
    reader = reader or sample_reader(path, info, duration)
    try:
        try:
            yield from reader
        except BaseException:
            reader.close(check=False)
            raise
        reader.close()
    except PipelineError:
        raise decode_failure(reader.detail, info.codec) from None


def probe_checked(path: Path, duration: int) -> VideoInfo:
    """Probe, then check codec, colours, length and completeness. One ffprobe run reads
    the format, the streams and the packet times (see check_span; an ffprobe or
    ffmpeg start costs about 0.1 s of CPU), while the decoder list is read (from its cache,
    or from ffmpeg) beside it."""
    if not path.is_file():
        raise UnreadableVideo(not_a_file("video", path))
    if path.stat().st_size == 0:
        raise UnreadableVideo("The video file is empty.")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        decoders = pool.submit(available_decoders)
        # Past `duration` (the length needed, within a frame): packets come in decode order
        # and reading stops on a timestamp.
        data = run_probe(path, duration + 1.0)
        info = video_info(data)
        check_decodable(info, decoders.result())
        check_colour(info)
        check_length(info, duration)
        check_span(info, duration, video_packet_span(data))
    return info


class VideoProbe:
    """probe_checked(path, duration), then the start of the sampling decode, on a thread
    of their own while the caller does other work (a job: loading the models, checking the
    photo). Use as a context manager: leaving it stops a decode nobody read."""

    def __init__(self, path: Path, duration: int) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(1)
        self._future = self._pool.submit(self._start, path, duration)

    @staticmethod
    def _start(path: Path, duration: int) -> tuple[VideoInfo, FrameReader]:
        info = probe_checked(path, duration)
        reader = sample_reader(path, info, float(duration))
        reader.__enter__()  # ffmpeg starts decoding (its start alone takes ~0.1 s)
        return info, reader

    def result(self) -> tuple[VideoInfo, FrameReader]:
        """The probe and the started reader, or the probe's refusal raised."""
        return self._future.result()

    def __enter__(self) -> VideoProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)
        if self._future.exception() is None:
            self._future.result()[1].close(check=False)


def keyframe_step(duration: float) -> int:
    """Look at every this-many-th sample for keyframe candidates after the first face."""
    return max(1, math.ceil(duration * SAMPLE_FPS / KEYFRAME_CANDIDATES))


def check_video(
    path: Path,
    duration: int,
    models: Any,
    on_faces: FacesSeen | None = None,
    probed: VideoProbe | None = None,
) -> VideoCheck:
    """Probe by content, check length and codec, and look for a face in sampled frames.

    Without `on_faces` the look stops at the first sample with a face. With it, the look
    goes on to the end (every keyframe_step-th sample from the first face on) and each
    sample with faces is handed to `on_faces` (a job picks its keyframe so, from the one
    decode); after the first face, samples are searched with tiles only when that face
    needed them. `probed`: the probe and the sampling decode already started (a job starts
    them with the models' loading); the probe's refusal is raised here."""
    info, reader = probed.result() if probed is not None else (probe_checked(path, duration), None)
    decoded, step = 0, keyframe_step(duration)
    first: VideoCheck | None = None
    first_index = 0
    for index, frame in enumerate(sample_frames(path, info, float(duration), reader)):
        decoded += 1
        if first is None:
            # The fine search on every FINE_EVERY-th sample only (it is the dear part).
            found, tiled = search_faces(models, frame, fine=index % FINE_EVERY == 0)
        elif (index - first_index) % step:
            continue
        else:
            found, _ = search_faces(models, frame, fine=first.tiled, tiles=first.tiled)
        if found and first is None:
            first = VideoCheck(info=info, first_face_s=index / SAMPLE_FPS, tiled=tiled)
            first_index = index
        if found and on_faces is not None:
            on_faces(index, frame, found)
        if first is not None and on_faces is None:
            return first
    if first is not None:
        return first
    if decoded == 0:
        raise UnreadableVideo("No picture could be decoded from the video: it may be damaged.")
    raise NoFaceInVideo(
        f"No face was found in the first {duration} s of the video: the reference must show "
        "a person's face."
    )


def check_inputs(
    photo: Path,
    video: Path,
    duration: object,
    models: Any,
    on_faces: FacesSeen | None = None,
    probed: VideoProbe | None = None,
) -> InputCheck:
    """Every refusal, in the order a person would fix them: duration, photo, video.
    `on_faces`, `probed`: see check_video."""
    seconds = validate_duration(duration)
    photo_check = check_photo(photo, models)
    video_check = check_video(video, seconds, models, on_faces, probed)
    return InputCheck(photo=photo_check, video=video_check, duration=seconds)
