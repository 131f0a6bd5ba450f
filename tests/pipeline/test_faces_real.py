"""Face analysis on real photos and a real video, with the real MediaPipe models in
onnxruntime (the shared cache; fetched and converted on first use).

The landmark boxes were placed by hand: each photo was cut into 8-16x enlarged crops
with a 5 px grid, and the centre of each box is where the eye corner (lids meeting),
nose tip (the ball of the nose, between the highlight and the columella) or mouth
corner (lips meeting) lies. Each box's side is at most 10% of the inter-ocular
distance (outer eye corners)."""

from __future__ import annotations

from collections.abc import Callable
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
def face_models(model_paths: dict[str, Path]) -> FaceModels:
    assert {"face_detection_short_range", "face_landmark"} <= set(model_paths)
    return load_face_models(device="cpu", threads=1)


Sample = Callable[[str], Path]


@pytest.mark.parametrize(
    ("name", "boxes", "side"),
    [
        ("single_face.jpg", SINGLE_FACE, SINGLE_FACE_SIDE),
        ("astronaut.png", ASTRONAUT, ASTRONAUT_SIDE),
    ],
)
def test_one_face_with_landmarks_in_their_hand_checked_boxes(
    face_models: FaceModels,
    name: str,
    boxes: dict[str, tuple[float, float]],
    side: float,
    sample: Sample,
) -> None:
    rgb = load_rgb(sample(name))
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


def test_several_faces_in_a_group_photo(face_models: FaceModels, sample: Sample) -> None:
    rgb = load_rgb(sample("multi_face.jpg"))
    faces = detect_faces(face_models, rgb)
    assert len(faces) == 5
    centres = np.array([f.centre for f in faces])
    distances = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    assert distances[~np.eye(5, dtype=bool)].min() > 60  # five different places
    for face in faces:
        mesh = run_mesh(face_models.mesh, rgb, roi_from_detection(face))
        x, y = mesh.points[lm.NOSE_TIP, :2]
        assert face.box[0] < x < face.box[2] and face.box[1] < y < face.box[3]


def test_no_face_in_a_landscape_drawing(face_models: FaceModels, sample: Sample) -> None:
    assert detect_faces(face_models, load_rgb(sample("free-mountain-vector-01.jpg"))) == []


def test_black_and_white_photo_with_a_small_turned_face(
    face_models: FaceModels, sample: Sample
) -> None:
    rgb = load_rgb(sample("BWPictureHuman.jpg"))
    assert rgb.shape == (1912, 2560, 3)
    faces = detect_faces(face_models, rgb)
    # The shouting soldier's head, hand-checked: x 840-1100, y 350-650 (turned, in profile).
    assert len(faces) == 1
    cx, cy = faces[0].centre
    assert 840 < cx < 1100 and 350 < cy < 650
    mesh = run_mesh(face_models.mesh, rgb, roi_from_detection(faces[0]))
    assert 0.0 <= mesh.presence <= 1.0
    assert np.isfinite(mesh.points).all()


def test_rgba_portrait_is_read_and_analysed(face_models: FaceModels, sample: Sample) -> None:
    rgb = load_rgb(sample("Image_with_alpha.png"))
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
    face_models: FaceModels, sample: Sample
) -> None:
    points, tracker = _track(face_models, sample("WolfgangLanger_Pexels.mp4"))
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


def test_tracker_detects_only_when_the_face_is_lost(
    face_models: FaceModels, sample: Sample
) -> None:
    photo = load_rgb(sample("astronaut.png"))
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


def _found(models: FaceModels, path: Path) -> tuple[np.ndarray, FaceTracker]:
    points, tracker = _track(models, path)
    return ~np.isnan(points[:, 0, 0]), tracker


def test_a_face_that_leaves_is_lost_and_title_lettering_is_not_a_face(
    face_models: FaceModels, sample: Sample
) -> None:
    # face_noface.mov: a man talks to camera for about 3 s, then a cartoon title card.
    found, tracker = _found(face_models, sample("face_noface.mov"))
    print(f"face_noface.mov: {''.join('F' if f else '.' for f in found)}")
    assert found[:60].all()
    assert not found[100:].any()
    assert np.count_nonzero(np.diff(found.astype(int))) == 1  # one change: face -> none
    # Without a track the detector runs on every frame.
    assert tracker.detector_runs == 1 + np.count_nonzero(~found)


def test_a_video_without_faces_gives_none(face_models: FaceModels, sample: Sample) -> None:
    found, tracker = _found(face_models, sample("no_face.mp4"))
    assert len(found) > 60 and not found.any()
    assert tracker.detector_runs == len(found)


def test_frames_of_a_file_that_is_not_a_video_are_refused(tmp_path: Path) -> None:
    from facedubd.errors import UnreadableVideo

    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"not a video at all\n" * 100)
    with pytest.raises(UnreadableVideo, match=r"clip\.mp4 has no video stream"):
        next(iter_video_frames(fake))


def test_reading_stops_early_without_leaving_ffmpeg_behind(sample: Sample) -> None:
    frames = iter_video_frames(sample("single_face.mp4"))
    first = next(frames)
    assert first.shape == (360, 640, 3) and first.dtype == np.uint8
    frames.close()  # stops ffmpeg; no error for the closed pipe
    assert len(list(iter_video_frames(sample("single_face.mp4"), max_frames=5))) == 5


def test_tracker_with_patience_searches_a_long_lost_face_less_often(
    face_models: FaceModels, sample: Sample
) -> None:
    photo = load_rgb(sample("astronaut.png"))
    blank = np.zeros_like(photo)
    tracker = FaceTracker(face_models, patience=2, retry_every=3)
    frames = [photo] + [blank] * 9 + [photo] * 4
    found = [tracker.update(frame) is not None for frame in frames]
    # Frame 0 detects. Frames 1-2 (lost for 0 and 1 frames, within patience) search;
    # after that only every 3rd lost frame does: 3, 6, 9, then 12, which finds the face
    # that came back at frame 10 (10 and 11 are skipped), and 13 follows it.
    assert found == [True] + [False] * 11 + [True, True]
    assert tracker.detector_runs == 1 + 2 + 3 + 1
