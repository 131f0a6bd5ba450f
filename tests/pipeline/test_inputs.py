"""The shared input check on real media and on variants made from it in the tests: each
test exercises one property and asserts the value (orientation, pixels, code, sentence)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facedubd.errors import (
    FaceTooSmall,
    InputError,
    InvalidDuration,
    NoFaceInPhoto,
    NoFaceInVideo,
    UnreadablePhoto,
    UnreadableVideo,
    UnsupportedCodec,
    VideoTooShort,
)
from facedubd.pipeline import inputs
from facedubd.pipeline.face import FaceModels, load_face_models
from facedubd.pipeline.media import probe
from facedubd.samples import sample_path
from tests.pipeline import clips


@pytest.fixture(scope="module")
def models() -> Iterator[FaceModels]:
    yield load_face_models("cpu", 1)


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    """Grace Hopper, 512 wide and 600 high: a portrait, so a wrong turn shows in the shape."""
    return np.asarray(Image.open(sample_path("grace_hopper.jpg")).convert("RGB"))


def assert_refused(exc: InputError, code: str, tmp_path: Path) -> None:
    assert exc.code == code
    assert exc.http_status == 400
    assert str(tmp_path) not in exc.message and "Traceback" not in exc.message
    assert exc.message.endswith(".")


# --- duration ----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(1, 1), (30, 30), ("10", 10), (5.0, 5)])
def test_valid_durations(value: object, expected: int) -> None:
    assert inputs.validate_duration(value) == expected


@pytest.mark.parametrize(("seconds", "step"), [(1, 1), (5, 1), (6, 2), (10, 2), (30, 6)])
def test_keyframe_candidates_stay_about_ten_whatever_the_length(seconds: int, step: int) -> None:
    assert inputs.keyframe_step(seconds) == step
    assert len(range(0, seconds * inputs.SAMPLE_FPS, step)) <= inputs.KEYFRAME_CANDIDATES


@pytest.mark.parametrize(
    "value", [0, 31, -1, 2.5, "abc", "", True, None, "1e1", "\uff12", "\u0663"]
)
def test_invalid_durations(value: object) -> None:
    with pytest.raises(InvalidDuration) as caught:
        inputs.validate_duration(value)
    assert caught.value.code == "invalid_duration"
    assert "1 to 30" in caught.value.message


# --- photos ------------------------------------------------------------------------------

#: How to store an upright picture so that EXIF orientation `n` turns it upright again.
STORE_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", sorted(STORE_FOR_ORIENTATION))
def test_exif_orientation_is_applied(
    tmp_path: Path, models: FaceModels, hopper: np.ndarray, orientation: int
) -> None:
    stored = Image.fromarray(hopper)
    if (turn := STORE_FOR_ORIENTATION[orientation]) is not None:
        stored = stored.transpose(turn)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    stored.save(path, quality=95, exif=exif.tobytes())
    check = inputs.check_photo(path, models)
    assert check.rgb.shape == hopper.shape
    assert np.abs(check.rgb.astype(int) - hopper).mean() < 6


def test_cmyk_jpeg_gives_the_same_colours(
    tmp_path: Path, models: FaceModels, hopper: np.ndarray
) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(hopper).convert("CMYK").save(path, quality=95)
    with Image.open(path) as stored:
        assert stored.mode == "CMYK"
    check = inputs.check_photo(path, models)
    assert np.abs(check.rgb.astype(int) - hopper).mean() < 8


def test_transparent_background_becomes_white(tmp_path: Path, models: FaceModels) -> None:
    rgb = np.asarray(Image.open(sample_path("astronaut.png")).convert("RGB"))
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :60] = 0  # a transparent strip on the left
    path = tmp_path / "cutout.webp"
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path, lossless=True)
    check = inputs.check_photo(path, models)
    assert (check.rgb[:, :60] == 255).all()
    assert np.abs(check.rgb[:, 100:].astype(int) - rgb[:, 100:]).max() <= 1


@pytest.mark.parametrize("mode", ["L", "P", "I;16"])
def test_grey_palette_and_16_bit_images_become_8_bit_rgb(
    tmp_path: Path, models: FaceModels, hopper: np.ndarray, mode: str
) -> None:
    grey = np.asarray(Image.fromarray(hopper).convert("L"))
    if mode == "I;16":
        image = Image.fromarray(grey.astype(np.uint16) * 257)
    else:
        image = Image.fromarray(hopper).convert(mode, palette=Image.Palette.ADAPTIVE)
    path = tmp_path / "photo.png"
    image.save(path)
    check = inputs.check_photo(path, models)
    assert check.rgb.dtype == np.uint8 and check.rgb.shape == hopper.shape
    if mode in ("L", "I;16"):
        assert np.abs(check.rgb[..., 0].astype(int) - grey).max() <= 1
        assert (check.rgb[..., 0] == check.rgb[..., 2]).all()
    else:
        assert np.abs(check.rgb.astype(int) - hopper).mean() < 12


def test_animated_gif_uses_its_first_frame(tmp_path: Path, models: FaceModels) -> None:
    face = Image.open(sample_path("astronaut.png")).convert("RGB")
    mountain = Image.open(sample_path("free-mountain-vector-01.jpg")).convert("RGB")
    path = tmp_path / "anim.gif"
    face.save(path, save_all=True, append_images=[mountain.resize(face.size)], duration=100)
    check = inputs.check_photo(path, models)
    assert check.face.width > 64
    with Image.open(path) as stored:
        first = np.asarray(stored.convert("RGB"))
    assert np.array_equal(check.rgb, first)


def test_heic_photo(tmp_path: Path, models: FaceModels, hopper: np.ndarray) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    path = tmp_path / "phone.heic"
    Image.fromarray(hopper).save(path, quality=90)
    check = inputs.check_photo(path, models)
    assert check.rgb.shape == hopper.shape
    assert np.abs(check.rgb.astype(int) - hopper).mean() < 8


def test_huge_photo_is_downscaled(tmp_path: Path, models: FaceModels, hopper: np.ndarray) -> None:
    path = tmp_path / "huge.jpg"
    Image.fromarray(hopper).resize((4096, 4800)).save(path, quality=80)
    check = inputs.check_photo(path, models)
    assert max(check.rgb.shape[:2]) <= inputs.MAX_PHOTO_SIDE
    assert check.original_size == (4096, 4800)
    assert check.rgb.shape[0] / check.rgb.shape[1] == pytest.approx(600 / 512, rel=0.01)


def test_largest_face_is_the_character(models: FaceModels) -> None:
    path = sample_path("multi_face.jpg")
    check = inputs.check_photo(path, models)
    boxes = inputs.find_faces(models, check.rgb)
    assert len(boxes) >= 2
    assert check.face.area == max(box.area for box in boxes)


def test_photo_without_a_face(tmp_path: Path, models: FaceModels) -> None:
    with pytest.raises(NoFaceInPhoto) as caught:
        inputs.check_photo(sample_path("free-mountain-vector-01.jpg"), models)
    assert_refused(caught.value, "no_face_in_photo", tmp_path)


def test_tiny_face_is_too_small_and_the_sentence_says_the_minimum(
    tmp_path: Path, models: FaceModels
) -> None:
    small = Image.open(sample_path("grace_hopper.jpg")).convert("RGB").resize((128, 150))
    canvas = Image.new("RGB", (640, 640), (128, 128, 128))
    canvas.paste(small, (256, 245))
    path = tmp_path / "far.png"
    canvas.save(path)
    with pytest.raises(FaceTooSmall) as caught:
        inputs.check_photo(path, models)
    assert_refused(caught.value, "face_too_small", tmp_path)
    assert f"at least {inputs.MIN_FACE_PX} pixels across" in caught.value.message


def _truncated(path: Path) -> None:
    data = (sample_path("grace_hopper.jpg")).read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_bytes(b""),
        lambda p: p.write_text("hello, this is text\n" * 20),
        _truncated,
        lambda p: p.write_bytes(sample_path("single_face.mp4").read_bytes()),
    ],
    ids=["zero_bytes", "text", "truncated", "video"],
)
def test_unreadable_photos_are_judged_by_content(
    tmp_path: Path, models: FaceModels, make: object
) -> None:
    path = tmp_path / "photo.jpg"
    make(path)  # type: ignore[operator]
    with pytest.raises(UnreadablePhoto) as caught:
        inputs.check_photo(path, models)
    assert_refused(caught.value, "unreadable_photo", tmp_path)


def test_photo_with_the_wrong_extension_is_read_by_content(
    tmp_path: Path, models: FaceModels
) -> None:
    path = tmp_path / "actually a png.jpg"
    path.write_bytes(sample_path("astronaut.png").read_bytes())
    assert inputs.check_photo(path, models).rgb.shape == (512, 512, 3)


# --- videos ------------------------------------------------------------------------------


def test_real_clip_with_a_face_passes(models: FaceModels) -> None:
    check = inputs.check_video(sample_path("single_face.mp4"), 2, models)
    assert check.info.has_audio and check.info.audio_codec == "mp3"
    assert check.first_face_s == 0


def test_rotated_phone_clip_is_checked_upright(tmp_path: Path, models: FaceModels) -> None:
    rotated = clips.with_rotation(sample_path("single_face.mp4"), tmp_path / "r.mp4", 90)
    check = inputs.check_video(rotated, 2, models)
    assert (check.info.width, check.info.height) == (360, 640)


def test_no_face_in_video(tmp_path: Path, models: FaceModels) -> None:
    with pytest.raises(NoFaceInVideo) as caught:
        inputs.check_video(sample_path("no_face.mp4"), 3, models)
    assert_refused(caught.value, "no_face_in_video", tmp_path)
    assert "first 3 s" in caught.value.message


def test_too_short_names_both_lengths(tmp_path: Path, models: FaceModels) -> None:
    clip = clips.test_pattern(tmp_path / "short.mp4", seconds=1.6)
    with pytest.raises(VideoTooShort) as caught:
        inputs.check_video(clip, 5, models)
    assert_refused(caught.value, "video_too_short", tmp_path)
    assert "1.6 s long" in caught.value.message and "5 s" in caught.value.message


def test_one_frame_of_tolerance(tmp_path: Path) -> None:
    one_short = probe(clips.test_pattern(tmp_path / "49.mp4", seconds=1.96))  # 49 frames
    inputs.check_length(one_short, 2)
    two_short = probe(clips.test_pattern(tmp_path / "48.mp4", seconds=1.92))
    with pytest.raises(VideoTooShort, match=r"1\.92 s long"):
        inputs.check_length(two_short, 2)


def _still_image(path: Path) -> None:
    path.write_bytes(sample_path("grace_hopper.jpg").read_bytes())


def _audio_only(path: Path) -> None:
    clips.ffmpeg(*("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", "-f", "mp4", str(path)))


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_bytes(b""),
        lambda p: p.write_text("not a video, just words\n" * 40),
        _still_image,
        _audio_only,
    ],
    ids=["zero_bytes", "text", "still_image", "audio_only"],
)
def test_unreadable_videos_are_judged_by_content(
    tmp_path: Path, models: FaceModels, make: object
) -> None:
    path = tmp_path / "clip.mp4"
    make(path)  # type: ignore[operator]
    with pytest.raises(UnreadableVideo) as caught:
        inputs.check_video(path, 2, models)
    assert_refused(caught.value, "unreadable_video", tmp_path)


def test_truncated_video_is_unreadable(tmp_path: Path, models: FaceModels) -> None:
    data = sample_path("single_face.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])  # the index (moov) sits at the end: lost
    with pytest.raises(UnreadableVideo) as caught:
        inputs.check_video(path, 2, models)
    assert_refused(caught.value, "unreadable_video", tmp_path)


def test_missing_decoder_names_the_codec() -> None:
    detail = "[vist#0:0] Decoder (codec apv) not found for input stream #0:0"
    error = inputs.decode_failure(detail, "apv")
    assert isinstance(error, UnsupportedCodec)
    assert error.code == "unsupported_codec" and "apv codec" in error.message
    assert isinstance(inputs.decode_failure("Invalid data found", "h264"), UnreadableVideo)


def test_check_inputs_refuses_duration_first(tmp_path: Path, models: FaceModels) -> None:
    with pytest.raises(InvalidDuration):
        inputs.check_inputs(tmp_path / "none.jpg", tmp_path / "none.mp4", 31, models)
    checked = inputs.check_inputs(
        sample_path("grace_hopper.jpg"), sample_path("single_face.mp4"), "2", models
    )
    assert checked.duration == 2 and checked.photo.face.width > inputs.MIN_FACE_PX


def test_photo_bytes_in_memory_do_not_matter(tmp_path: Path) -> None:
    """load_photo reads the file itself: a BytesIO round trip gives the same pixels."""
    buffer = io.BytesIO(sample_path("astronaut.png").read_bytes())
    expected = np.asarray(Image.open(buffer).convert("RGB"))
    rgb, size = inputs.load_photo(sample_path("astronaut.png"))
    assert size == (512, 512) and np.array_equal(rgb, expected)


@pytest.mark.parametrize(("frames", "said"), [(1, "0.04 s long"), (20, "0.8 s long")])
def test_one_frame_and_sub_second_clips_are_too_short(
    tmp_path: Path, models: FaceModels, frames: int, said: str
) -> None:
    clip = clips.test_pattern(tmp_path / "tiny.mp4", seconds=frames / 25)
    with pytest.raises(VideoTooShort) as caught:
        inputs.check_video(clip, 1, models)
    assert_refused(caught.value, "video_too_short", tmp_path)
    assert said in caught.value.message


def test_unicode_and_spaces_in_file_names(tmp_path: Path, models: FaceModels) -> None:
    folder = tmp_path / "Ünïcödé folder 名前"
    folder.mkdir()
    photo = folder / "my photo ø.jpg"
    video = folder / "clip — take 1.mp4"
    photo.write_bytes(sample_path("grace_hopper.jpg").read_bytes())
    video.write_bytes(sample_path("single_face.mp4").read_bytes())
    checked = inputs.check_inputs(photo, video, 2, models)
    assert checked.photo.rgb.shape == (600, 512, 3)
    assert checked.video.info.rate == 30


def test_dark_16_bit_photo_is_scaled_as_16_bit(tmp_path: Path, models: FaceModels) -> None:
    grey = np.asarray(Image.open(sample_path("grace_hopper.jpg")).convert("L"), np.uint16)
    dark = grey // 4  # every value under 64 of 65535: nearly black as 16-bit
    path = tmp_path / "dark16.png"
    Image.fromarray(dark).save(path)  # uint16: saved as a 16-bit PNG
    rgb, _ = inputs.load_photo(path)
    assert int(rgb.max()) == 0  # < 64/65535 of full scale rounds to black, not to grey
