"""Face analysis on real photos and a real video, with the real MediaPipe models in
onnxruntime (the shared cache; fetched and converted on first use).

The landmark boxes were placed by hand: each photo was cut into 8-16x enlarged crops
with a 5 px grid, and the centre of each box is where the eye corner (lids meeting),
nose tip (the ball of the nose, between the highlight and the columella) or mouth
corner (lips meeting) lies. Each box's side is at most 10% of the inter-ocular
distance (outer eye corners)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facedubd.pipeline.face import (
    FaceModels,
    FaceTracker,
    detect_faces,
    load_face_models,
    roi_from_detection,
    run_mesh,
)
from facedubd.pipeline.face import landmarks as lm
from facedubd.pipeline.face.frames import iter_video_frames, load_rgb
from facedubd.pipeline.face.stability import track_jitter
from facedubd.samples import sample_path

#: (centre x, centre y) in image pixels, and the box side in pixels.
SINGLE_FACE_SIDE = 11.0  # inter-ocular distance about 117 px
SINGLE_FACE: dict[str, tuple[float, float]] = {
    "right_eye_outer": (210.0, 249.0),
    "right_eye_inner": (248.5, 249.0),
    "left_eye_inner": (294.5, 247.0),
    "left_eye_outer": (335.5, 245.5),
    "nose_tip": (266.0, 298.0),
    "mouth_right": (236.5, 328.0),
    "mouth_left": (318.5, 324.5),
}
ASTRONAUT_SIDE = 6.0  # inter-ocular distance about 63 px
ASTRONAUT: dict[str, tuple[float, float]] = {
    "right_eye_outer": (193.0, 100.5),
    "right_eye_inner": (211.5, 103.0),
    "left_eye_inner": (237.5, 104.0),
    "left_eye_outer": (257.5, 103.0),
    "nose_tip": (222.5, 129.5),
    "mouth_right": (201.5, 139.5),
    "mouth_left": (245.0, 141.5),
}


@pytest.fixture(scope="module")
def face_models() -> FaceModels:
    return load_face_models(device="cpu", threads=1)


def _photo(name: str) -> np.ndarray:
    return load_rgb(sample_path(name))


@pytest.mark.parametrize(
    ("name", "boxes", "side"),
    [
        ("single_face.jpg", SINGLE_FACE, SINGLE_FACE_SIDE),
        ("astronaut.png", ASTRONAUT, ASTRONAUT_SIDE),
    ],
)
def test_one_face_with_landmarks_in_their_hand_checked_boxes(
    face_models: FaceModels, name: str, boxes: dict[str, tuple[float, float]], side: float
) -> None:
    rgb = _photo(name)
    faces = detect_faces(face_models, rgb)
    assert len(faces) == 1
    assert faces[0].score > 0.8
    mesh = run_mesh(face_models.mesh, rgb, roi_from_detection(faces[0]))
    assert mesh.points.shape == (468, 3) and mesh.points.dtype == np.float32
    assert mesh.presence > 0.9
    iod = lm.inter_ocular_distance(mesh.points)
    assert side <= 0.1 * iod
    misses = {}
    for key, (cx, cy) in boxes.items():
        x, y = mesh.points[lm.KEY_POINTS[key], :2]
        print(f"{name} {key}: ({x:.1f}, {y:.1f}) vs box centre ({cx}, {cy}), side {side}")
        if abs(x - cx) > side / 2 or abs(y - cy) > side / 2:
            misses[key] = (round(float(x), 1), round(float(y), 1))
    assert misses == {}
    pose = lm.head_pose(mesh.points)
    assert abs(pose.yaw) < 15 and abs(pose.pitch) < 20 and abs(pose.roll) < 10


def test_several_faces_in_a_group_photo(face_models: FaceModels) -> None:
    faces = detect_faces(face_models, _photo("multi_face.jpg"))
    assert len(faces) == 5
    centres = np.array([f.centre for f in faces])
    distances = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    assert distances[~np.eye(5, dtype=bool)].min() > 60  # five different places
    for face in faces:
        mesh = run_mesh(face_models.mesh, _photo("multi_face.jpg"), roi_from_detection(face))
        x, y = mesh.points[lm.NOSE_TIP, :2]
        assert face.box[0] < x < face.box[2] and face.box[1] < y < face.box[3]


def test_no_face_in_a_landscape_drawing(face_models: FaceModels) -> None:
    assert detect_faces(face_models, _photo("free-mountain-vector-01.jpg")) == []


def test_black_and_white_photo_with_a_small_turned_face(face_models: FaceModels) -> None:
    rgb = _photo("BWPictureHuman.jpg")
    assert rgb.shape == (1912, 2560, 3)
    faces = detect_faces(face_models, rgb)
    # The shouting soldier's head, hand-checked: x 840-1100, y 350-650 (turned, in profile).
    assert len(faces) == 1
    cx, cy = faces[0].centre
    assert 840 < cx < 1100 and 350 < cy < 650
    mesh = run_mesh(face_models.mesh, rgb, roi_from_detection(faces[0]))
    assert 0.0 <= mesh.presence <= 1.0
    assert np.isfinite(mesh.points).all()


def test_rgba_portrait_is_read_and_analysed(face_models: FaceModels) -> None:
    rgb = load_rgb(sample_path("Image_with_alpha.png"))
    assert rgb.shape == (1036, 1524, 3) and rgb.dtype == np.uint8
    faces = detect_faces(face_models, rgb)
    assert len(faces) == 1
    mesh = run_mesh(face_models.mesh, rgb, roi_from_detection(faces[0]))
    assert mesh.presence > 0.9
    x, y = mesh.points[lm.NOSE_TIP, :2]
    box = faces[0].box
    assert box[0] < x < box[2] and box[1] < y < box[3]
    # The laughing man's head is tilted: his eye line rises to the image's right.
    assert lm.head_pose(mesh.points).roll < -10


def _track(models: FaceModels, path: Path) -> tuple[np.ndarray, FaceTracker]:
    tracker = FaceTracker(models)
    points = []
    for frame in iter_video_frames(path):
        mesh = tracker.update(frame)
        points.append(np.full((468, 3), np.nan) if mesh is None else mesh.points)
    return np.stack(points), tracker


def test_tracking_through_a_real_clip_is_steady_and_rarely_detects(
    face_models: FaceModels,
) -> None:
    points, tracker = _track(face_models, sample_path("WolfgangLanger_Pexels.mp4"))
    frames = len(points)
    found = int((~np.isnan(points[:, 0, 0])).sum())
    jitter = track_jitter(points)
    print(
        f"frames {frames}, face on {found / frames:.1%}, detector on "
        f"{tracker.detector_runs / frames:.1%}, still pairs {jitter.still_pairs}/"
        f"{jitter.pairs}, jitter {jitter.mean:.3%} of inter-ocular distance"
    )
    assert tracker.frames == frames >= 460  # 19.7 s at 23.976 fps
    assert found >= 0.95 * frames
    assert tracker.detector_runs <= 0.10 * frames
    assert jitter.still_pairs >= 0.10 * jitter.pairs  # enough still frames to judge
    assert jitter.mean <= 0.01


def test_tracker_detects_only_when_the_face_is_lost(face_models: FaceModels) -> None:
    photo = _photo("astronaut.png")
    blank = np.zeros_like(photo)
    tracker = FaceTracker(face_models)
    results = [tracker.update(frame) for frame in (photo, photo, blank, photo)]
    assert [r is not None for r in results] == [True, True, False, True]
    # Frame 0 detects; frame 1 follows the mesh; frame 2 loses it and detects nothing;
    # frame 3 has no track, so it detects again.
    assert (tracker.frames, tracker.detector_runs) == (4, 3)
    first, second = results[0], results[1]
    assert first is not None and second is not None
    drift = np.abs(second.points[:, :2] - first.points[:, :2]).max()
    assert drift < 0.05 * lm.inter_ocular_distance(first.points)
