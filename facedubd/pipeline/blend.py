"""Masks and blending: where the character's face goes over the reference frame."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
FloatImage = npt.NDArray[np.float32]


def polygon_mask(
    shape: tuple[int, int], polygon: npt.ArrayLike, origin: tuple[int, int] = (0, 0)
) -> npt.NDArray[np.uint8]:
    """A 0/255 mask of `shape` with the polygon (image coordinates) filled."""
    mask = np.zeros(shape, dtype=np.uint8)
    pts = np.asarray(polygon, dtype=np.float64)[:, :2] - np.asarray(origin, dtype=np.float64)
    if len(pts) >= 3:
        cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return mask


def shrink_convex(polygon: npt.ArrayLike, inset: float) -> npt.NDArray[np.float64]:
    """A convex polygon scaled about its centroid so that every edge moves inward by at
    least `inset` pixels (a cheap, exact-enough stand-in for an erosion)."""
    pts = np.asarray(polygon, dtype=np.float64)[:, :2]
    centre = pts.mean(axis=0)
    nxt = np.roll(pts, -1, axis=0)
    edge = nxt - pts
    length = np.maximum(np.linalg.norm(edge, axis=1), 1e-9)
    # Distance from the centre to each edge's line.
    reach = np.abs(edge[:, 0] * (centre[1] - pts[:, 1]) - edge[:, 1] * (centre[0] - pts[:, 0]))
    nearest = float((reach / length).min())
    if nearest <= inset:
        return np.repeat(centre[None], len(pts), axis=0)
    return centre + (pts - centre) * (1.0 - inset / nearest)


#: The feathered mask is drawn and blurred at one pixel per this much blur sigma (at
#: least one): a blur that wide is smooth, so enlarging it again loses nothing visible
#: (under 1% of alpha), and big faces no longer pay for a full-resolution blur.
ALPHA_SIGMA_PER_PX = 2.5


def face_alpha(
    shape: tuple[int, int],
    face_points: npt.ArrayLike,
    holes: list[npt.ArrayLike] | tuple[npt.ArrayLike, ...] = (),
    feather_px: float = 6.0,
    origin: tuple[int, int] = (0, 0),
) -> FloatImage:
    """Alpha in [0, 1]: the convex hull of `face_points`, minus each hole polygon
    (e.g. the inner lips, so the reference's teeth and tongue stay), moved inward and
    feathered over about 2 x `feather_px`, so the edge is soft and alpha is zero on and
    beyond the hull. Wide feathers are drawn and blurred at a reduced resolution
    (see ALPHA_SIGMA_PER_PX) and enlarged."""
    pts = np.asarray(face_points, dtype=np.float64)[:, :2]
    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)
    radius = max(round(feather_px), 1)
    sigma = radius / 2.0 + 0.5
    step = max(int(sigma / ALPHA_SIGMA_PER_PX), 1)
    h, w = shape
    hl, wl = -(-h // step), -(-w // step)
    # The blur reaches `radius` pixels; the anti-aliased edge one more.
    mask = polygon_mask(shape, shrink_convex(hull, radius + 1.5), origin)
    for hole in holes:
        mask[polygon_mask(shape, hole, origin) > 127] = 0
    if step > 1:
        # Drawn at full resolution and averaged down over whole step x step blocks (the
        # last ones filled by reflection, as the blur treats the border), so the edge is
        # where a full-resolution mask has it.
        pad = cv2.copyMakeBorder(mask, 0, hl * step - h, 0, wl * step - w, cv2.BORDER_REFLECT_101)
        mask = np.asarray(cv2.resize(pad, (wl, hl), interpolation=cv2.INTER_AREA), np.uint8)
    low_sigma = sigma
    if step > 1:
        # Averaging and enlarging blur a little too (variance about step^2 / 4).
        low_sigma = math.sqrt(max(sigma**2 - step**2 / 4.0, sigma**2 / 4.0)) / step
    low_radius = max(round(radius / step), 1)
    soft = cv2.GaussianBlur(mask, (2 * low_radius + 1, 2 * low_radius + 1), low_sigma)
    alpha = np.asarray(soft, dtype=np.float32) * np.float32(1.0 / 255.0)
    if step > 1:
        size = (wl * step, hl * step)
        big = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
        alpha = np.asarray(big, dtype=np.float32)[:h, :w]
    return np.ascontiguousarray(alpha, dtype=np.float32)


def alpha_blend(
    background: Image, foreground: Image, alpha: FloatImage, into: Image | None = None
) -> Image:
    """background * (1 - alpha) + foreground * alpha, rounded; exact where alpha is 0.
    (`cv2.blendLinear` does it in one pass, many times faster than numpy here.) With
    `into` (e.g. `background` itself, or a view of a frame), the result is written there."""
    weight = np.ascontiguousarray(alpha, dtype=np.float32)
    out = cv2.blendLinear(foreground, background, weight, 1.0 - weight, dst=into)
    if into is not None and out is not into:  # OpenCV could not write there directly
        into[...] = out
        return into
    return np.asarray(out, dtype=np.uint8)


def paste(frame: Image, patch: Image, alpha: FloatImage, origin: tuple[int, int]) -> Image:
    """A copy of `frame` with `patch` blended in at `origin` (x, y) under `alpha`."""
    out = frame.copy()
    x0, y0 = origin
    h, w = alpha.shape
    region = out[y0 : y0 + h, x0 : x0 + w]
    out[y0 : y0 + h, x0 : x0 + w] = alpha_blend(region, patch, alpha)
    return out
