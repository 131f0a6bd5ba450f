"""Character photos as users send them, made from the real photos inside each test: one
property per test, asserting the value (the face's place, the pixels, memory, codes)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facedubd.pipeline import inputs
from facedubd.pipeline.face import FaceModels, load_face_models
from tests.pipeline.clips import ffmpeg

Sample = Callable[[str], Path]

#: How to store an upright picture so that EXIF orientation `n` turns it upright again.
STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.fixture(scope="module")
def models() -> Iterator[FaceModels]:
    yield load_face_models("cpu", 1)


@pytest.fixture(scope="module")
def hopper(sample: Sample) -> np.ndarray:
    return np.asarray(Image.open(sample("grace_hopper.jpg")).convert("RGB"))


@pytest.fixture(scope="module")
def hopper_face(models: FaceModels, hopper: np.ndarray) -> tuple[float, float]:
    box = inputs.find_faces(models, hopper)[0]
    return ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)


def centre(box: inputs.Box) -> tuple[float, float]:
    return ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)


@pytest.mark.parametrize("orientation", sorted(STORED_AS))
def test_exif_orientation_puts_the_face_where_it_is_upright(
    tmp_path: Path,
    models: FaceModels,
    hopper: np.ndarray,
    hopper_face: tuple[float, float],
    orientation: int,
) -> None:
    stored = Image.fromarray(hopper)
    if (turn := STORED_AS[orientation]) is not None:
        stored = stored.transpose(turn)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.jpg"
    stored.save(path, quality=95, exif=exif.tobytes())
    check = inputs.check_photo(path, models)
    assert check.rgb.shape == hopper.shape
    assert np.hypot(*np.subtract(centre(check.face), hopper_face)) < 4


def test_transparent_png_portrait_is_laid_over_white(
    tmp_path: Path, sample: Sample, models: FaceModels
) -> None:
    """The real RGBA portrait (opaque as shipped) with a clear and a half-clear strip."""
    with Image.open(sample("Image_with_alpha.png")) as stored:
        rgba = np.asarray(stored.convert("RGBA")).copy()
    rgba[:, :100, 3] = 0
    rgba[:, 100:200, 3] = 128
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(path)
    check = inputs.check_photo(path, models)
    assert (check.rgb[:, :100] == 255).all()
    half = rgba[:, 100:200, :3].astype(float) * 128 / 255 + 255 * (1 - 128 / 255)
    assert np.abs(check.rgb[:, 100:200] - half).max() <= 1.5
    assert np.array_equal(check.rgb[:, 200:], rgba[:, 200:, :3])
    assert check.face.width > inputs.MIN_FACE_PX


def test_animated_webp_uses_its_first_frame(
    tmp_path: Path, sample: Sample, models: FaceModels
) -> None:
    face = Image.open(sample("astronaut.png")).convert("RGB")
    mountain = Image.open(sample("free-mountain-vector-01.jpg")).convert("RGB").resize(face.size)
    path = tmp_path / "anim.webp"
    face.save(path, save_all=True, append_images=[mountain], duration=100, lossless=True)
    with Image.open(path) as stored:
        assert stored.n_frames == 2
    check = inputs.check_photo(path, models)
    assert np.array_equal(check.rgb, np.asarray(face))
    assert check.face.width > inputs.MIN_FACE_PX


def test_16_bit_colour_png_keeps_its_colours(
    tmp_path: Path, sample: Sample, models: FaceModels, hopper: np.ndarray
) -> None:
    path = tmp_path / "deep.png"
    ffmpeg("-i", str(sample("grace_hopper.jpg")), "-pix_fmt", "rgb48be", str(path))
    with Image.open(path) as stored:
        assert stored.info.get("bitdepth", 16) == 16 or stored.mode in ("RGB", "I;16")
    check = inputs.check_photo(path, models)
    assert np.abs(check.rgb.astype(int) - hopper).mean() < 1.5


def test_several_faces_the_largest_is_the_character(
    tmp_path: Path, models: FaceModels, hopper: np.ndarray
) -> None:
    small = Image.fromarray(hopper).resize((150, 176))
    large = Image.fromarray(hopper).resize((256, 300))
    canvas = Image.new("RGB", (640, 400), (128, 128, 128))
    canvas.paste(small, (30, 100))
    canvas.paste(large, (360, 50))
    path = tmp_path / "two.png"
    canvas.save(path)
    check = inputs.check_photo(path, models)
    assert len(inputs.find_faces(models, check.rgb)) == 2
    assert centre(check.face)[0] > 360  # the large one, on the right


HUGE_LOADER = """
import resource, sys
from pathlib import Path
from facedubd.pipeline import inputs
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rgb, size = inputs.load_photo(Path(sys.argv[1]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(rgb.shape[0], rgb.shape[1], size[0], size[1], (after - before) // 1024)
"""


def _peak_megabytes(path: Path) -> tuple[tuple[int, int], tuple[int, int], int]:
    """(rgb shape, stored size, MB of peak memory added by load_photo) in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", HUGE_LOADER, str(path)], capture_output=True, text=True, check=True
    )
    h, w, sw, sh, grown = (int(v) for v in done.stdout.split())
    return (h, w), (sw, sh), grown


@pytest.mark.parametrize(
    ("ext", "limit_mb"), [("jpg", 100), pytest.param("png", 400, marks=pytest.mark.slow)]
)
def test_8000_px_photo_is_downscaled_early_in_bounded_memory(
    tmp_path: Path, hopper: np.ndarray, ext: str, limit_mb: int
) -> None:
    path = tmp_path / f"huge.{ext}"
    big = Image.fromarray(hopper).resize((8000, 9375))
    big.save(path, **({"quality": 85} if ext == "jpg" else {"compress_level": 1}))
    del big
    shape, stored, grown = _peak_megabytes(path)
    assert stored == (8000, 9375) and shape in ((2048, 1747), (2048, 1748))
    # Fully decoded, one copy is 8000 x 9375 x 3 = 225 MB.
    assert grown < limit_mb, grown


def test_huge_photo_face_is_found_after_downscaling(
    tmp_path: Path, models: FaceModels, hopper: np.ndarray, hopper_face: tuple[float, float]
) -> None:
    path = tmp_path / "huge.jpg"
    Image.fromarray(hopper).resize((8000, 9375)).save(path, quality=85)
    check = inputs.check_photo(path, models)
    scale = check.rgb.shape[1] / hopper.shape[1]
    expected = (hopper_face[0] * scale, hopper_face[1] * scale)
    assert np.hypot(*np.subtract(centre(check.face), expected)) < 8 * scale


def test_a_false_face_in_lettering_is_not_a_face(tmp_path: Path, models: FaceModels) -> None:
    from PIL import ImageDraw, ImageFont

    from facedubd.errors import NoFaceInPhoto
    from facedubd.pipeline.face import detect_faces

    sign = Image.new("RGB", (640, 480), "white")
    ImageDraw.Draw(sign).text(
        (60, 100), "OPEN 24/7", fill="black", font=ImageFont.load_default(size=110)
    )
    assert len(detect_faces(models, np.asarray(sign))) == 1  # the detector alone is fooled
    path = tmp_path / "sign.png"
    sign.save(path)
    with pytest.raises(NoFaceInPhoto) as caught:
        inputs.check_photo(path, models)
    assert caught.value.code == "no_face_in_photo"
    assert caught.value.message.startswith("No face was found in the photo")
