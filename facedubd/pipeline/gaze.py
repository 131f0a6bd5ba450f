"""Gaze transfer: the character's iris drawn where the reference's is (pure parts).

The photo's eyes never move with the mesh: its irises are part of the texture. Once per
character (`photo_eyes`) each iris is lifted off the texture: the texture gets a copy
whose iris discs, inside the eye opening, are filled row by row from the sclera on
either side (`fill_iris`), and the iris itself becomes a small disc patch whose parts
hidden by the photo's lids are filled from the visible side (`iris_patch`). Per frame
(`draw_eye`), inside the target's lid opening, that iris-free eye (warped as the face
is) is laid over the face, and the iris disc is drawn on it at the reference's
position in the eye's corner frame (`face.iris`), scaled and turned with the eye's
corners, clipped by the target lids (anti-aliased, so feathered by a pixel). The move
fades in between MOVE_FROM and MOVE_FULL corner distances of difference between the
two gazes: a reference that looks as the photo does leaves the face untouched."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import numpy.typing as npt

from facedubd.pipeline.face.iris import EyeGaze, corner_frame, from_eye

Image = npt.NDArray[np.uint8]
Points = npt.NDArray[np.float64]

#: The iris model's radius is the iris's sharp edge; on a small or soft photo the dark
#: limbus spreads beyond it. The iris is lifted off the photo out to LIFT_RADIUS iris
#: radii, and drawn out to IRIS_EDGE radii, fading out from 1 (the photo's own ring
#: between iris and sclera comes with it).
LIFT_RADIUS = 1.45
IRIS_EDGE = 1.35
#: A photo iris less than this share visible between its lids is not moved.
MIN_VISIBLE = 0.35
#: The move fades in from this difference (corner distances) between the gazes, fully
#: at MOVE_FULL: under a pixel's difference nothing is drawn.
MOVE_FROM = 0.02
MOVE_FULL = 0.05
#: The iris centre is kept this far inside the corners (corner distances, plus its
#: radius) and this far above or below the corner line.
MAX_ALONG = 0.5
MAX_ACROSS = 0.3


@dataclasses.dataclass(frozen=True, eq=False)
class IrisPatch:
    """One photo iris: RGB patch (float32) with the iris disc's alpha (0-1) as a fourth
    channel, the iris centre in patch pixels, and its radius in pixels."""

    rgba: npt.NDArray[np.float32]
    centre: tuple[float, float]
    radius: float


@dataclasses.dataclass(frozen=True, eq=False)
class PhotoEyes:
    """What gaze transfer needs of the photo: its gaze per eye (subject's right, left;
    None where it is not moved), the iris patches, and the texture without irises."""

    gaze: tuple[EyeGaze | None, EyeGaze | None]
    irises: tuple[IrisPatch | None, IrisPatch | None]
    sclera: Image


def disc(shape: tuple[int, int], centre: npt.ArrayLike, radius: float) -> npt.NDArray[np.float32]:
    """An anti-aliased disc, 0-1 (pixel centres at integer coordinates)."""
    h, w = shape
    cx, cy = (float(v) for v in np.asarray(centre, dtype=np.float64)[:2])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    return np.asarray(np.clip(radius + 0.5 - dist, 0.0, 1.0), dtype=np.float32)


def fill_iris(image: Image, lifted: npt.NDArray[np.bool_], opening: npt.NDArray[np.bool_]) -> Image:
    """`image` with the `lifted` pixels inside `opening` filled row by row by straight
    lines between the nearest kept opening pixels left and right of them (one side's
    colour where only one side has any; untouched where neither has)."""
    out = image.copy()
    fill = lifted & opening
    keep = opening & ~lifted
    for y in np.nonzero(fill.any(axis=1))[0]:
        kept = np.nonzero(keep[y])[0]
        if kept.size == 0:
            continue
        xs = np.nonzero(fill[y])[0]
        values = image[y, kept].astype(np.float64)
        for c in range(image.shape[2]):
            out[y, xs, c] = np.round(np.interp(xs, kept, values[:, c])).astype(np.uint8)
    return out


def iris_patch(
    texture: Image, centre: npt.ArrayLike, radius: float, visible: npt.NDArray[np.bool_]
) -> IrisPatch | None:
    """The iris disc at `centre` (texture pixels; out to IRIS_EDGE times `radius`, its
    alpha fading out from `radius`) cut from the texture, its pixels that
    `visible` (the eye opening) leaves out taken from the mirror image about the centre
    (up-down first, then left-right), the rest from the visible iris's mean colour;
    None when less than MIN_VISIBLE of the disc is visible."""
    cx, cy = (float(v) for v in np.asarray(centre, dtype=np.float64)[:2])
    half = math.ceil(IRIS_EDGE * radius) + 2
    x0, y0 = round(cx) - half, round(cy) - half
    side = 2 * half + 1
    h, w = texture.shape[:2]
    if x0 < 0 or y0 < 0 or x0 + side > w or y0 + side > h or radius < 1.5:
        return None
    rgb = texture[y0 : y0 + side, x0 : x0 + side].astype(np.float32)
    seen = visible[y0 : y0 + side, x0 : x0 + side].copy()
    local = (cx - x0, cy - y0)
    inside = disc((side, side), local, IRIS_EDGE * radius) > 0.5
    if not inside.any() or (seen & inside).sum() < MIN_VISIBLE * inside.sum():
        return None
    ys, xs = np.nonzero(inside & ~seen)
    mean = rgb[seen & inside].mean(axis=0)
    for y, x in zip(ys, xs, strict=True):
        for my, mx in ((round(2 * local[1] - y), x), (y, round(2 * local[0] - x))):
            if 0 <= my < side and 0 <= mx < side and seen[my, mx] and inside[my, mx]:
                rgb[y, x] = rgb[my, mx]
                break
        else:
            rgb[y, x] = mean
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    dist = np.hypot(xs - local[0], ys - local[1]) / radius
    alpha = np.clip((IRIS_EDGE - dist) / (IRIS_EDGE - 1.0), 0.0, 1.0)
    return IrisPatch(np.dstack([rgb, alpha]).astype(np.float32), local, float(radius))


def photo_eyes(
    texture: Image,
    mesh: Points,
    loops: tuple[npt.NDArray[np.integer], npt.NDArray[np.integer]],
    corners: tuple[tuple[int, int], tuple[int, int]],
    gaze: tuple[EyeGaze | None, EyeGaze | None],
) -> PhotoEyes | None:
    """The photo's eyes for gaze transfer from its texture, its mesh there (texture
    pixels), each eye's opening loop and corner indices, and its measured gaze; None
    unless both irises can be lifted (one eye moving alone would squint)."""
    sclera = texture
    patches: list[IrisPatch] = []
    for loop, (a, b), eye in zip(loops, corners, gaze, strict=True):
        if eye is None:
            return None
        left, right = mesh[a, :2], mesh[b, :2]
        _, _, width = corner_frame(left, right)
        centre = from_eye((eye.x, eye.y), left, right)
        radius = eye.radius * width
        opening = np.zeros(texture.shape[:2], np.uint8)
        polygon = np.round(mesh[loop, :2] * 16).astype(np.int32)
        cv2.fillPoly(opening, [polygon], 255, cv2.LINE_8, 4)
        inside = opening > 0
        patch = iris_patch(texture, centre, radius, inside)
        if patch is None:
            return None
        patches.append(patch)
        lifted = disc(texture.shape[:2], centre, LIFT_RADIUS * radius) > 0
        sclera = fill_iris(sclera, lifted, inside)
    return PhotoEyes((gaze[0], gaze[1]), (patches[0], patches[1]), sclera)


def move_strength(photo: EyeGaze, wanted: npt.ArrayLike) -> float:
    """How much of the redrawn eye shows: 0 while the wanted (x, y) is within MOVE_FROM
    of the photo's own gaze, 1 from MOVE_FULL."""
    d = float(np.hypot(*(np.asarray(wanted, dtype=np.float64)[:2] - [photo.x, photo.y])))
    return float(np.clip((d - MOVE_FROM) / (MOVE_FULL - MOVE_FROM), 0.0, 1.0))


def clamp_gaze(xy: npt.ArrayLike, radius: float) -> Points:
    """(x, y) kept where an iris of `radius` (corner distances) can sit in an eye."""
    x, y = np.asarray(xy, dtype=np.float64)[:2]
    reach = max(MAX_ALONG - 0.6 * radius, 0.0)
    return np.array([np.clip(x, -reach, reach), np.clip(y, -MAX_ACROSS, MAX_ACROSS)])


def iris_placement(
    patch: IrisPatch,
    photo_corners: tuple[npt.ArrayLike, npt.ArrayLike],
    target_corners: tuple[npt.ArrayLike, npt.ArrayLike],
    wanted: npt.ArrayLike,
    origin: tuple[float, float] = (0.0, 0.0),
) -> npt.NDArray[np.float64]:
    """The 2 x 3 affine taking patch pixels to image pixels (less `origin`): scaled and
    turned as the eye's corners are from photo to target, the iris centre landing at
    `wanted` (x, y) in the target eye's corner frame."""
    _, along_p, width_p = corner_frame(*photo_corners)
    _, along_t, width_t = corner_frame(*target_corners)
    scale = width_t / max(width_p, 1e-9)
    turn = math.atan2(along_t[1], along_t[0]) - math.atan2(along_p[1], along_p[0])
    c, s = math.cos(turn) * scale, math.sin(turn) * scale
    linear = np.array([[c, -s], [s, c]])
    goal = from_eye(wanted, *target_corners) - np.asarray(origin, dtype=np.float64)
    offset = goal - linear @ np.asarray(patch.centre, dtype=np.float64)
    return np.hstack([linear, offset[:, None]])


def draw_eye(
    face: Image,
    sclera: Image,
    patch: IrisPatch,
    placement: npt.NDArray[np.float64],
    lids: npt.NDArray[np.uint8],
    strength: float,
) -> None:
    """Redraw one eye in place: inside `lids` (the target's lid opening, 0-255,
    anti-aliased) `face` becomes `sclera` (the iris-free eye, same box) with the iris
    `patch` laid over it through `placement` (patch -> box pixels), mixed in by
    `strength`. All arrays cover the same box."""
    h, w = face.shape[:2]
    iris = cv2.warpAffine(
        patch.rgba, placement, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    inside = lids.astype(np.float32) * np.float32(strength / 255.0)
    base = sclera.astype(np.float32)
    eye = base + (iris[:, :, :3] - base) * (iris[:, :, 3:4])
    mixed = face.astype(np.float32)
    mixed += (eye - mixed) * inside[:, :, None]
    face[:] = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
