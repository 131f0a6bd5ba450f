"""SSD anchors of MediaPipe's two BlazeFace detectors (notes/MEDIAPIPE.md).

Anchors have a fixed size (w = h = 1), so only their centres matter. Consecutive
layers with the same stride share one grid; each layer adds `anchors_per_layer`
anchors to every cell of that grid. Cells run row-major; a cell's anchors are
consecutive; a centre is ((x + 0.5) / n, (y + 0.5) / n) in [0, 1]."""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class DetectorSpec:
    """What differs between the short-range and the full-range detector."""

    name: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int
    score_threshold: float


SHORT_RANGE = DetectorSpec(
    name="face_detection_short_range",
    input_size=128,
    strides=(8, 16, 16, 16),
    anchors_per_layer=2,
    score_threshold=0.5,
)
FULL_RANGE = DetectorSpec(
    name="face_detection_full_range_sparse",
    input_size=192,
    strides=(4,),
    anchors_per_layer=1,
    score_threshold=0.6,
)


def _stride_groups(strides: tuple[int, ...]) -> list[tuple[int, int]]:
    """(stride, number of consecutive layers with that stride)."""
    groups: list[tuple[int, int]] = []
    for stride in strides:
        if groups and groups[-1][0] == stride:
            groups[-1] = (stride, groups[-1][1] + 1)
        else:
            groups.append((stride, 1))
    return groups


def grid_centres(cells: int, repeat: int) -> np.ndarray:
    """Centres of a `cells` x `cells` grid, row-major, each repeated `repeat` times."""
    ys, xs = np.mgrid[0:cells, 0:cells]
    centres = np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1)
    return np.repeat(centres, repeat, axis=0).astype(np.float32)


def ssd_anchors(spec: DetectorSpec) -> np.ndarray:
    """Anchor centres, shape (N, 2), in the order of the model's N outputs."""
    parts = [
        grid_centres(math.ceil(spec.input_size / stride), layers * spec.anchors_per_layer)
        for stride, layers in _stride_groups(spec.strides)
    ]
    return np.concatenate(parts, axis=0)
