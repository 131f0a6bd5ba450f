"""The real face and hand models, opened once per test module (CPU, one thread each, as
the pipeline runs them on this kind of machine)."""

from __future__ import annotations

import cv2
import pytest

from facedubd.pipeline.face import FaceModels, load_face_models
from facedubd.pipeline.face import hands as H


@pytest.fixture(scope="module")
def face_models() -> FaceModels:
    cv2.setNumThreads(1)
    return load_face_models(device="cpu", threads=1)


@pytest.fixture(scope="module")
def hand_models() -> H.HandModels:
    return H.load_hand_models(device="cpu", threads=1, palm=True)
