"""The model manifest: complete entries, valid pins, installed with the package."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from facedubd.errors import ModelError
from facedubd.models.manifest import load_manifest, packaged_manifest_path, parse_manifest
from facedubd.models.wheels import pip_download_command

REPO_MANIFEST = Path(__file__).resolve().parents[2] / "models" / "manifest.toml"
EXPECTED_MODELS = {
    "face_detection_short_range",
    "face_detection_full_range_sparse",
    "face_landmark",
    "iris_landmark",
    "selfie_segmentation",
    "palm_detection_lite",
    "hand_landmark_lite",
}


def test_packaged_manifest_is_the_repository_manifest() -> None:
    assert packaged_manifest_path().read_bytes() == REPO_MANIFEST.read_bytes()


def test_every_model_entry_has_all_fields() -> None:
    manifest = load_manifest()
    assert set(manifest.models) == EXPECTED_MODELS
    for entry in manifest.models.values():
        assert entry.task and entry.licence == "Apache-2.0"
        assert len(entry.sha256) == 64
        assert entry.source is not None and entry.member is not None
        assert entry.source.package == "mediapipe" and entry.source.version == "0.10.21"
        assert entry.source.wheel == "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
        assert entry.source.wheel_sha256 == (
            "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
        )
        assert entry.member.endswith(f"/{entry.name}.tflite")
        assert entry.input is not None and entry.input.layout == "NHWC"
        assert len(entry.input.shape) == 4 and entry.input.shape[3] == 3
        assert entry.input.range in ((-1.0, 1.0), (0.0, 1.0)) and entry.input.normalisation
        assert entry.outputs and all(o.name and o.shape for o in entry.outputs)


def test_pip_arguments_pin_one_platform_wheel() -> None:
    source = load_manifest().sources["mediapipe"]
    command = pip_download_command(source, Path("/cache/wheels"))
    assert command[1:5] == ["-m", "pip", "download", "--disable-pip-version-check"]
    tail = command[command.index("/cache/wheels") + 1 :]
    assert tail == [
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        "manylinux_2_28_x86_64",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "mediapipe==0.10.21",
    ]


def test_media_entries_are_pinned() -> None:
    media = load_manifest().media
    assert {
        "single_face.jpg",
        "astronaut.png",
        "grace_hopper.jpg",
        "WolfgangLanger_Pexels.mp4",
    } <= set(media)
    assert media["astronaut.png"].member == "skimage/data/astronaut.png"
    for entry in media.values():
        assert len(entry.sha256) == 64 and entry.member.endswith(entry.file)


def test_a_user_model_from_a_local_file(tmp_path: Path) -> None:
    extra = tmp_path / "mine.toml"
    extra.write_text(
        '[models.my_swapper]\ntask = "swap"\nsource = "local"\n'
        f'path = "{tmp_path / "swapper.onnx"}"\nsha256 = "{"ab" * 32}"\nlicence = "MIT"\n'
    )
    manifest = load_manifest(extra=extra)
    entry = manifest.models["my_swapper"]
    assert entry.is_local and entry.path == tmp_path / "swapper.onnx"
    assert set(manifest.models) > EXPECTED_MODELS


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("sha256", '"abc"', "not 64 hex digits"), ("source", '"nowhere"', "unknown source")],
)
def test_a_broken_entry_is_refused(field: str, value: str, message: str) -> None:
    data = tomllib.loads(REPO_MANIFEST.read_text())
    text = f"x = {value}"
    data["models"]["face_landmark"][field] = tomllib.loads(text)["x"]
    with pytest.raises(ModelError, match=message):
        parse_manifest(data)


def test_a_missing_field_is_named() -> None:
    data = tomllib.loads(REPO_MANIFEST.read_text())
    del data["models"]["iris_landmark"]["licence"]
    with pytest.raises(ModelError, match=r"\[models.iris_landmark\] lacks the field 'licence'"):
        parse_manifest(data)
