"""Pure mesh geometry: Procrustes alignment, head axes, triangulation and the
piecewise-affine warp that moves a texture from one mesh onto another.

Conventions: points are float arrays of shape (n, 2) or (n, 3) in image pixels,
x to the right, y down, z away from the camera (MediaPipe's sign).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

#: Sub-pixel precision (bits) used when rasterising triangles.
_SHIFT = 4


@dataclasses.dataclass(frozen=True)
class Similarity:
    """dst = scale * src @ rotation.T + translation."""

    scale: float
    rotation: FloatArray
    translation: FloatArray

    def apply(self, points: npt.ArrayLike) -> FloatArray:
        pts = np.asarray(points, dtype=np.float64)
        return self.scale * pts @ self.rotation.T + self.translation

    def invert(self, points: npt.ArrayLike) -> FloatArray:
        pts = np.asarray(points, dtype=np.float64)
        return ((pts - self.translation) @ self.rotation) / self.scale


def procrustes(
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    *,
    with_scale: bool = True,
    weights: npt.ArrayLike | None = None,
) -> Similarity:
    """Least-squares similarity (or rigid, without scale) taking `src` onto `dst`
    (Umeyama's method, reflections excluded). Works in 2-D and 3-D."""
    a = np.asarray(src, dtype=np.float64)
    b = np.asarray(dst, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] < a.shape[1]:
        raise ValueError(
            f"procrustes needs two (n, d) arrays with n >= d, got {a.shape}, {b.shape}"
        )
    w = np.ones(len(a)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mean_a = w @ a
    mean_b = w @ b
    ca = a - mean_a
    cb = b - mean_b
    cov = (cb * w[:, None]).T @ ca
    u, sing, vt = np.linalg.svd(cov)
    sign = np.ones(a.shape[1])
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = (u * sign) @ vt
    var_a = float(w @ (ca**2).sum(axis=1))
    scale = float((sing * sign).sum() / var_a) if with_scale and var_a > 0 else 1.0
    translation = mean_b - scale * mean_a @ rotation.T
    return Similarity(scale, rotation, translation)


def procrustes_residual(src: npt.ArrayLike, dst: npt.ArrayLike) -> float:
    """RMS distance after the best similarity, relative to the RMS spread of `dst`:
    a scale-free measure of how different two shapes are (0 = identical)."""
    b = np.asarray(dst, dtype=np.float64)
    fitted = procrustes(src, b).apply(src)
    spread = float(np.sqrt(((b - b.mean(axis=0)) ** 2).sum(axis=1).mean()))
    return float(np.sqrt(((fitted - b) ** 2).sum(axis=1).mean()) / spread)


def head_axes(mesh: npt.ArrayLike, right: int, left: int, top: int, bottom: int) -> FloatArray:
    """Rotation matrix whose columns are the face's own x (eye line), y (down the face)
    and z (into the head) axes, from four mesh points; identity for a frontal face."""
    pts = np.asarray(mesh, dtype=np.float64)
    x = pts[left] - pts[right]
    x /= np.linalg.norm(x)
    y = pts[bottom] - pts[top]
    y -= (y @ x) * x
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=1)


def rotation_matrix(
    yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0
) -> FloatArray:
    """Rotation about y (yaw), then x (pitch), then z (roll), in the image frame."""
    yaw, pitch, roll = np.radians([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rx = np.array(
        [[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]]
    )
    rz = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
    return rz @ rx @ ry


def signed_areas(points: npt.ArrayLike, triangles: npt.ArrayLike) -> FloatArray:
    """Twice the signed area of each triangle (positive = clockwise on screen, y down)."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    tri = np.asarray(triangles)
    a, b, c = pts[tri[:, 0]], pts[tri[:, 1]], pts[tri[:, 2]]
    ab = b - a
    ac = c - a
    return ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0]


def delaunay(points: npt.ArrayLike) -> IntArray:
    """Delaunay triangulation of 2-D points as (m, 3) vertex indices, every triangle
    with positive signed area (see `signed_areas`)."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    lo = pts.min(axis=0)
    extent = float(max((pts.max(axis=0) - lo).max(), 1.0))
    # Subdiv2D's virtual outer vertices sit at a multiple of the rectangle; a rectangle
    # far larger than the points keeps thin triangles on the hull from being lost.
    margin = 100.0 * extent
    rect = (
        int(np.floor(lo[0] - margin)),
        int(np.floor(lo[1] - margin)),
        int(np.ceil(extent + 2 * margin)),
        int(np.ceil(extent + 2 * margin)),
    )
    subdiv = cv2.Subdiv2D(rect)
    lookup: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(pts.astype(np.float32)):
        lookup.setdefault((float(x), float(y)), i)
        subdiv.insert((float(x), float(y)))
    triangles: list[tuple[int, int, int]] = []
    for row in np.asarray(subdiv.getTriangleList(), dtype=np.float32):
        corners = [lookup.get((float(row[k]), float(row[k + 1]))) for k in (0, 2, 4)]
        if all(c is not None for c in corners) and len(set(corners)) == 3:
            a, b, c = (int(v) for v in corners if v is not None)
            triangles.append((a, b, c))
    tri = np.array(triangles, dtype=np.int32).reshape(-1, 3)
    return orient(pts, tri)


def orient(points: npt.ArrayLike, triangles: npt.ArrayLike) -> IntArray:
    """The same triangles, reordered so each has a positive signed area; degenerate
    (zero-area) triangles are dropped."""
    tri = np.asarray(triangles, dtype=np.int32).copy()
    area = signed_areas(points, tri)
    flip = area < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return tri[np.abs(area) > 1e-9]


def affine_maps(src: npt.ArrayLike, dst: npt.ArrayLike, triangles: npt.ArrayLike) -> FloatArray:
    """For each triangle, the 2x3 affine matrix taking dst pixel coordinates to src
    (closed form; a degenerate dst triangle gets the map of its first vertex)."""
    s = np.asarray(src, dtype=np.float64)[:, :2]
    d = np.asarray(dst, dtype=np.float64)[:, :2]
    tri = np.asarray(triangles)
    d0, d1, d2 = d[tri[:, 0]], d[tri[:, 1]], d[tri[:, 2]]
    s0, s1, s2 = s[tri[:, 0]], s[tri[:, 1]], s[tri[:, 2]]
    e1, e2 = d1 - d0, d2 - d0
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    safe = np.where(np.abs(det) > 1e-12, det, np.inf)
    # Inverse of [e1 e2] (columns) applied to (x - d0) gives barycentric (u, v).
    inv = (
        np.stack(
            [np.stack([e2[:, 1], -e2[:, 0]], axis=1), np.stack([-e1[:, 1], e1[:, 0]], axis=1)],
            axis=1,
        )
        / safe[:, None, None]
    )  # (m, 2, 2): rows u, v
    f1, f2 = s1 - s0, s2 - s0
    linear = f1[:, :, None] * inv[:, None, 0, :] + f2[:, :, None] * inv[:, None, 1, :]  # (m, 2, 2)
    offset = s0 - np.einsum("mij,mj->mi", linear, d0)
    return np.concatenate([linear, offset[:, :, None]], axis=2)


def rasterise_ids(
    dst: npt.ArrayLike,
    triangles: npt.ArrayLike,
    shape: tuple[int, int],
    origin: tuple[int, int] = (0, 0),
    order: npt.ArrayLike | None = None,
) -> IntArray:
    """An int32 image of `shape` whose pixels hold the index of the triangle covering
    them (-1 for none). Triangles are drawn in `order` (later ones on top);
    `origin` is the image position of the map's top-left pixel."""
    d = np.asarray(dst, dtype=np.float64)[:, :2] - np.asarray(origin, dtype=np.float64)
    fixed = np.round(d * (1 << _SHIFT)).astype(np.int32)
    tri = np.asarray(triangles)
    ids = np.full(shape, -1, dtype=np.int32)
    indices = np.arange(len(tri)) if order is None else np.asarray(order)
    fill = cv2.fillConvexPoly
    # One call per triangle; iterating a pre-gathered list saves ~10% of the loop.
    for corners, i in zip(list(fixed[tri[indices]]), indices.tolist(), strict=True):
        fill(ids, corners, i, cv2.LINE_8, _SHIFT)
    return ids


def paint_order(dst: npt.ArrayLike, triangles: npt.ArrayLike, cull: bool) -> IntArray:
    """Indices of the triangles to draw, far to near by mean z (painter's order);
    with `cull`, triangles that face away (negative signed area) are left out."""
    d = np.asarray(dst, dtype=np.float64)
    tri = np.asarray(triangles)
    keep = np.arange(len(tri))
    if cull:
        keep = keep[signed_areas(d, tri) > 0]
    if d.shape[1] >= 3:
        depth = d[tri[keep], 2].mean(axis=1)
        keep = keep[np.argsort(-depth, kind="stable")]
    return keep.astype(np.int32)


@dataclasses.dataclass(frozen=True)
class Warped:
    """A warp result confined to a box: `image` and `coverage` start at `origin` (x, y)."""

    image: npt.NDArray[np.uint8]
    coverage: npt.NDArray[np.bool_]
    origin: tuple[int, int]


def warp_box(
    dst: npt.ArrayLike, frame_shape: tuple[int, int], pad: int = 2
) -> tuple[int, int, int, int]:
    """The (x0, y0, x1, y1) box of the frame that the dst points cover, padded and clipped."""
    d = np.asarray(dst, dtype=np.float64)[:, :2]
    h, w = frame_shape
    x0 = max(int(np.floor(d[:, 0].min())) - pad, 0)
    y0 = max(int(np.floor(d[:, 1].min())) - pad, 0)
    x1 = min(int(np.ceil(d[:, 0].max())) + pad + 1, w)
    y1 = min(int(np.ceil(d[:, 1].max())) + pad + 1, h)
    return x0, y0, max(x1, x0), max(y1, y0)


@dataclasses.dataclass(frozen=True)
class TriangleMap:
    """Which triangle of a dst mesh covers each pixel of a box, possibly at a lower
    resolution: `ids` (-1 for none) has one entry per `step` x `step` pixels of `box`
    (x0, y0, x1, y1), each sampled at the centre of its block."""

    ids: IntArray
    box: tuple[int, int, int, int]
    step: int

    def crop(self, box: tuple[int, int, int, int]) -> TriangleMap:
        """The part of the map covering `box`, grown to whole low-resolution blocks and
        clipped to this map's own box (no rasterising again)."""
        x0, y0, x1, y1 = self.box
        s = self.step
        hl, wl = self.ids.shape
        c0 = min(max((box[0] - x0) // s, 0), wl)
        r0 = min(max((box[1] - y0) // s, 0), hl)
        c1 = min(max(-(-(box[2] - x0) // s), c0), wl)
        r1 = min(max(-(-(box[3] - y0) // s), r0), hl)
        cropped = (x0 + c0 * s, y0 + r0 * s, min(x0 + c1 * s, x1), min(y0 + r1 * s, y1))
        return TriangleMap(self.ids[r0:r1, c0:c1], cropped, s)


def triangle_map(
    dst: npt.ArrayLike,
    triangles: npt.ArrayLike,
    box: tuple[int, int, int, int],
    *,
    cull: bool = True,
    map_step: int = 1,
) -> TriangleMap:
    """The z-ordered triangle-id map of `dst` over `box` (back faces culled with `cull`)."""
    x0, y0, x1, y1 = box
    step = max(int(map_step), 1)
    hl, wl = -(-max(y1 - y0, 0) // step), -(-max(x1 - x0, 0) // step)
    offset = (step - 1) / 2.0  # a low-resolution pixel's centre, in full-resolution pixels
    d = np.asarray(dst, dtype=np.float64)
    tri = np.asarray(triangles)
    low = d.copy()
    low[:, :2] = (d[:, :2] - [x0 + offset, y0 + offset]) / step
    ids = rasterise_ids(low, tri, (hl, wl), (0, 0), paint_order(d, tri, cull))
    return TriangleMap(ids, box, step)


#: The 2x3 map of a pixel that samples itself.
IDENTITY_AFFINE = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def remap_mesh(
    texture: npt.NDArray[np.uint8],
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    triangles: npt.ArrayLike,
    tmap: TriangleMap,
    *,
    used: int | None = None,
    fallback: FloatArray | None = None,
) -> Warped:
    """Sample `texture` (whose mesh is `src`) through a triangle map of `dst`.

    Only the first `used` triangles count (the others are treated as uncovered), and
    uncovered pixels take `fallback` (a 2x3 dst -> src affine; by default one affine
    fit of the whole mesh: smooth next to the face, so enlarging half-resolution maps
    does not smear a sentinel into the border). One `cv2.remap` for the whole box."""
    x0, y0, x1, y1 = tmap.box
    h, w = y1 - y0, x1 - x0
    channels = texture.shape[2:] if texture.ndim == 3 else ()
    if h <= 0 or w <= 0:
        empty = np.zeros((max(h, 0), max(w, 0), *channels), dtype=texture.dtype)
        return Warped(empty, np.zeros((max(h, 0), max(w, 0)), dtype=bool), (x0, y0))
    tri = np.asarray(triangles)
    n = len(tri) if used is None else int(used)
    d = np.asarray(dst, dtype=np.float64)
    step = tmap.step
    hl, wl = tmap.ids.shape
    offset = (step - 1) / 2.0
    ids = np.where(tmap.ids < n, tmap.ids, -1) if len(tmap.ids) else tmap.ids
    maps = affine_maps(src, dst, tri[:n])
    covered = ids >= 0
    rest = _global_affine(src, d) if fallback is None else np.asarray(fallback, np.float64)
    coef = np.concatenate([maps.reshape(n, 6), rest.reshape(1, 6)]).astype(np.float32)
    per_pixel = np.take(coef, ids, axis=0)  # id -1 picks the fallback row (take: 3x faster)
    xs = (x0 + offset + step * np.arange(wl, dtype=np.float32))[None, :]
    ys = (y0 + offset + step * np.arange(hl, dtype=np.float32))[:, None]
    map_x = per_pixel[..., 0] * xs + per_pixel[..., 1] * ys + per_pixel[..., 2]
    map_y = per_pixel[..., 3] * xs + per_pixel[..., 4] * ys + per_pixel[..., 5]
    if step > 1:
        size = (wl * step, hl * step)
        map_x = np.asarray(cv2.resize(map_x, size, interpolation=cv2.INTER_LINEAR), np.float32)[
            :h, :w
        ]
        map_y = np.asarray(cv2.resize(map_y, size, interpolation=cv2.INTER_LINEAR), np.float32)[
            :h, :w
        ]
        big = cv2.resize(covered.view(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        covered = np.asarray(big, dtype=np.uint8)[:h, :w].view(bool)
        _extend_edges(map_x)
        _extend_edges(map_y)
    # Fixed-point maps (1/32 pixel) remap about twice as fast as float ones.
    fixed_xy, fixed_frac = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
    image = cv2.remap(
        texture, fixed_xy, fixed_frac, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if image.ndim == 2 and texture.ndim == 3:
        image = image[..., None]
    return Warped(np.asarray(image, dtype=np.uint8), covered, (x0, y0))


def _extend_edges(values: npt.NDArray[np.float32]) -> None:
    """Redo the outermost rows and columns of an enlarged map (in place) by linear
    extrapolation from their two inner neighbours: `cv2.resize` clamps there, which
    would shift the box's edge pixels by a quarter of a low-resolution step."""
    h, w = values.shape
    if w >= 3:
        values[:, 0] = 2 * values[:, 1] - values[:, 2]
        values[:, -1] = 2 * values[:, -2] - values[:, -3]
    if h >= 3:
        values[0] = 2 * values[1] - values[2]
        values[-1] = 2 * values[-2] - values[-3]


def piecewise_affine(
    texture: npt.NDArray[np.uint8],
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    triangles: npt.ArrayLike,
    frame_shape: tuple[int, int],
    *,
    cull: bool = True,
    box: tuple[int, int, int, int] | None = None,
    map_step: int = 1,
) -> Warped:
    """Move `texture` (whose mesh is `src`) so that its mesh lands on `dst`.

    One id map (which triangle covers which pixel, z-ordered, back faces culled) and
    one `cv2.remap` for the whole face: much cheaper than a warpAffine per triangle,
    and seamless because neighbouring affine maps agree on their shared edge.
    With `map_step` 2 the id map and the sampling maps are made at half resolution
    and enlarged (the piecewise-affine map is continuous, so little is lost); the
    texture is still sampled at full resolution.
    """
    tmap = triangle_map(
        dst, triangles, box or warp_box(dst, frame_shape), cull=cull, map_step=map_step
    )
    return remap_mesh(texture, src, dst, triangles, tmap)


def _global_affine(src: npt.ArrayLike, dst: npt.ArrayLike) -> FloatArray:
    """The least-squares 2x3 affine map taking dst points to src points (the points
    both arrays have; one may carry extra vertices the triangles do not use)."""
    n = min(len(src), len(dst))  # type: ignore[arg-type]
    s = np.asarray(src, dtype=np.float64)[:n, :2]
    d = np.asarray(dst, dtype=np.float64)[:n, :2]
    design = np.column_stack([d, np.ones(len(d))])
    # Normal equations: a 3x3 solve, several times cheaper than an SVD-based lstsq.
    gram = design.T @ design
    if abs(float(np.linalg.det(gram))) < 1e-9:
        solution, *_ = np.linalg.lstsq(design, s, rcond=None)
    else:
        solution = np.linalg.solve(gram, design.T @ s)
    return np.asarray(solution.T, dtype=np.float64)


def grown_hull(points: npt.ArrayLike, factor: float) -> FloatArray:
    """The convex hull of the points (2-D), scaled by `factor` about its vertices' mean."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    centre = hull.mean(axis=0)
    return np.asarray(centre + (hull - centre) * factor, dtype=np.float64)


def ray_hits(centre: npt.ArrayLike, through: npt.ArrayLike, polygon: npt.ArrayLike) -> FloatArray:
    """Where the rays from `centre` through each of the `through` points leave a convex
    polygon that contains `centre` (one point per ray)."""
    c = np.asarray(centre, dtype=np.float64)[:2]
    d = np.asarray(through, dtype=np.float64)[:, :2] - c
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    p = np.asarray(polygon, dtype=np.float64)[:, :2]
    e = np.roll(p, -1, axis=0) - p  # edges p -> next
    w = p - c
    # Solve c + t d = p + s e for every (ray, edge): t = cross(w, e) / cross(d, e).
    denom = d[:, None, 0] * e[None, :, 1] - d[:, None, 1] * e[None, :, 0]
    safe = np.where(np.abs(denom) > 1e-12, denom, np.nan)
    t = (w[None, :, 0] * e[None, :, 1] - w[None, :, 1] * e[None, :, 0]) / safe
    s = (w[None, :, 0] * d[:, None, 1] - w[None, :, 1] * d[:, None, 0]) / safe
    ok = (s >= -1e-9) & (s <= 1 + 1e-9) & (t > 0)
    dist = np.where(ok, t, np.inf).min(axis=1)
    dist = np.where(np.isfinite(dist), dist, 0.0)
    return np.asarray(c + d * dist[:, None], dtype=np.float64)
