"""Image conversion and the ffmpeg decode arguments used by face analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facedubd.pipeline.face.detect import Detection
from facedubd.pipeline.face.frames import decode_args, to_rgb
from facedubd.pipeline.face.track import nearest_detection


def test_grey_becomes_three_equal_channels() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = to_rgb(grey)
    assert rgb.shape == (3, 4, 3)
    assert (rgb[:, :, 0] == grey).all() and (rgb[:, :, 2] == grey).all()


def test_alpha_is_composited_over_black() -> None:
    rgba = np.zeros((1, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (200, 100, 50, 255)
    rgba[0, 1] = (200, 100, 50, 0)
    rgb = to_rgb(rgba)
    assert rgb[0, 0].tolist() == [200, 100, 50]
    assert rgb[0, 1].tolist() == [0, 0, 0]


def test_decode_args_ask_for_raw_rgb_frames_on_stdout() -> None:
    args = decode_args(Path("clip.mp4"), max_frames=10, start_s=1.5)
    assert args[:4] == ["ffmpeg", "-v", "error", "-nostdin"]
    assert args[args.index("-ss") + 1] == "1.500"
    assert args.index("-ss") < args.index("-i")
    assert args[args.index("-frames:v") + 1] == "10"
    assert args[-5:] == ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    assert "-ss" not in decode_args(Path("clip.mp4"))


@pytest.mark.parametrize(("last", "expected"), [(None, 0), ((95.0, 20.0), 1), ((0.0, 0.0), 0)])
def test_nearest_detection_prefers_the_last_tracked_place(
    last: tuple[float, float] | None, expected: int
) -> None:
    points = np.zeros((6, 2), np.float32)
    detections = [
        Detection((0.0, 0.0, 20.0, 20.0), points, 0.9),
        Detection((80.0, 0.0, 100.0, 20.0), points, 0.7),
    ]
    assert nearest_detection(detections, last) is detections[expected]


def test_mesh_and_detector_agree_on_a_face_and_not_on_a_shifted_one() -> None:
    from facedubd.pipeline.face import landmarks as lm
    from facedubd.pipeline.face.track import keypoint_disagreement

    points = np.zeros((468, 3), np.float32)
    points[[lm.RIGHT_EYE_OUTER, lm.RIGHT_EYE_INNER], :2] = [(0, 0), (40, 0)]
    points[[lm.LEFT_EYE_INNER, lm.LEFT_EYE_OUTER], :2] = [(60, 0), (100, 0)]
    points[lm.NOSE_TIP, :2] = (50, 40)
    points[[lm.UPPER_INNER_LIP, lm.LOWER_INNER_LIP], :2] = [(50, 70), (50, 74)]
    keypoints = np.array([(20, 0), (80, 0), (50, 40), (50, 72), (0, 0), (0, 0)], np.float32)
    assert keypoint_disagreement(keypoints, points) == pytest.approx(0.0)
    shifted = keypoints.copy()
    shifted[:, 0] += 10.0
    assert keypoint_disagreement(shifted, points) == pytest.approx(0.1)
