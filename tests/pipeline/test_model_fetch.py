"""Fetching into a private cache: offline re-runs, corrupted files found, deleted and
named, concurrent fetches, user-brought models, test media and the mesh asset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facedubd.errors import ModelError
from facedubd.models import ensure_models, mesh_triangles, verify_models
from facedubd.models.convert import convert_file
from facedubd.models.fetch import read_state
from facedubd.models.manifest import load_manifest, packaged_manifest_path, parse_manifest
from facedubd.models.wheels import cache_lock, extract_member, fetch_wheel, sha256_file
from facedubd.paths import cache_dir
from facedubd.samples import fetch_samples

SMALL = "face_detection_short_range"


@pytest.fixture(scope="session")
def shared_wheel() -> Path:
    """The pinned MediaPipe wheel in the shared cache."""
    with cache_lock(cache_dir()):
        return fetch_wheel(load_manifest().sources["mediapipe"], cache_dir())


@pytest.fixture
def seeded_cache(tmp_path: Path, shared_wheel: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache holding only the wheel; pip is pointed at nothing, so any download
    attempt would fail: what works here works offline."""
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    shutil.copyfile(shared_wheel, cache / "wheels" / shared_wheel.name)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "nowhere"))
    return cache


def test_fetch_works_offline_from_the_cached_wheel_and_reruns_do_nothing(
    seeded_cache: Path,
) -> None:
    paths = ensure_models([SMALL], cache=seeded_cache)
    onnx = paths[SMALL]
    assert onnx == seeded_cache / "models" / f"{SMALL}.onnx" and onnx.stat().st_size > 300_000
    assert oct(onnx.stat().st_mode & 0o777) == "0o600"
    record = read_state(seeded_cache)[SMALL]
    assert record["onnx_sha256"] == sha256_file(onnx)
    before = onnx.stat().st_mtime_ns
    assert ensure_models([SMALL], cache=seeded_cache) == paths
    assert onnx.stat().st_mtime_ns == before and read_state(seeded_cache)[SMALL] == record
    [status] = verify_models([SMALL], cache=seeded_cache)
    assert status.ok and status.state == "ok"


def test_a_corrupted_member_is_detected_deleted_and_named(seeded_cache: Path) -> None:
    ensure_models([SMALL], cache=seeded_cache)
    tflite = seeded_cache / "models" / f"{SMALL}.tflite"
    data = bytearray(tflite.read_bytes())
    data[1000] ^= 0xFF
    tflite.write_bytes(bytes(data))
    [status] = verify_models([SMALL], cache=seeded_cache)
    assert status.state == "mismatch"
    assert status.problems == (f"{SMALL}.tflite does not match its pinned sha256",)
    with pytest.raises(ModelError, match=rf"{SMALL}\.tflite has sha256 [0-9a-f]{{64}}, expected"):
        ensure_models([SMALL], cache=seeded_cache)
    assert not tflite.exists()
    ensure_models([SMALL], cache=seeded_cache)  # extracted again from the verified wheel
    assert sha256_file(tflite) == load_manifest().models[SMALL].sha256


def test_a_corrupted_onnx_is_reported_then_converted_again(seeded_cache: Path) -> None:
    onnx = ensure_models([SMALL], cache=seeded_cache)[SMALL]
    onnx.write_bytes(onnx.read_bytes()[:-10])
    [status] = verify_models([SMALL], cache=seeded_cache)
    assert status.problems == (f"{SMALL}.onnx does not match the sha256 recorded at conversion",)
    ensure_models([SMALL], cache=seeded_cache)
    assert verify_models([SMALL], cache=seeded_cache)[0].ok


def test_a_wheel_with_the_wrong_bytes_is_deleted_and_named(tmp_path: Path) -> None:
    source = load_manifest().sources["mediapipe"]
    assert source.wheel is not None
    bad = tmp_path / "wheels" / source.wheel
    bad.parent.mkdir()
    bad.write_bytes(b"not the wheel")
    with pytest.raises(ModelError, match=rf"{source.wheel} has sha256 .* the file was deleted"):
        fetch_wheel(source, tmp_path)
    assert not bad.exists()


def test_a_member_that_does_not_match_its_pin_is_not_kept(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/model.tflite", b"weights")
    target = tmp_path / "model.tflite"
    target.write_bytes(b"an older copy")
    with pytest.raises(ModelError, match=r"model\.tflite \(from pkg/model\.tflite\) has sha256"):
        extract_member(wheel, "pkg/model.tflite", target, "0" * 64)
    assert not target.exists()
    with pytest.raises(ModelError, match="has no member pkg/other"):
        extract_member(wheel, "pkg/other", target, "0" * 64)


def test_two_processes_fetching_at_once_both_succeed(seeded_cache: Path) -> None:
    code = (
        "from facedubd.models import ensure_models; "
        "print(ensure_models(['face_landmark'])['face_landmark'])"
    )
    env = {**os.environ, "FACEDUB_CACHE_DIR": str(seeded_cache)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    onnx = seeded_cache / "models" / "face_landmark.onnx"
    assert {out.strip() for out, _ in results} == {str(onnx)}
    assert read_state(seeded_cache)["face_landmark"]["onnx_sha256"] == sha256_file(onnx)
    leftovers = [p.name for p in (seeded_cache / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_a_user_brought_tflite_is_checked_and_converted(
    tmp_path: Path, model_paths: dict[str, Path]
) -> None:
    mine = tmp_path / "my_iris.tflite"
    shutil.copyfile(model_paths["iris_landmark"].with_suffix(".tflite"), mine)
    extra = tmp_path / "extra.toml"
    entry = 'task = "iris"\nsource = "local"\nlicence = "Apache-2.0"\n'
    extra.write_text(f'[models.my_iris]\n{entry}path = "{mine}"\nsha256 = "{sha256_file(mine)}"\n')
    cache = tmp_path / "cache"
    paths = ensure_models(["my_iris"], cache=cache, manifest=load_manifest(extra=extra))
    assert paths["my_iris"] == cache / "models" / "my_iris.onnx"
    assert paths["my_iris"].read_bytes()[:2] == model_paths["iris_landmark"].read_bytes()[:2]

    extra.write_text(f'[models.my_iris]\n{entry}path = "{mine}"\nsha256 = "{"0" * 64}"\n')
    with pytest.raises(ModelError, match=r"my_iris\.tflite has sha256"):
        ensure_models(["my_iris"], cache=cache, manifest=load_manifest(extra=extra))
    assert mine.exists()  # a user's own file is never deleted


def test_unknown_model_is_refused_with_the_known_names() -> None:
    with pytest.raises(ModelError, match="unknown model 'nope'; the manifest has: face_detection"):
        ensure_models(["nope"])


def test_real_media_are_pinned_and_a_damaged_copy_is_deleted(tmp_path: Path) -> None:
    path = fetch_samples(["astronaut.png"])["astronaut.png"]
    with Image.open(path) as image:
        assert image.size == (512, 512) and image.mode == "RGB"
    bad = tmp_path / "media" / "single_face.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"not a photo")
    with pytest.raises(ModelError, match=r"single_face\.jpg has sha256 .* the file was deleted"):
        fetch_samples(["single_face.jpg"], cache=tmp_path)
    assert not bad.exists()


def test_mesh_triangles_cover_the_468_points_as_a_manifold() -> None:
    triangles = mesh_triangles()
    assert triangles.shape == (852, 3) and triangles.dtype == np.int32
    assert set(np.unique(triangles)) == set(range(468))
    edges: dict[tuple[int, int], int] = {}
    for a, b, c in triangles.tolist():
        for u, v in ((a, b), (b, c), (c, a)):
            key = (min(u, v), max(u, v))
            edges[key] = edges.get(key, 0) + 1
    assert max(edges.values()) == 2  # each edge borders at most two triangles
    assert not triangles.flags.writeable


def test_a_conversion_that_breaks_the_manifest_contract_is_not_recorded(
    seeded_cache: Path,
) -> None:
    data = tomllib.loads(packaged_manifest_path().read_text())
    data["models"][SMALL]["outputs"][0]["name"] = "boxes"
    manifest = parse_manifest(data)
    with pytest.raises(
        ModelError, match=rf"{SMALL}: the converted outputs are regressors\[1, 896, 16\]"
    ):
        ensure_models([SMALL], cache=seeded_cache, manifest=manifest)
    assert not (seeded_cache / "models" / f"{SMALL}.onnx").exists()
    assert SMALL not in read_state(seeded_cache)


def test_a_model_with_unsupported_ops_fails_naming_op_and_model(
    tmp_path: Path, shared_wheel: Path
) -> None:
    """The attention mesh needs MediaPipe custom ops the converter does not have."""
    member = "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite"
    pinned = "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4"
    tflite = extract_member(shared_wheel, member, tmp_path / "attention.tflite", pinned)
    with pytest.raises(
        ModelError,
        match=r"^face_landmark_with_attention: the TFLite op CUSTOM:\w+ is not supported",
    ):
        convert_file(tflite, "face_landmark_with_attention")
