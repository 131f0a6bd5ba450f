"""The face half of the pipeline: the character model, its views, the keyframe score,
the preview composite and the per-frame dub.

How a frame is dubbed (docs/PIPELINE.md has the longer story):

1. The reference mesh is smoothed over time (One-Euro).
2. Its head pose relative to the keyframe is a similarity Procrustes fit on the rigid
   upper-face points; undoing it gives the reference's expression in a pose-free frame,
   and its per-point change from the keyframe is the expression delta.
3. The target mesh is the CHARACTER's pose-free shape (identity) plus that delta, with
   the eye and mouth openings set explicitly (eyes: the character's opening scaled by
   the reference's blink ratio; mouth: the reference's gap scaled to the character's
   mouth width; the chin follows the lower lip; a photo smiling with its teeth showing
   takes the reference's lip shape), then put back into the reference's head pose.
4. The reference frame itself is reshaped around the face: one piecewise-affine warp
   over the mesh triangles plus a strip out to a ring of fixed anchors (just inside the
   reference's face hull grown by RESHAPE_HULL) moves its jaw, cheeks and face outline
   onto the target mesh, so the silhouette around the pasted face is the character's,
   and nothing beyond the anchors changes.
5. The character's photo is warped onto the target mesh (the same triangle-id map, a
   second remap); where the reference's gaze (measured by the tracking thread, see
   `face/iris.py`) differs from the photo's, the character's iris is redrawn at the
   reference's place in the eye, inside the target lids (`gaze.py`); the reference's
   own mouth interior (for a photo smiling with its
   teeth, its whole lips) is warped into the target's lip opening (lips), colours
   are matched to the reference (LAB statistics, smoothed over time), and the face
   is blended over the reshaped frame with a feathered mask. As a reference eye shuts,
   the face layer gives way over that eye to the reference's own (reshaped) closed
   lids.
6. Where the reference's hand covers the face (hands come with the tracked face, see
   `face/hands.py`), the reference's own pixels are put back (`occlusion.py`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt

from facedubd.errors import FaceTooSmall, NoFaceInPhoto
from facedubd.pipeline import blend, colour, gaze, geometry, occlusion
from facedubd.pipeline.face import iris
from facedubd.pipeline.face import landmarks as lm
from facedubd.pipeline.filters import OneEuroFilter
from facedubd.pipeline.meshtopo import Hole, Topology, build_topology
from facedubd.pipeline.types import VIEW_NAMES

if TYPE_CHECKING:
    from facedubd.pipeline.face import FaceModels

Image = npt.NDArray[np.uint8]
Points = npt.NDArray[np.float64]

#: A photo's face must be at least this many pixels between the outer eye corners.
MIN_EYE_DISTANCE_PX = 24.0
#: The photo crop kept as the character's texture: this many face sizes around the face.
TEXTURE_MARGIN = 1.0
#: Side of the rendered views, pixels.
VIEW_SIZE = 512
#: The share of the reference's expression change kept away from the mouth and eyes.
EXPRESSION_FLOOR = 0.2
#: Faces at least this many pixels across get their warp maps at half resolution.
HALF_RES_MAPS_PX = 96
#: Bigger faces space their map samples one pixel further apart per this many pixels
#: of eye distance (see `map_step`), at most MAX_MAP_STEP pixels apart.
MAP_STEP_EYE_PX = 72.0
MAX_MAP_STEP = 4
#: Lip gap over mouth width above which the reference's mouth interior is shown,
#: and the gap from which it is shown fully (in between it fades in: a barely parted
#: mouth's "interior" is mostly the reference's own lips).
MOUTH_OPEN = 0.0
MOUTH_SHOWN = 0.03
#: A photo whose lip gap over mouth width is above this was taken with the mouth open
#: (a smile showing teeth): it has no closed lips to show, so the dub shows the
#: reference's own lips, moved onto the character's mouth (see `_reference_lips`).
PHOTO_MOUTH_OPEN = 0.08
#: Those lips fade in over this share of the mouth's width inside their outline.
LIP_FEATHER = 0.04
#: A hand over the photo's face is masked out grown by this many finger widths each
#: side and feathered over twice this many (wider than a reference hand's 0.35 and 0.3:
#: the photo's landmarks are one guess, not a track, and at the narrower mask a streak
#: of finger edge stayed over the eye of Image_with_alpha.png).
PHOTO_HAND_GROW = 0.6
PHOTO_HAND_FEATHER = 1.0
#: `lm.OUTER_LIP` as an index array.
OUTER_LIP = np.asarray(lm.OUTER_LIP, dtype=np.int64)
#: The reference frame itself is reshaped (its jaw, cheeks and face outline moved onto
#: the character's) inside its face hull grown by this much: a ring of fixed anchors
#: sits on that boundary, so the frame outside it is untouched.
RESHAPE_HULL = 1.12
#: A target outline point is kept within this share of the way to its anchor.
RESHAPE_REACH = 0.92
#: A reference eye this fraction as open as in the keyframe counts as shut.
BLINK_FLOOR = 0.55
#: The most an eye opens, in the character's own eye openings.
MAX_EYE_RATIO = 1.4
#: Below BLINK_SHOW_FROM of its keyframe opening, the reference's own eye shows through
#: the face layer, fully at BLINK_SHOW_FULL; EYE_PATCH is that patch's size (ellipse
#: axes) in eye widths (corner to corner). The ramp is short: in between, the photo's
#: open eye and the reference's shut lids show through each other (a ghost), and the
#: mesh reads a squeezed-shut eye under a hand at 0.8-0.87 of open (demo clip, 4-5 s).
BLINK_SHOW_FROM = 0.92
BLINK_SHOW_FULL = 0.8
EYE_PATCH = (1.3, 0.78)
#: The turned views are rendered this much further than asked: a single photo has no
#: far cheek or ear to show, and the sides are turned flatter (VIEW_SIDE_DEPTH), so the
#: face reads as about two thirds of its mesh rotation.
VIEW_TURN_GAIN = 1.5
#: In a view, the mesh's depth behind the eye corners is turned at this share: the
#: photo shows the side of the face edge-on, and at the mesh's full depth a turn swung
#: the near cheek out past the head (a bulge of a few pixels drawn wide).
VIEW_SIDE_DEPTH = 0.6
VIEW_YAW: dict[str, float] = {
    "front": 0.0,
    "three_quarter_left": 30.0,
    "three_quarter_right": -30.0,
    "close_up": 0.0,
}


# --------------------------------------------------------------------------- frames


def canonical_frame(points: npt.ArrayLike) -> geometry.Similarity:
    """The similarity taking pose-free coordinates (frontal, centred on the face,
    1 unit = the 3-D outer-eye-corner distance) to these image points."""
    pts = np.asarray(points, dtype=np.float64)
    rotation = lm.face_frame(pts)
    scale = float(np.linalg.norm(pts[lm.LEFT_EYE_OUTER] - pts[lm.RIGHT_EYE_OUTER]))
    return geometry.Similarity(scale, rotation, pts.mean(axis=0))


def rigid_points(free: Points) -> npt.NDArray[np.int64]:
    """Indices of points that move little with expression: the forehead, temples and
    nose, above the nose tip and away from the eyes and brows (pose-free coordinates)."""
    right = free[[lm.RIGHT_EYE_OUTER, lm.RIGHT_EYE_INNER]].mean(axis=0)
    left = free[[lm.LEFT_EYE_OUTER, lm.LEFT_EYE_INNER]].mean(axis=0)
    near_eye = np.minimum(
        np.linalg.norm(free[:, :2] - right[:2], axis=1),
        np.linalg.norm(free[:, :2] - left[:2], axis=1),
    )
    above_nose = free[:, 1] <= free[lm.NOSE_TIP, 1] + 0.02
    keep = np.nonzero(above_nose & (near_eye > 0.42))[0]
    return keep if len(keep) >= 20 else np.nonzero(above_nose)[0]


def robust_pose(src: Points, dst: Points) -> geometry.Similarity:
    """Similarity src -> dst, refitted once with outliers (moving points) down-weighted."""
    fit = geometry.procrustes(src, dst)
    residual = np.linalg.norm(fit.apply(src) - dst, axis=1)
    scale = float(np.partition(residual, len(residual) // 2)[len(residual) // 2]) * 2.0 + 1e-6
    weights = 1.0 / (1.0 + (residual / scale) ** 2)
    return geometry.procrustes(src, dst, weights=weights)


# --------------------------------------------------------------------------- the character


@dataclasses.dataclass(frozen=True, eq=False)
class Character:
    """The character's face model: texture (a crop of the photo), its mesh in texture
    pixels, the mesh topology, and the pose-free shape (identity)."""

    texture: Image
    mesh: Points
    topology: Topology
    shape: Points
    pose: lm.HeadPose
    origin: tuple[int, int]
    #: Pose-free y above which the photo shows hair, not skin (the mask stops there).
    forehead_y: float
    #: The same crop with the photo's own mouth (teeth, lips as photographed): the views
    #: show the character as photographed; only the dub needs the mouth painted out.
    portrait: Image
    #: The photo's mouth is open (PHOTO_MOUTH_OPEN): the lips come from the reference.
    lips_from_reference: bool = False
    #: Where the photo's own hand covers its face (texture-sized, 0-255; None: no hand):
    #: the photo does not show the face there, so the dub shows the reference's.
    occluded: Image | None = None
    #: The photo's irises lifted off for gaze transfer (`with_photo_gaze`; None: the
    #: photo's eyes stay as photographed).
    eyes: gaze.PhotoEyes | None = None

    @functools.cached_property
    def soft_portrait(self) -> Image:
        """The portrait blurred by VIEW_STRETCH_BLUR, for what a turned view stretches
        (made once, shared by the views)."""
        return np.asarray(cv2.GaussianBlur(self.portrait, (0, 0), VIEW_STRETCH_BLUR), np.uint8)


def photo_points(character: Character) -> Points:
    """The character's mesh in photo pixels (its texture is a crop of the photo)."""
    return character.mesh + np.array([*character.origin, 0.0])


def with_photo_hands(character: Character, hands: tuple[np.ndarray, ...]) -> Character:
    """The character with `hands` (photo pixels, `face.hands.photo_hands`) marked as
    covering its texture; unchanged without hands."""
    from facedubd.pipeline.face.hands import hand_mask

    if not hands:
        return character
    mask = hand_mask(
        character.texture.shape[:2],
        list(hands),
        origin=character.origin,
        grow=PHOTO_HAND_GROW,
        feather=PHOTO_HAND_FEATHER,
    )
    if not (mask > 0).any():
        return character
    covered = np.asarray(np.round(mask * 255.0), dtype=np.uint8)
    return dataclasses.replace(character, occluded=covered)


def with_photo_gaze(character: Character, photo_gaze: iris.Gaze | None) -> Character:
    """The character with its irises lifted off for gaze transfer (`photo_gaze`:
    `face.iris.measure_gaze` on the photo); unchanged when no iris can be lifted."""
    if photo_gaze is None:
        return character
    topo = character.topology
    eyes = gaze.photo_eyes(
        character.texture,
        character.mesh,
        (topo.right_eye.loop_array, topo.left_eye.loop_array),
        iris.EYE_CORNERS,
        photo_gaze,
    )
    return character if eyes is None else dataclasses.replace(character, eyes=eyes)


def _mesh_points(mesh: Any) -> Points:
    points = getattr(mesh, "points", mesh)
    return np.asarray(points, dtype=np.float64)


def build_character(models: FaceModels, photo_rgb: Image) -> Character:
    """Detect the largest face of the photo, mesh it, and keep what the dub needs."""
    from facedubd.models.mesh import mesh_triangles
    from facedubd.pipeline.face import detect_faces, roi_from_detection, roi_from_points, run_mesh

    detections = detect_faces(models, photo_rgb)
    if not detections:
        raise NoFaceInPhoto()
    largest = max(detections, key=lambda d: d.width * d.height)
    mesh = run_mesh(models.mesh, photo_rgb, roi_from_detection(largest))
    if mesh.presence < 0.5:
        raise NoFaceInPhoto()
    # Once more from the mesh's own crop (as the tracker does): the detector's box is only
    # a first guess, and the mesh model is most accurate on the crop its landmarks give.
    refined = run_mesh(models.mesh, photo_rgb, roi_from_points(mesh.points))
    if refined.presence >= 0.5:
        mesh = refined
    points = np.asarray(mesh.points, dtype=np.float64)
    if lm.inter_ocular_distance(points) < MIN_EYE_DISTANCE_PX:
        raise FaceTooSmall()
    return character_from_points(photo_rgb, points, mesh_triangles())


def character_from_points(photo_rgb: Image, points: Points, triangles: npt.ArrayLike) -> Character:
    """The character model from a photo and its mesh (pure: no models involved)."""
    frame = canonical_frame(points)
    shape = frame.invert(points)
    topology = build_topology(triangles, shape)
    h, w = photo_rgb.shape[:2]
    lo = points[:, :2].min(axis=0)
    hi = points[:, :2].max(axis=0)
    margin = TEXTURE_MARGIN * float((hi - lo).max())
    x0, y0 = (max(int(v - margin), 0) for v in lo)
    x1 = min(int(hi[0] + margin) + 1, w)
    y1 = min(int(hi[1] + margin) + 1, h)
    texture = np.ascontiguousarray(photo_rgb[y0:y1, x0:x1])
    local = points - np.array([x0, y0, 0.0])
    portrait = texture
    texture = _paint_out_mouth(portrait, local, topology)
    forehead = skin_top(texture, (x0, y0), shape, frame)
    pose = lm.head_pose(points)
    lips_open = lm.mouth_opening(points) > PHOTO_MOUTH_OPEN
    return Character(texture, local, topology, shape, pose, (x0, y0), forehead, portrait, lips_open)


def _paint_out_mouth(texture: Image, mesh: Points, topology: Topology) -> Image:
    """The photo with its mouth interior (teeth, tongue) painted over from the lips:
    when the dub closes the mouth, no sliver of the photo's teeth is left between them."""
    mask = blend.polygon_mask(texture.shape[:2], mesh[list(topology.mouth.loop)])
    width = float(np.ptp(mesh[list(topology.mouth.loop), 0]))
    grow = max(round(0.04 * width), 1)
    mask = np.asarray(cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)), np.uint8)
    return np.asarray(cv2.inpaint(texture, mask, 3, cv2.INPAINT_TELEA), dtype=np.uint8)


def skin_top(
    texture: Image, origin: tuple[int, int], shape: Points, frame: geometry.Similarity
) -> float:
    """Walk up the forehead from the brows (pose-free coordinates) until the photo's
    colour stops looking like the face's skin (a fringe, a hat) and return that height."""
    cheeks = np.nonzero(
        (shape[:, 1] > shape[lm.NOSE_TIP, 1] - 0.1) & (shape[:, 1] < shape[lm.NOSE_TIP, 1] + 0.1)
    )[0]
    h, w = texture.shape[:2]

    def colours(free_points: Points) -> Points:
        px = frame.apply(free_points)[:, :2] - origin
        xy = np.clip(np.round(px), 0, [w - 1, h - 1]).astype(int)
        return texture[xy[:, 1], xy[:, 0]].astype(np.float64)

    skin = np.median(colours(shape[cheeks]), axis=0)
    eye_y = float(shape[[lm.RIGHT_EYE_OUTER, lm.LEFT_EYE_OUTER], 1].mean())
    top_y = float(shape[lm.FOREHEAD_TOP, 1])
    inner = shape[[lm.RIGHT_EYE_INNER, lm.LEFT_EYE_INNER], 0]
    xs = np.linspace(inner[0] - 0.25, inner[1] + 0.25, 9)
    z = float(shape[lm.FOREHEAD_TOP, 2])
    limit = top_y
    for y in np.linspace(eye_y - 0.3, top_y, 24):
        row = np.column_stack([xs, np.full_like(xs, y), np.full_like(xs, z)])
        distance = np.linalg.norm(np.median(colours(row), axis=0) - skin)
        if distance > 45.0:
            limit = float(y) + 0.06
            break
    return min(limit, eye_y - 0.3)


# --------------------------------------------------------------------------- views


def _view_scene(character: Character) -> tuple[Points, npt.NDArray[np.int32]]:
    """The character's mesh plus two rings of points around the face (hair, ears,
    neck) and the texture's corners, with a Delaunay triangulation of the part outside
    the face. Returns (points, outside triangles): the mesh's points first, then each
    ring's, one per outline point in the outline's order, then the corners."""
    pts = character.mesh
    outline = pts[list(character.topology.outline)]
    centre = pts[:, :2].mean(axis=0)
    ring_z = float(outline[:, 2].mean())
    rings = []
    for factor, z in (
        (1.3, ring_z + 0.1 * _face_size(pts)),
        (1.75, ring_z + 0.3 * _face_size(pts)),
    ):
        xy = centre + (outline[:, :2] - centre) * factor
        rings.append(np.column_stack([xy, np.full(len(xy), z)]))
    h, w = character.texture.shape[:2]
    corners = np.array(
        [
            [0, 0],
            [w / 2, 0],
            [w - 1, 0],
            [w - 1, h / 2],
            [w - 1, h - 1],
            [w / 2, h - 1],
            [0, h - 1],
            [0, h / 2],
        ],
        dtype=np.float64,
    )
    border = np.column_stack([corners, np.full(len(corners), ring_z + _face_size(pts))])
    scene = np.concatenate([pts, rings[0], rings[1], border])
    outer_ids = np.concatenate(
        [np.asarray(character.topology.outline), np.arange(len(pts), len(scene))]
    )
    local = geometry.delaunay(scene[outer_ids, :2])
    tri = outer_ids[local]
    on_outline = np.isin(tri, np.asarray(character.topology.outline)).all(axis=1)
    return scene, tri[~on_outline].astype(np.int32)


def _face_size(points: Points) -> float:
    span = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
    return float(span.max())


ViewScene = tuple[Points, npt.NDArray[np.int32]]


def view_window(
    centre: npt.ArrayLike, half: float, texture_shape: tuple[int, ...]
) -> tuple[Points, float]:
    """The square a view shows (centre, half its side, texture pixels): `half` around
    the face's `centre`, moved, or if need be shrunk, to lie inside the photo's crop, so
    a view shows the photo, not grey, where the photo ends close to the face."""
    h, w = texture_shape[:2]
    half = min(float(half), w / 2.0, h / 2.0)
    at = np.clip(np.asarray(centre, dtype=np.float64), half, [w - half, h - half])
    return at, half


def view_points(
    character: Character, yaw: float, zoom: float = 1.0, scene_parts: ViewScene | None = None
) -> tuple[Points, float]:
    """Where the view scene's points (`_view_scene`: the mesh, its rings, the crop's
    corners) land on the VIEW_SIZE canvas of the character turned to `yaw` degrees,
    and the canvas's scale (canvas pixels per photo pixel)."""
    scene, _ = scene_parts or _view_scene(character)
    pts = character.mesh
    current = lm.face_frame(pts)
    wanted = lm.rotation_from_angles(yaw * VIEW_TURN_GAIN, 0.0, 0.0)
    turn = wanted @ current.T
    size = _face_size(pts)
    pivot = pts.mean(axis=0) + current[:, 2] * 0.45 * size  # the neck, behind the face
    n = len(pts)
    moved = scene.copy()
    # The sides of the face are turned as if flatter than the mesh says (see
    # VIEW_SIDE_DEPTH): the photo has no texture for the side of the head.
    local = (pts - pts.mean(axis=0)) @ current
    front = float(local[[lm.RIGHT_EYE_OUTER, lm.LEFT_EYE_OUTER], 2].mean())
    deep = local[:, 2] > front
    local[deep, 2] = front + (local[deep, 2] - front) * VIEW_SIDE_DEPTH
    flat = local @ current.T + pts.mean(axis=0)
    moved[:n] = (flat - pivot) @ turn.T + pivot
    # Turning about the neck also slides the head sideways: take the slide out, so the
    # face stays where it was in the picture and only the turn itself moves its parts.
    moved[:n, :2] -= moved[:n, :2].mean(axis=0) - pts[:, :2].mean(axis=0)
    # Around the face, the hair and background move as the outline point beside them
    # does (the inner ring fully, the outer half way, the border not at all): what the
    # turn uncovers is filled by stretching a wide band, not torn open by the cheek.
    outline = np.asarray(character.topology.outline)
    shift = moved[outline, :2] - pts[outline, :2]
    k = len(outline)
    moved[n : n + k, :2] += shift
    moved[n + k : n + 2 * k, :2] += 0.5 * shift
    centre, half = view_window(
        moved[:n, :2].mean(axis=0), 1.3 * size / zoom, character.portrait.shape[:2]
    )
    scale = VIEW_SIZE / (2.0 * half)
    canvas_pts = moved.copy()
    canvas_pts[:, :2] = (moved[:, :2] - centre) * scale + VIEW_SIZE / 2
    canvas_pts[:, 2] *= scale
    return canvas_pts, scale


def render_view(
    character: Character, yaw: float, zoom: float = 1.0, scene_parts: ViewScene | None = None
) -> Image:
    """The character turned to `yaw` degrees (pitch and roll levelled), VIEW_SIZE square.
    `scene_parts`: `_view_scene(character)` when the caller has it already."""
    scene, outside = scene_parts = scene_parts or _view_scene(character)
    canvas_pts, scale = view_points(character, yaw, zoom, scene_parts)
    shape = (VIEW_SIZE, VIEW_SIZE)
    box = (0, 0, VIEW_SIZE, VIEW_SIZE)
    # Under everything, the whole scene with the face in it (far to near), so the face
    # layer's feathered edge blends into the picture, never into the grey canvas.
    scene_triangles = np.concatenate([outside, character.topology.triangles])
    back = geometry.piecewise_affine(
        character.portrait, scene, canvas_pts, scene_triangles, shape, cull=False, box=box
    )
    canvas = np.full((VIEW_SIZE, VIEW_SIZE, 3), 127, dtype=np.uint8)
    # OpenCV's masked copy: the same as canvas[mask] = image[mask], a hundred times faster.
    cv2.copyTo(back.image, back.coverage.view(np.uint8), canvas)
    n = len(character.mesh)
    face, alpha = _view_face(character, scene[:n], canvas_pts[:n], scale, box)
    return blend.alpha_blend(canvas, face, alpha)


#: Where a turned view stretches the photo (the side of the face turned toward the
#: camera, which the photo shows edge-on) by more than VIEW_STRETCH_FROM times in some
#: direction, a blurred copy of the photo fades in, fully from VIEW_STRETCH_FULL: a few
#: pixels drawn wide show as soft skin, not as stripes.
VIEW_STRETCH_FROM = 1.4
VIEW_STRETCH_FULL = 2.6
#: That copy's blur (Gaussian sigma, photo pixels): wide enough that the few photo rows
#: drawn wide (a glasses arm, hair, the ear's edge) run together as soft skin, not bands;
#: the fade between the copies is softened over VIEW_STRETCH_EDGE canvas pixels.
VIEW_STRETCH_BLUR = 5.0
VIEW_STRETCH_EDGE = 6.0
#: The face layer's edge in a view is feathered over this many pixels.
VIEW_EDGE_PX = 2.0


def _view_face(
    character: Character, src: Points, dst: Points, scale: float, box: tuple[int, int, int, int]
) -> tuple[Image, npt.NDArray[np.float32]]:
    """A view's face layer (the photo on the turned mesh, `dst`, drawn `scale` times the
    photo's size) and its alpha, feathered at the edge."""
    triangles = character.topology.triangles
    tmap = geometry.triangle_map(dst, triangles, box)
    sharp = geometry.remap_mesh(character.portrait, src, dst, triangles, tmap)
    # The smallest singular value of each triangle's canvas -> photo map: the photo's
    # pixels per canvas pixel along the most stretched direction.
    maps = geometry.affine_maps(src, dst, triangles)[:, :, :2]
    squeeze = np.linalg.svd(maps, compute_uv=False)[:, -1]
    stretch = 1.0 / np.maximum(squeeze * scale, 1e-6)
    weight = np.clip(
        (stretch - VIEW_STRETCH_FROM) / (VIEW_STRETCH_FULL - VIEW_STRETCH_FROM), 0.0, 1.0
    ).astype(np.float32)
    per_pixel = np.where(tmap.ids >= 0, np.append(weight, 0.0)[tmap.ids], 0.0).astype(np.float32)
    image = sharp.image
    if per_pixel.any():
        blurred = geometry.remap_mesh(character.soft_portrait, src, dst, triangles, tmap).image
        per_pixel = np.asarray(cv2.GaussianBlur(per_pixel, (0, 0), VIEW_STRETCH_EDGE), np.float32)
        image = blend.alpha_blend(image, blurred, per_pixel)
    coverage = sharp.coverage.astype(np.float32)
    size = int(4 * VIEW_EDGE_PX) | 1
    alpha = cv2.GaussianBlur(cv2.erode(coverage, np.ones((3, 3), np.uint8)), (size, size), 0)
    return image, np.asarray(alpha, np.float32)


def render_views(character: Character) -> dict[str, Image]:
    """The views named in VIEW_NAMES: front, three-quarter left/right (±30° yaw), close-up."""
    views: dict[str, Image] = {}
    scene_parts = _view_scene(character)  # the same for every view
    for name in VIEW_NAMES:
        zoom = 1.6 if name == "close_up" else 1.0
        views[name] = render_view(character, VIEW_YAW[name], zoom, scene_parts)
    return views


# --------------------------------------------------------------------------- keyframe


def keyframe_score(frame_rgb: Image, mesh: Any) -> float:
    """Higher for a larger, more frontal, sharper face with open eyes (log scale)."""
    pts = _mesh_points(mesh)
    pose = lm.head_pose(pts)
    eye_px = lm.inter_ocular_distance(pts)
    x0, y0, x1, y1 = geometry.warp_box(pts, frame_rgb.shape[:2], pad=0)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return -math.inf
    grey = cv2.cvtColor(np.ascontiguousarray(frame_rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    # Sharpness measured at a fixed face scale, so big faces are not favoured twice.
    grey = cv2.resize(grey, (96, 96), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    frontal = math.cos(math.radians(pose.yaw)) * math.cos(math.radians(pose.pitch))
    eyes = min(min(lm.eye_openness(pts)) / 0.25, 1.0)
    mouth = 1.0 - min(lm.mouth_opening(pts), 0.5)
    return (
        math.log(max(eye_px, 1.0))
        + 4.0 * math.log(max(frontal, 1e-3))
        + 0.25 * math.log(sharpness + 1.0)
        + math.log(max(eyes, 0.05))
        + math.log(mouth)
    )


# --------------------------------------------------------------------------- the dub


@dataclasses.dataclass(frozen=True, eq=False)
class KeyFrame:
    points: Points
    frame: geometry.Similarity
    free: Points
    rigid: npt.NDArray[np.int64]

    @classmethod
    def from_points(cls, points: npt.ArrayLike) -> KeyFrame:
        pts = np.asarray(points, dtype=np.float64)
        frame = canonical_frame(pts)
        free = frame.invert(pts)
        return cls(pts, frame, free, rigid_points(free))


def _gaps(points: Points, hole: Hole) -> Points:
    pairs = hole.pair_array
    return points[pairs[:, 1], 1] - points[pairs[:, 0], 1]


def set_opening(
    points: Points,
    hole: Hole,
    wanted: Points,
    upper_share: float,
    reach: float,
    jaw: Points | None = None,
) -> Points:
    """Open or close a hole (eye or mouth) to the `wanted` gap of each lid / lip pair,
    in pose-free coordinates. The mean change spreads to the skin around it (falloff
    `reach` units), shared between the upper side (`upper_share`) and the lower one;
    below the hole, points move at least by their `jaw` weight (the chin goes with the
    lower lip, see `jaw_weights`)."""
    out = points.copy()
    upper, lower = hole.pair_array.T
    ys = out[:, 1]  # a view: moving ys moves the points
    change = float((wanted - (ys[lower] - ys[upper])).mean())
    loop = out[hole.loop_array]
    centre = loop.mean(axis=0)
    width = float(np.ptp(loop[:, 0])) + 1e-6
    dx = out[:, 0] - centre[0]
    dy = ys - centre[1]
    dist = np.sqrt(dx * dx + dy * dy)
    falloff = np.exp(-((dist / reach) ** 2))
    side = np.minimum(np.maximum(dy / (0.15 * width), -1.0), 1.0)
    if jaw is not None:
        falloff = np.where(side > 0, np.maximum(falloff, jaw), falloff)
    share = np.where(side < 0, upper_share, 1.0 - upper_share)
    ys += side * share * change * falloff
    rest = wanted - (ys[lower] - ys[upper])
    ys[upper] -= upper_share * rest
    ys[lower] += (1.0 - upper_share) * rest
    return out


#: Below the mouth, the jaw's share of the lower lip's move fades out this far to the
#: side of the mouth's centre (pose-free units: outer eye corners 1 apart).
JAW_SIDE_REACH = 0.6


def jaw_weights(free: Points, mouth: Hole) -> Points:
    """How much of the lower lip's move each point below the mouth takes: the chin and
    the jaw under the mouth all of it (a jaw opens as one bone), fading to the sides."""
    centre = free[list(mouth.loop)].mean(axis=0)
    return np.asarray(np.exp(-(((free[:, 0] - centre[0]) / JAW_SIDE_REACH) ** 2)), np.float64)


def expression_weights(free: Points, topology: Topology) -> Points:
    """How much of the reference's expression change each point takes: all of it
    around the mouth, eyes and brows, less on the cheeks, nose and jaw line, whose
    shape is the character's identity."""
    mouth = free[list(topology.mouth.loop)]
    mouth_width = float(np.ptp(mouth[:, 0]))
    d_mouth = np.linalg.norm(free[:, :2] - mouth.mean(axis=0)[:2], axis=1) / mouth_width
    d_eyes = np.full(len(free), np.inf)
    for eye in (topology.right_eye, topology.left_eye):
        loop = free[list(eye.loop)]
        centre = loop.mean(axis=0)[:2] - np.array([0.0, 0.12])  # up toward the brow
        d_eyes = np.minimum(d_eyes, np.linalg.norm(free[:, :2] - centre, axis=1) / 0.3)
    near = np.maximum(np.exp(-(d_mouth**2)), np.exp(-(d_eyes**2)))
    return np.asarray(EXPRESSION_FLOOR + (1 - EXPRESSION_FLOOR) * near, dtype=np.float64)


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceLips:
    """How the reference's lips are drawn on a character photographed with its mouth
    open: the triangles inside the lips' outer edge (`lip_triangles`), how a move of
    their vertices spreads to the mesh (`lip_spread`), and their thickness (`lip_height`)."""

    triangles: npt.NDArray[np.int32]
    spread: tuple[npt.NDArray[np.int64], Points]
    height: float

    @classmethod
    def build(cls, character: Character, placed: Points, key_free: Points) -> ReferenceLips:
        """For `character`, whose shape is `placed` on a keyframe of pose-free `key_free`."""
        triangles = lip_triangles(character.topology, character.shape)
        return cls(triangles, lip_spread(placed, triangles), lip_height(character.shape, key_free))


@dataclasses.dataclass
class DubState:
    """What the dub carries from frame to frame."""

    key: KeyFrame
    character_free: Points
    mask_top_y: float
    delta_weights: Points
    mesh_filter: OneEuroFilter
    colour: colour.SmoothedTransfer
    #: Per eye (right, left): the keyframe's lid gaps (at least 1e-3) and the
    #: character's, and the keyframe's openness (`lm.eye_openness`); the character's
    #: mouth width over the keyframe's. Fixed for the keyframe, so computed once.
    key_eye_gaps: tuple[Points, Points]
    char_eye_gaps: tuple[Points, Points]
    key_eye_openness: tuple[float, float]
    mouth_width_ratio: float
    #: For a character whose lips come from the reference (`Character.lips_from_reference`).
    lips: ReferenceLips | None = None
    #: `jaw_weights` of the character's placed shape.
    jaw: Points | None = None
    #: The reference's gaze (x, y per eye, `face.iris`), smoothed; the last one measured
    #: stands for an eye not measured in a frame.
    gaze_filter: OneEuroFilter | None = None
    last_gaze: Points | None = None
    #: The strip joining the outline to the reshape's anchors (built on first use).
    ring: npt.NDArray[np.int32] | None = None
    timings_ms: dict[str, float] = dataclasses.field(default_factory=dict)
    frames: int = 0

    @classmethod
    def start(cls, character: Character, key_mesh: Any, fps: float = 30.0) -> DubState:
        key = KeyFrame.from_points(_mesh_points(key_mesh))
        # The character's shape, placed where the keyframe's rigid points are.
        fit = geometry.procrustes(character.shape[key.rigid], key.free[key.rigid])
        placed = fit.apply(character.shape)
        top = float(fit.apply(np.array([[0.0, character.forehead_y, 0.0]]))[0, 1])
        # The face keeps the character's own size: the reference's jaw and outline are
        # moved onto the character's by the frame reshape (see `composite`).
        eyes = (character.topology.right_eye, character.topology.left_eye)
        return cls(
            key=key,
            character_free=placed,
            mask_top_y=top,
            delta_weights=expression_weights(key.free, character.topology),
            mesh_filter=OneEuroFilter(rate_hz=fps, min_cutoff=2.0, beta=5.0),
            colour=colour.SmoothedTransfer(alpha=0.2),
            key_eye_gaps=(
                np.maximum(_gaps(key.free, eyes[0]), 1e-3),
                np.maximum(_gaps(key.free, eyes[1]), 1e-3),
            ),
            char_eye_gaps=(_gaps(placed, eyes[0]), _gaps(placed, eyes[1])),
            key_eye_openness=lm.eye_openness(key.points),
            mouth_width_ratio=_mouth_width(placed) / _mouth_width(key.free),
            lips=ReferenceLips.build(character, placed, key.free)
            if character.lips_from_reference
            else None,
            jaw=jaw_weights(placed, character.topology.mouth),
            gaze_filter=OneEuroFilter(rate_hz=fps, min_cutoff=GAZE_MIN_CUTOFF, beta=GAZE_BETA),
        )

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = (time.perf_counter() - start) * 1000.0
            self.timings_ms[step] = self.timings_ms.get(step, 0.0) + elapsed


def target_mesh(
    character: Character, state: DubState, ref_points: Points, raw_points: Points | None = None
) -> tuple[Points, Points]:
    """The mesh the character's face takes in this frame and the outline of the part
    to paste (the face without the photo's hair), image pixels (see module doc).

    `ref_points` are the smoothed reference mesh; eye and mouth openings are read from
    `raw_points` (the unsmoothed mesh, when given): a blink or a syllable lasts a few
    frames and must not lag, and a gap's own noise is small."""
    key = state.key
    topo = character.topology
    pose = robust_pose(key.points[key.rigid], ref_points[key.rigid])
    ref_free = key.frame.invert(pose.invert(ref_points))
    gaps_free = ref_free if raw_points is None else key.frame.invert(pose.invert(raw_points))
    target = state.character_free + (ref_free - key.free) * state.delta_weights[:, None]
    eyes = (topo.right_eye, topo.left_eye)
    for eye, key_gap, char_gap in zip(eyes, state.key_eye_gaps, state.char_eye_gaps, strict=True):
        ratio = eye_ratio(_gaps(gaps_free, eye) / key_gap)
        target = set_opening(target, eye, char_gap * ratio, upper_share=0.85, reach=0.2)
    mouth = topo.mouth
    wanted = np.maximum(_gaps(gaps_free, mouth), 0.0) * state.mouth_width_ratio
    target = set_opening(target, mouth, wanted, upper_share=0.3, reach=0.45, jaw=state.jaw)
    if state.lips is not None:
        target = _reference_lips(target, gaps_free, state.lips.spread, state.lips.height)
    outline = target[topo.outline_array]
    outline[:, 1] = np.maximum(outline[:, 1], state.mask_top_y)
    to_image = key.frame.apply
    return pose.apply(to_image(target)), pose.apply(to_image(outline))


def eye_ratio(ratio: npt.ArrayLike) -> Points:
    """The character's eye opening, in its own, for the reference's lid gaps over the
    keyframe's. The mesh model sees a shut eye as about half open: below the keyframe's
    opening the ratio is stretched so that BLINK_FLOOR of it shuts the character's eye.
    Above it the ratio is kept as it is (stretched, a keyframe with lids lowered, looking
    down, made the character wide-eyed: 1.16 of the keyframe's opening drew 1.37 of the
    photo's), up to MAX_EYE_RATIO."""
    r = np.asarray(ratio, dtype=np.float64)
    below = (r - BLINK_FLOOR) / (1 - BLINK_FLOOR)
    return np.asarray(np.clip(np.where(r < 1.0, below, r), 0.0, MAX_EYE_RATIO), np.float64)


#: How far (pose-free units) a move of the lips spreads into the skin around them, and
#: how far each lip vertex's own move reaches when the moves are mixed.
LIP_SPREAD_REACH = 0.2
LIP_SPREAD_MIX = 0.1


def lip_spread(
    free: Points, triangles: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.int64], Points]:
    """The lips' vertices and an (n points x n lip vertices) matrix that spreads a move
    of them to the whole mesh: a lip vertex takes its own move, every other vertex a
    distance-weighted mix of the nearby lip moves, fading out LIP_SPREAD_REACH away."""
    lips = np.unique(triangles).astype(np.int64)
    d = np.linalg.norm(free[:, None, :2] - free[None, lips, :2], axis=2)
    mix = np.exp(-((d / LIP_SPREAD_MIX) ** 2)) + 1e-12
    mix /= mix.sum(axis=1, keepdims=True)
    mix *= np.exp(-((d.min(axis=1) / LIP_SPREAD_REACH) ** 2))[:, None]
    mix[lips] = np.eye(len(lips))
    return lips, mix


def lip_thickness(free: Points) -> float:
    """Both lips' mean thickness (outer edge to inner edge) over the mouth's width."""
    outer = free[list(lm.OUTER_LIP), 1]
    inner = free[list(lm.INNER_LIP), 1]
    return float(np.abs(outer - inner).mean()) / max(_mouth_width(free), 1e-6)


def lip_height(character: Points, reference: Points) -> float:
    """How thick the reference's lips are drawn on a character whose photo shows an
    open mouth, as a share of their own thickness (both per mouth width): half-way, in
    ratio, to the photo's thickness. A smile showing teeth stretches lips thin, so the
    photo's own thickness is too little; the reference's full thickness carries the
    reference's likeness (measured on the astronaut: the photo's thickness read her
    pitch r 0.78, the reference's her recogniser match 93%; half-way 0.82 and 100%)."""
    return math.sqrt(lip_thickness(character) / max(lip_thickness(reference), 1e-6))


def _reference_lips(
    target: Points, ref_free: Points, lips: tuple[npt.NDArray[np.int64], Points], height: float
) -> Points:
    """The target with the reference's lips (pose-free `ref_free`): their shape scaled
    to the target's mouth corners across and `height` times that up and down (see
    `lip_height`), centred on the target's lip gap, the skin around following. For a
    photo with an open mouth: its stretched lips are no model of its closed ones."""
    index, spread = lips
    corners = [lm.MOUTH_RIGHT, lm.MOUTH_LEFT]
    inner = list(lm.INNER_LIP)
    centre = target[corners].mean(axis=0)
    ref_centre = ref_free[corners].mean(axis=0)
    centre[1] = target[inner, 1].mean()
    ref_centre[1] = ref_free[inner, 1].mean()
    across = _mouth_width(target) / max(_mouth_width(ref_free), 1e-6)
    moved = centre + (ref_free[index] - ref_centre) * np.array([across, across * height, across])
    return target + spread @ (moved - target[index])


def _mouth_width(free: Points) -> float:
    return float(np.linalg.norm(free[lm.MOUTH_LEFT, :2] - free[lm.MOUTH_RIGHT, :2]))


def reshape_ring(ref: Points, target: Points, outline: tuple[int, ...]) -> tuple[Points, Points]:
    """The anchors of the frame reshape and the target with its outline kept inside them.

    Anchors lie where the rays from the reference hull's centre through its outline
    points meet the hull grown by RESHAPE_HULL; a target outline point further out than
    RESHAPE_REACH of its anchor is pulled in. Anchors get a depth behind the face, so
    the ring is drawn first and the face over it."""
    tight = geometry.grown_hull(ref, 1.0)
    centre = tight.mean(axis=0)
    hull = centre + (tight - centre) * RESHAPE_HULL
    ids = list(outline)
    anchors_xy = geometry.ray_hits(centre, ref[ids], hull)
    rays = anchors_xy - centre
    reach = np.sqrt(rays[:, 0] * rays[:, 0] + rays[:, 1] * rays[:, 1]) * RESHAPE_REACH
    offset = target[ids, :2] - centre
    dist = np.sqrt(offset[:, 0] * offset[:, 0] + offset[:, 1] * offset[:, 1])
    squeeze = np.minimum(1.0, reach / np.maximum(dist, 1e-9))
    fitted = target.copy()
    fitted[ids, :2] = centre + offset * squeeze[:, None]
    depth = float(target[:, 2].max()) + _face_size(target)
    anchors = np.column_stack([anchors_xy, np.full(len(ids), depth)])
    return anchors, fitted


def ring_triangles(first_anchor: int, outline: tuple[int, ...]) -> npt.NDArray[np.int32]:
    """The strip of triangles between the outline (mesh indices) and its anchors
    (indices `first_anchor` + i, one per outline point, in the same order)."""
    k = len(outline)
    tri = []
    for i in range(k):
        j = (i + 1) % k
        tri.append((outline[i], outline[j], first_anchor + i))
        tri.append((outline[j], first_anchor + j, first_anchor + i))
    return np.asarray(tri, dtype=np.int32)


def composite(character: Character, frame_rgb: Image, mesh: Any, state: DubState) -> Image:
    """The character's face on this frame, driven by `mesh` (the reference's)."""
    raw = _mesh_points(mesh)
    scale = max(lm.inter_ocular_distance(raw), 1.0)
    topo = character.topology
    with state.timed("filter"):
        ref = state.mesh_filter(raw, scale=scale)
    with state.timed("target"):
        target, outline = target_mesh(character, state, ref, raw)
        anchors, target = reshape_ring(raw, target, topo.outline)
        n_face = len(topo.triangles)
        dst = np.concatenate([target, anchors])
        if state.ring is None:
            state.ring = ring_triangles(len(target), topo.outline)
        strip = geometry.orient(dst, state.ring)
        triangles = np.concatenate([topo.triangles, strip])
    feather = max(2.0, 0.07 * scale)
    box = geometry.warp_box(dst, frame_rgb.shape[:2], pad=2)
    x0, y0, x1, y1 = box
    if x1 - x0 < 4 or y1 - y0 < 4:
        return frame_rgb
    face_box = geometry.warp_box(target, frame_rgb.shape[:2], pad=2)
    with state.timed("warp"):
        out = frame_rgb.copy()
        tmap = geometry.triangle_map(dst, triangles, box, map_step=map_step(face_box, scale))
        # The reshaped frame goes straight into the output; the face is laid over it.
        geometry.remap_mesh(
            frame_rgb,
            np.concatenate([raw, anchors]),
            dst,
            triangles,
            tmap,
            fallback=geometry.IDENTITY_AFFINE,
            into=out[y0:y1, x0:x1],
            coverage=False,
        )
        # Everything else happens in the face's own (smaller) box.
        fmap = tmap.crop(face_box)
        fx0, fy0, fx1, fy1 = fmap.box
        face = geometry.remap_mesh(
            character.texture, character.mesh, target, topo.triangles, fmap, used=n_face
        )
        hidden = None
        if character.occluded is not None:  # the photo's own hand: not the face
            hidden = geometry.remap_mesh(
                character.occluded, character.mesh, target, topo.triangles, fmap, used=n_face
            ).image.reshape(face.coverage.shape)
        opening = lm.mouth_opening(raw)
        if state.lips is not None:  # the reference's lips and mouth, always shown
            mouth = _warp_mouth(frame_rgb, raw, target, state.lips.triangles, OUTER_LIP, fmap.box)
        elif opening > MOUTH_OPEN:  # the reference's mouth interior, while it is open
            hole = topo.mouth
            mouth = _warp_mouth(
                frame_rgb, raw, target, topo.mouth_triangles, hole.loop_array, fmap.box
            )
        else:
            mouth = None
    if character.eyes is not None and (seen := iris.gaze_of(mesh)) is not None:
        with state.timed("gaze"):
            _move_irises(character, character.eyes, state, seen, face, fmap, target)
    patch_shape = (fy1 - fy0, fx1 - fx0)
    origin = (fx0, fy0)
    with state.timed("mask"):
        alpha = blend.face_alpha(patch_shape, outline, feather_px=feather, origin=origin)
        covered = face.coverage
        mouth_here = None
        if mouth is not None:
            mouth_here = np.zeros_like(covered)
            mx, my = mouth.origin[0] - fx0, mouth.origin[1] - fy0
            mh, mw = mouth.coverage.shape
            mouth_here[my : my + mh, mx : mx + mw] = mouth.coverage
            covered = covered | mouth_here
        alpha *= covered
        if hidden is not None:
            alpha *= 1.0 - hidden.astype(np.float32) * np.float32(1.0 / 255.0)
        _show_shut_eyes(alpha, target, raw, state.key_eye_openness, topo, origin)
        region = out[fy0:fy1, fx0:fx1]  # the reshaped frame under the face
        ref_hull = blend.polygon_mask(
            patch_shape, cv2.convexHull(raw[:, :2].astype(np.float32)).reshape(-1, 2), origin
        )
        stats_mask = (alpha > 0.5) & (ref_hull > 127) & face.coverage
        if mouth_here is not None:
            stats_mask &= ~mouth_here
        if hidden is not None:
            stats_mask &= hidden < 128
    with state.timed("colour"):
        recoloured = state.colour(face.image, stats_mask, region)
        if state.lips is not None:
            feather = LIP_FEATHER * _mouth_width(target)
            recoloured = _lay_mouth(recoloured, mouth, origin, 1.0, feather)
        else:
            recoloured = _lay_mouth(recoloured, mouth, origin, opening)
    with state.timed("blend"):
        blend.alpha_blend(region, recoloured, alpha, into=region)
    if hands := occlusion.hands_of(mesh):
        with state.timed("hands"):
            occlusion.keep_hands(out, frame_rgb, hands, box)
    return out


#: The reference's gaze is smoothed by a One-Euro filter (corner distances per second).
GAZE_MIN_CUTOFF = 3.0
GAZE_BETA = 1.0


def smoothed_gaze(state: DubState, seen: iris.Gaze) -> Points:
    """The reference's gaze (x, y) per eye, smoothed; an eye not measured this frame
    keeps its last value (the other eye's while it has none)."""
    now = np.full((2, 2), np.nan)
    for i, eye in enumerate(seen):
        if eye is not None:
            now[i] = (eye.x, eye.y)
        elif state.last_gaze is not None:
            now[i] = state.last_gaze[i]
    for i in range(2):
        if np.isnan(now[i]).any():
            now[i] = now[1 - i]
    state.last_gaze = now
    if state.gaze_filter is None or np.isnan(now).any():
        return now
    return state.gaze_filter(now)


def _only_used(
    tmap: geometry.TriangleMap, n: int
) -> tuple[geometry.TriangleMap, npt.NDArray[np.int64]]:
    """`tmap` renumbered to the triangles under `n` it shows, and those triangles' ids."""
    ids = tmap.ids
    valid = (ids >= 0) & (ids < n)
    used = np.unique(ids[valid]).astype(np.int64)
    renumbered = np.full_like(ids, -1)
    renumbered[valid] = np.searchsorted(used, ids[valid])
    return geometry.TriangleMap(renumbered, tmap.box, tmap.step), used


def _move_irises(
    character: Character,
    eyes: gaze.PhotoEyes,
    state: DubState,
    seen: iris.Gaze,
    face: geometry.Warped,
    fmap: geometry.TriangleMap,
    target: Points,
) -> None:
    """Redraw the character's irises (in place in `face`) at the reference's gaze."""
    wanted = smoothed_gaze(state, seen)
    if np.isnan(wanted).any():
        return
    topo = character.topology
    fx0, fy0, fx1, fy1 = fmap.box
    loops = (topo.right_eye.loop_array, topo.left_eye.loop_array)
    for index, (loop, (a, b)) in enumerate(zip(loops, iris.EYE_CORNERS, strict=True)):
        photo, patch = eyes.gaze[index], eyes.irises[index]
        if photo is None or patch is None:
            continue
        xy = gaze.clamp_gaze(wanted[index], photo.radius)
        strength = gaze.move_strength(photo, xy)
        if strength <= 0.0:
            continue
        lo = np.floor(target[loop, :2].min(axis=0)).astype(int) - 1
        hi = np.ceil(target[loop, :2].max(axis=0)).astype(int) + 2
        bx0, by0 = max(int(lo[0]), fx0), max(int(lo[1]), fy0)
        bx1, by1 = min(int(hi[0]), fx1), min(int(hi[1]), fy1)
        if bx1 - bx0 < 2 or by1 - by0 < 2:
            continue
        emap, used = _only_used(fmap.crop((bx0, by0, bx1, by1)), len(topo.triangles))
        # Only the triangles the eye's box shows; the fallback never shows (the lids'
        # mask lies inside triangles).
        sclera = geometry.remap_mesh(
            eyes.sclera,
            character.mesh,
            target,
            topo.triangles[used],
            emap,
            fallback=geometry.IDENTITY_AFFINE,
        )
        sx0, sy0 = sclera.origin
        sh, sw = sclera.image.shape[:2]
        region = face.image[sy0 - fy0 : sy0 - fy0 + sh, sx0 - fx0 : sx0 - fx0 + sw]
        lids = blend.polygon_mask((sh, sw), target[loop, :2], (sx0, sy0))
        placement = gaze.iris_placement(
            patch,
            (character.mesh[a, :2], character.mesh[b, :2]),
            (target[a, :2], target[b, :2]),
            xy,
            origin=(sx0, sy0),
        )
        gaze.draw_eye(region, sclera.image, patch, placement, lids, strength)


def map_step(face_box: tuple[int, int, int, int], eye_distance: float) -> int:
    """The warp maps' sample spacing, pixels: 1 for small faces, 2 from HALF_RES_MAPS_PX
    across, then one more per MAP_STEP_EYE_PX of eye distance, up to MAX_MAP_STEP, so
    a big face's maps keep about the resolution of a 150 px one (the map is continuous
    and the photo's own texture is rarely that sharp)."""
    x0, y0, x1, y1 = face_box
    if min(x1 - x0, y1 - y0) < HALF_RES_MAPS_PX:
        return 1
    return int(min(max(round(eye_distance / MAP_STEP_EYE_PX), 2), MAX_MAP_STEP))


def lids_shown_below(state: DubState) -> tuple[float, float]:
    """Per eye (right, left), the reference's openness (`lm.eye_openness`) under which
    the dub shows the reference's own lids in full over the character's eye (see
    `blink_strength`): no iris of the character's is seen there, so the gaze tracker
    need not measure it."""
    right, left = state.key_eye_openness
    return right * BLINK_SHOW_FULL, left * BLINK_SHOW_FULL


def blink_strength(openness: float, key_openness: float) -> float:
    """How shut an eye is, 0 (as open as in the keyframe, or at least BLINK_SHOW_FROM of
    it) to 1 (BLINK_SHOW_FULL of it or less)."""
    ratio = openness / max(key_openness, 1e-6)
    return float(np.clip((BLINK_SHOW_FROM - ratio) / (BLINK_SHOW_FROM - BLINK_SHOW_FULL), 0, 1))


def _show_shut_eyes(
    alpha: npt.NDArray[np.float32],
    target: Points,
    ref: Points,
    key_openness: tuple[float, float],
    topology: Topology,
    origin: tuple[int, int],
) -> None:
    """Lower the face layer's alpha (in place) over each eye as the reference's eye
    shuts, so the reference's own closed lids, reshaped onto the target's eye, show
    (a photo's open eye squeezed shut still reads as open). `key_openness`: the
    keyframe's `lm.eye_openness`."""
    shut = lm.eye_openness(ref)
    eyes = (topology.right_eye, topology.left_eye)
    for eye, now, then in zip(eyes, shut, key_openness, strict=True):
        strength = blink_strength(now, then)
        if strength <= 0.0:
            continue
        loop = target[eye.loop_array, :2]
        _give_way(alpha, loop, EYE_PATCH, strength, origin)


def _give_way(
    alpha: npt.NDArray[np.float32],
    loop: Points,
    patch: tuple[float, float],
    strength: float,
    origin: tuple[int, int],
) -> None:
    """Multiply alpha by (1 - strength) inside a soft ellipse around a hole's loop
    (axes `patch` times the loop's corner-to-corner width, along its corner line)."""
    centre = loop.mean(axis=0)
    corners = loop[[int(np.argmin(loop[:, 0])), int(np.argmax(loop[:, 0]))]]
    along = corners[1] - corners[0]
    width = float(np.linalg.norm(along)) + 1e-6
    angle = math.degrees(math.atan2(along[1], along[0]))
    half = (0.5 * patch[0] * width, 0.5 * patch[1] * width)
    reach = math.ceil(max(half)) + 2
    cx, cy = centre - np.asarray(origin, dtype=np.float64)
    h, w = alpha.shape
    bx0, by0 = max(int(cx) - reach, 0), max(int(cy) - reach, 0)
    bx1, by1 = min(int(cx) + reach + 1, w), min(int(cy) + reach + 1, h)
    if bx1 <= bx0 or by1 <= by0:
        return
    mask = np.zeros((by1 - by0, bx1 - bx0), np.float32)
    cv2.ellipse(
        mask,
        (round((cx - bx0) * 16), round((cy - by0) * 16)),
        (round(half[0] * 16), round(half[1] * 16)),
        angle, 0, 360, 1.0, -1, cv2.LINE_AA, 4,
    )  # fmt: skip
    soft = max(int(0.15 * width) | 1, 3)
    mask = cv2.GaussianBlur(mask, (soft, soft), 0)
    alpha[by0:by1, bx0:bx1] *= 1.0 - strength * mask


def _lay_mouth(
    face: Image,
    mouth: geometry.Warped | None,
    origin: tuple[int, int],
    opening: float,
    feather: float = 0.0,
) -> Image:
    """The face layer (at `origin`) with the reference's mouth laid in, its opacity
    rising with the mouth's opening and its edge softened by a pixel, or faded in over
    `feather` pixels inside its outline when given (the lips' edge)."""
    strength = float(np.clip((opening - MOUTH_OPEN) / (MOUTH_SHOWN - MOUTH_OPEN), 0.0, 1.0))
    if mouth is None or strength <= 0.0 or not mouth.coverage.any():
        return face
    x = mouth.origin[0] - origin[0]
    y = mouth.origin[1] - origin[1]
    h, w = mouth.coverage.shape
    covered = mouth.coverage.astype(np.float32)
    if feather > 1.0:
        size = int(2 * feather) | 1
        # 0.5 on the outline after the blur: stretched so it reaches 0 there, 1 inside.
        weight = np.clip(2.0 * cv2.GaussianBlur(covered, (size, size), 0) - 1.0, 0.0, 1.0)
        weight *= strength
    else:
        weight = cv2.blur(covered, (3, 3)) * covered * strength
    region = face[y : y + h, x : x + w]
    face[y : y + h, x : x + w] = blend.alpha_blend(
        region, mouth.image, np.asarray(weight, dtype=np.float32)
    )
    return face


def lip_triangles(topology: Topology, frontal: Points) -> npt.NDArray[np.int32]:
    """The triangles of `topology` inside the lips' outer edge (centroids tested in the
    frontal points `frontal`): the lips and the filled mouth opening."""
    tri = topology.triangles
    outline = frontal[list(lm.OUTER_LIP), :2].astype(np.float32)
    centroids = frontal[tri, :2].mean(axis=1)
    inside = [cv2.pointPolygonTest(outline, (float(x), float(y)), False) > 0 for x, y in centroids]
    return np.ascontiguousarray(tri[np.asarray(inside, dtype=bool)], dtype=np.int32)


def _warp_mouth(
    frame_rgb: Image,
    ref: Points,
    target: Points,
    triangles: npt.NDArray[np.int32],
    outline: npt.NDArray[np.integer[Any]],
    box: tuple[int, int, int, int],
) -> geometry.Warped | None:
    """The reference's pixels under `triangles` (its mouth interior, or its whole lips)
    warped onto the target's, in the small box of the target's `outline` points inside
    `box`; None when that box is empty. Pixels no triangle covers are never shown (see
    `_lay_mouth`): any fallback will do."""
    x0, y0, x1, y1 = box
    mx0, my0, mx1, my1 = geometry.warp_box(target[outline], frame_rgb.shape[:2], pad=1)
    mx0, my0, mx1, my1 = max(mx0, x0), max(my0, y0), min(mx1, x1), min(my1, y1)
    if mx1 <= mx0 or my1 <= my0:
        return None
    tmap = geometry.triangle_map(target, triangles, (mx0, my0, mx1, my1), cull=False)
    return geometry.remap_mesh(
        frame_rgb, ref, target, triangles, tmap, fallback=geometry.IDENTITY_AFFINE
    )


class Dubber:
    """Dubs a stream of frames: `process(frame, mesh)` per frame, in order."""

    def __init__(self, character: Character, key_mesh: Any, fps: float = 30.0) -> None:
        cv2.setNumThreads(1)
        self.character = character
        self.state = DubState.start(character, key_mesh, fps)

    def process(self, frame_rgb: Image, mesh: Any | None) -> Image:
        """The dubbed frame; a frame without a mesh comes back unchanged (the same array)."""
        self.state.frames += 1
        if mesh is None:
            self.state.mesh_filter.reset()
            return frame_rgb
        return composite(self.character, frame_rgb, mesh, self.state)

    def timings_ms(self) -> dict[str, float]:
        """Mean milliseconds per processed frame for each step."""
        n = max(self.state.frames, 1)
        return {step: total / n for step, total in self.state.timings_ms.items()}
