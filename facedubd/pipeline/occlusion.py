"""Hands in front of the face: where the reference's hand covers its face, the dubbed
frame keeps the reference's own pixels (the face layer and the frame reshape give way).

The hands come from the tracking thread (`face.hands.FaceAndHandTracker`: 21 landmarks
each); here they only become a mask (`face.hands.hand_mask`: palm and fingers a finger
thick, grown and feathered) inside the region the dub changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from facedubd.pipeline import blend
from facedubd.pipeline.face.hands import hand_box, hand_mask

Image = npt.NDArray[np.uint8]


def hands_of(mesh: Any) -> tuple[np.ndarray, ...]:
    """The hands a tracked face carries (none for a bare mesh or point array)."""
    return tuple(getattr(mesh, "hands", ()) or ())


def keep_hands(
    dubbed: Image, frame: Image, hands: Sequence[np.ndarray], box: tuple[int, int, int, int]
) -> Image:
    """`dubbed` with the reference `frame`'s pixels put back (in place) under each hand,
    inside `box` (x0, y0, x1, y1: the region the dub changed)."""
    where = hand_box(list(hands), box) if hands else None
    if where is None:
        return dubbed
    x0, y0, x1, y1 = where
    coverage = hand_mask((y1 - y0, x1 - x0), list(hands), origin=(x0, y0))
    if not coverage.any():
        return dubbed
    dubbed[y0:y1, x0:x1] = blend.alpha_blend(dubbed[y0:y1, x0:x1], frame[y0:y1, x0:x1], coverage)
    return dubbed
