"""A hand in front of the reference's face stays in the dub.

The astronaut onto WolfgangLanger_Pexels.mp4: from about 2.5 s to 9.5 s the woman's hand
is over her face (fingers over nose and eye at 4.5 s, over the mouth at 6.5-8 s). The
polygons below were drawn by hand on three frames (viewed at 3x, pixel coordinates of
the 640x360 frame, kept a little inside the fingers' edges). Inside them, eroded by 3 px,
the dubbed frame must be the reference's own pixels; the same dub without the hands
paints the character's face there. Grace Hopper onto single_face.mp4 has no hands."""

from __future__ import annotations

import dataclasses
import time

import cv2
import numpy as np
import pytest

from facedubd.pipeline import dub
from facedubd.pipeline.face import FaceModels, FaceTracker
from facedubd.pipeline.face import hands as H
from facedubd.pipeline.face.frames import iter_video_frames, load_rgb
from facedubd.samples import sample_path

pytestmark = pytest.mark.slow

#: Frame index -> hand polygons (x, y), drawn on the reference frames.
HAND_POLYGONS: dict[int, list[list[tuple[int, int]]]] = {
    108: [  # 4.5 s: fingers up over the nose and the right eye
        [
            (318, 359), (322, 318), (340, 280), (356, 252), (372, 234), (390, 212),
            (404, 188), (412, 180), (418, 186), (428, 204), (430, 212), (420, 230),
            (405, 252), (392, 275), (380, 300), (370, 330), (366, 359),
        ],
        [
            (448, 262), (456, 262), (452, 280), (440, 305), (430, 335), (422, 359),
            (405, 359), (412, 330), (425, 300), (437, 278),
        ],
    ],
    156: [  # 6.5 s: three fingers over the nostril and the mouth's corner
        [
            (306, 359), (309, 330), (315, 300), (324, 270), (331, 235), (334, 205),
            (340, 196), (347, 199), (352, 210), (360, 190), (367, 180), (377, 178),
            (383, 185), (384, 205), (386, 225), (395, 236), (405, 232), (414, 236),
            (418, 246), (414, 265), (405, 290), (396, 320), (388, 345), (384, 359),
        ]
    ],
    192: [  # 8.0 s: the same, fingertips under the nose
        [
            (308, 359), (314, 325), (318, 292), (328, 260), (338, 230), (343, 210),
            (351, 203), (358, 208), (365, 212), (372, 200), (380, 186), (390, 186),
            (396, 197), (402, 202), (410, 202), (416, 212), (415, 240), (410, 262),
            (400, 285), (395, 320), (388, 359),
        ]
    ],
}  # fmt: skip
ERODE_PX = 3
#: Inside the hand the output must be the reference's: PSNR at least this, in dB.
MIN_PSNR = 30.0
#: A dub without the hands differs clearly there (the character's face).
BARE_MAX_PSNR = 25.0
#: The hand is over or at the face from about 2.6 s to 9.5 s; none before 2.3 s.
HAND_SPAN = (64, 228)
NO_HAND_BEFORE = 55
FRAMES = 240


@dataclasses.dataclass
class HandRun:
    frames: list[np.ndarray]
    hands: list[tuple[np.ndarray, ...]]
    out: list[np.ndarray]
    bare: list[np.ndarray]
    tracker: H.HandTracker
    hand_ms: float
    faces: list[H.FaceWithHands | None]


def _dub_with_hands(
    face_models: FaceModels,
    hand_models: H.HandModels,
    photo: str,
    video: str,
    frames: int,
    keep: set[int],
) -> HandRun:
    """Track face and hands, then dub every frame twice: with the hands and without."""
    clip = [f.copy() for f in iter_video_frames(sample_path(video), max_frames=frames)]
    faces = FaceTracker(face_models)
    hands = H.HandTracker(hand_models)
    tracked: list[H.FaceWithHands | None] = []
    hand_cpu = 0.0
    for frame in clip:
        face = faces.update(frame)
        started = time.thread_time()
        found = hands.update(frame, face)
        hand_cpu += time.thread_time() - started
        tracked.append(None if face is None else H.attach_hands(face, found))
    scores = [
        dub.keyframe_score(f, m) if m is not None else -np.inf
        for f, m in zip(clip, tracked, strict=True)
    ]
    key = tracked[int(np.argmax(scores))]
    character = dub.build_character(face_models, load_rgb(sample_path(photo)))
    with_hands = dub.Dubber(character, key)
    without = dub.Dubber(character, key)
    out, bare = [], []
    for i, (frame, face) in enumerate(zip(clip, tracked, strict=True)):
        plain = None if face is None else face.points
        dubbed, dubbed_bare = with_hands.process(frame, face), without.process(frame, plain)
        out.append(dubbed if i in keep else dubbed[:1])
        bare.append(dubbed_bare if i in keep else dubbed_bare[:1])
    found_hands = [() if t is None else t.hands for t in tracked]
    return HandRun(clip, found_hands, out, bare, hands, hand_cpu * 1000 / len(clip), tracked)


@pytest.fixture(scope="module")
def wolfgang(face_models: FaceModels, hand_models: H.HandModels) -> HandRun:
    run = _dub_with_hands(
        face_models,
        hand_models,
        "astronaut.png",
        "WolfgangLanger_Pexels.mp4",
        FRAMES,
        set(HAND_POLYGONS),
    )
    with_hand = sum(1 for h in run.hands if h)
    print(
        f"\n[hands] {len(run.frames)} frames, hand on {with_hand}, landmark runs "
        f"{run.tracker.model_runs}, palm runs {run.tracker.palm_runs}, "
        f"hand tracking {run.hand_ms:.2f} ms/frame (CPU)"
    )
    return run


def _labelled(index: int, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for polygon in HAND_POLYGONS[index]:
        cv2.fillPoly(mask, [np.array(polygon, np.int32)], 255)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ERODE_PX + 1,) * 2)
    return np.asarray(cv2.erode(mask, kernel) > 0)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def test_the_hand_is_followed_while_it_is_at_the_face(wolfgang: HandRun) -> None:
    on = [bool(h) for h in wolfgang.hands]
    start, end = HAND_SPAN
    assert sum(on[start:end]) >= 0.9 * (end - start), sum(on[start:end])
    assert not any(on[:NO_HAND_BEFORE])
    for index in HAND_POLYGONS:
        assert len(wolfgang.hands[index]) == 1, index


@pytest.mark.parametrize("index", sorted(HAND_POLYGONS))
def test_inside_the_hand_the_output_is_the_reference(wolfgang: HandRun, index: int) -> None:
    frame = wolfgang.frames[index]
    inside = _labelled(index, frame.shape[:2])
    assert inside.sum() > 5000  # the polygons are big enough to mean something
    coverage = H.hand_mask(frame.shape[:2], list(wolfgang.hands[index]))
    # The mask covers the labelled hand (a fingertip's last pixels may be feathered).
    covered = float(np.mean(coverage[inside] >= 0.99))
    got = _psnr(wolfgang.out[index][inside], frame[inside])
    bare = _psnr(wolfgang.bare[index][inside], frame[inside])
    diff = np.abs(wolfgang.out[index][inside].astype(int) - frame[inside].astype(int))
    print(f"\n[hands] frame {index}: covered {covered:.4f}, PSNR {got:.1f} dB, "
          f"mean |diff| {diff.mean():.3f}; "
          f"without hands {bare:.1f} dB")  # fmt: skip
    assert got >= MIN_PSNR
    assert covered >= 0.9, covered
    assert bare < BARE_MAX_PSNR


@pytest.mark.parametrize("index", sorted(HAND_POLYGONS))
def test_away_from_the_hand_the_dub_is_unchanged(wolfgang: HandRun, index: int) -> None:
    frame = wolfgang.frames[index]
    coverage = H.hand_mask(frame.shape[:2], list(wolfgang.hands[index]))
    away = coverage == 0.0
    assert away.mean() > 0.8
    np.testing.assert_array_equal(wolfgang.out[index][away], wolfgang.bare[index][away])
    assert not np.array_equal(wolfgang.out[index], wolfgang.bare[index])


def test_the_palm_probe_finds_the_hand_and_the_landmarks_confirm_it(
    wolfgang: HandRun, hand_models: H.HandModels
) -> None:
    """The palm detector (an optional probe) over the face's surroundings at 2.5 s, when
    the hand comes up to the mouth with its palm in the picture."""
    index = 60
    face = wolfgang.faces[index]
    assert face is not None
    frame = wolfgang.frames[index]
    box = H.search_box(face.roi, frame.shape[:2])
    assert hand_models.palm is not None
    palms = H.detect_palms(hand_models.palm, frame, box)
    assert palms, "no palm found"
    roi, score = palms[0]
    assert score >= H.PALM.score_threshold
    hand = H.run_hand(hand_models.landmarks, frame, roi)
    print(f"\n[hands] palm probe at frame {index}: score {score:.2f}, presence {hand.presence:.2f}")
    assert hand.presence >= H.HAND_PRESENCE
    assert H.near_face(hand.points, face.roi)
    # The landmarks found from the palm agree with the tracked hand (if it was followed).
    if wolfgang.hands[index]:
        tracked = wolfgang.hands[index][0]
        spread = float(np.linalg.norm(np.ptp(tracked[:, :2], axis=0)))
        assert (
            float(np.linalg.norm(hand.points[:, :2] - tracked[:, :2], axis=1).mean())
            < 0.25 * spread
        )


def test_no_hand_is_found_on_a_clip_without_hands(
    face_models: FaceModels, hand_models: H.HandModels
) -> None:
    run = _dub_with_hands(
        face_models, hand_models, "grace_hopper.jpg", "single_face.mp4", 72, set()
    )
    assert not any(run.hands)
    # Searching costs one model run every PROBE_EVERY frames, no more.
    assert run.tracker.model_runs <= len(run.frames) // H.PROBE_EVERY + 1
    assert run.tracker.palm_runs == 0  # the palm detector is not among the default probes
    print(f"\n[hands] single_face: {len(run.frames)} frames, {run.tracker.model_runs} probes, "
          f"{run.hand_ms:.2f} ms/frame (CPU)")  # fmt: skip
