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
    rows = _affine_rows(src, dst, triangles)  # ax, bx, cx, ay, by, cy
    return np.ascontiguousarray(rows.reshape(2, 3, -1).transpose(2, 0, 1))


def _affine_rows(src: npt.ArrayLike, dst: npt.ArrayLike, triangles: npt.ArrayLike) -> FloatArray:
    """The affine maps of `affine_maps` as six rows (ax, bx, cx, ay, by, cy), one column
    per triangle: src x = ax * x + bx * y + cx (and y alike) for dst pixel (x, y).
    Column arithmetic on flat arrays: several times faster than stacked 2x2 matrices."""
    s = np.asarray(src, dtype=np.float64)
    d = np.asarray(dst, dtype=np.float64)
    tri = np.asarray(triangles)
    # Each coordinate of every corner, gathered once: (m, 3) arrays.
    dx, dy = d[:, 0].take(tri), d[:, 1].take(tri)
    x0, y0 = dx[:, 0], dy[:, 0]
    e1x, e1y, e2x, e2y = dx[:, 1] - x0, dy[:, 1] - y0, dx[:, 2] - x0, dy[:, 2] - y0
    det = e1x * e2y - e1y * e2x
    inv = np.divide(1.0, det, out=np.zeros_like(det), where=np.abs(det) > 1e-12)
    rows = np.empty((6, len(tri)))
    for k, coord in enumerate((s[:, 0].take(tri), s[:, 1].take(tri))):
        base = coord[:, 0]
        f1, f2 = coord[:, 1] - base, coord[:, 2] - base
        a = (f1 * e2y - f2 * e1y) * inv
        b = (f2 * e1x - f1 * e2x) * inv
        rows[3 * k], rows[3 * k + 1], rows[3 * k + 2] = a, b, base - a * x0 - b * y0
    return rows


#: Below this many triangles, one `cv2.fillConvexPoly` call each is cheaper than the
#: vectorised scanlines' fixed cost (about forty numpy calls).
FEW_TRIANGLES = 64


def rasterise_ids(
    dst: npt.ArrayLike,
    triangles: npt.ArrayLike,
    shape: tuple[int, int],
    origin: tuple[int, int] = (0, 0),
    order: npt.ArrayLike | None = None,
) -> IntArray:
    """An int32 image of `shape` whose pixels hold the index of the triangle covering
    them (-1 for none). Triangles are drawn in `order` (later ones on top);
    `origin` is the image position of the map's top-left pixel.

    Many triangles are drawn as vectorised scanlines (numpy, no loop over triangles;
    see `_scanlines`), a few with one `cv2.fillConvexPoly` each; the two agree except
    on some pixels along edges (tested).
    """
    h, w = shape
    pts = np.asarray(dst, dtype=np.float64)[:, :2] - np.asarray(origin, dtype=np.float64)
    tri = np.asarray(triangles)
    draw = np.arange(len(tri)) if order is None else np.asarray(order)
    if h <= 0 or w <= 0 or len(draw) == 0:
        return np.full((max(h, 0), max(w, 0)), -1, dtype=np.int32)
    if len(draw) >= FEW_TRIANGLES:
        return _scanlines(pts, tri, (h, w), draw)
    ids = np.full((h, w), -1, dtype=np.int32)
    fixed = np.round(pts * (1 << _SHIFT)).astype(np.int32)
    for corners, i in zip(list(fixed[tri[draw]]), draw.tolist(), strict=True):
        cv2.fillConvexPoly(ids, corners, i, cv2.LINE_8, _SHIFT)
    return ids


def _scanlines(
    pts: FloatArray,
    tri: npt.NDArray[np.integer],
    shape: tuple[int, int],
    draw: npt.NDArray[np.integer],
) -> IntArray:
    """`rasterise_ids` for many triangles, vectorised (numpy, no loop over triangles):
    on each row, a triangle covers the pixels whose centre lies within half a pixel of
    the x extent of its part inside that row's band (the row's centre +- half a pixel).
    So every covered pixel's square touches the triangle, and, like a drawn line, thin
    and flat triangles still cover the pixels their edges pass through."""
    corners = tri.take(draw, axis=0)
    return _scanlines_of(pts[:, 1].take(corners), pts[:, 0].take(corners), shape, draw)


def _scanlines_of(
    ys: FloatArray, xs: FloatArray, shape: tuple[int, int], draw: npt.NDArray[np.integer]
) -> IntArray:
    """`_scanlines` from the drawn triangles' corner coordinates (two (m, 3) arrays, in
    draw order; `draw` their triangle indices)."""
    h, w = shape
    m = len(draw)
    # Each triangle's corners top to bottom (t, m, b): complex numbers sort by y, then x.
    ordered = np.sort(ys + 1j * xs, axis=1)
    (yt, ym, yb), (xt, xm, xb) = ordered.real.T, ordered.imag.T
    # Per triangle: the y of t, m and b, then the long edge t-b, the upper edge t-m and
    # the lower edge m-b as x = a + s * y (a, s), then x of m and the x range.
    params = np.empty((12, m))
    params[0], params[1], params[2] = yt, ym, yb
    for k, (x0, y0, x1, y1) in enumerate(((xt, yt, xb, yb), (xt, yt, xm, ym), (xm, ym, xb, yb))):
        dy = y1 - y0
        slope = np.divide(x1 - x0, dy, out=np.zeros(m), where=dy > 0)
        params[3 + 2 * k] = x0 - slope * y0
        params[4 + 2 * k] = slope
    params[9] = xm
    np.minimum(np.minimum(xt, xm, out=params[10]), xb, out=params[10])
    np.maximum(np.maximum(xt, xm, out=params[11]), xb, out=params[11])
    first = np.maximum(np.ceil(yt - 0.5), 0.0)
    rows = np.maximum(np.minimum(np.floor(yb + 0.5), h - 1) - first + 1, 0).astype(np.intp)
    # One entry per (triangle, row it reaches), triangles in draw order.
    y_top, y_mid, y_bot, a_long, s_long, a_up, s_up, a_low, s_low, x_mid, left, right = np.repeat(
        params, rows, axis=1
    )
    rank = np.repeat(np.arange(m, dtype=np.int32), rows)
    y = np.arange(len(rank), dtype=np.float64)
    y += np.repeat(first - (np.cumsum(rows) - rows), rows)
    # The triangle's span at the band's top and bottom edge (clamped to the triangle),
    # and the middle corner where it lies inside the band.
    near = np.abs(y_mid - y) <= 0.5
    lo = np.where(near, x_mid, np.inf)
    hi = np.where(near, x_mid, -np.inf)
    for edge in (y - 0.5, y + 0.5):
        yc = np.minimum(np.maximum(edge, y_top), y_bot)
        upper = yc < y_mid
        x_long = s_long * yc
        x_long += a_long
        x_short = np.where(upper, s_up, s_low)
        x_short *= yc
        x_short += np.where(upper, a_up, a_low)
        np.minimum(lo, np.minimum(x_long, x_short), out=lo)
        np.maximum(hi, np.maximum(x_long, x_short), out=hi)
    np.maximum(lo, left, out=lo)
    np.minimum(hi, right, out=hi)
    lo = np.maximum(np.ceil(lo - 0.5, out=lo), 0.0, out=lo)
    hi = np.minimum(np.floor(hi + 0.5, out=hi), w - 1.0, out=hi)
    count = (hi - lo + 1.0).astype(np.int32)
    keep = np.flatnonzero(count > 0)
    if len(keep) == 0:
        return np.full((h, w), -1, dtype=np.int32)
    count = count.take(keep)
    y *= w
    y += lo
    start = y.take(keep).astype(np.int32)
    rank = rank.take(keep)
    # The covered pixels of all rows as flat indices (and their triangle's draw rank),
    # by running sums over steps that jump at each row's start.
    ends = np.cumsum(count)
    offsets = ends - count
    steps = np.ones(int(ends[-1]), dtype=np.int32)
    leap = start.copy()  # from the previous run's last pixel to this run's first
    leap[1:] -= start[:-1]
    leap[1:] -= count[:-1] - 1
    steps[offsets] = leap
    jumps = np.zeros(len(steps), dtype=np.int32)
    rise = rank.copy()  # the draw rank's change from the previous run
    rise[1:] -= rank[:-1]
    jumps[offsets] = rise
    drawn = np.full(h * w, -1, dtype=np.int32)
    np.maximum.at(drawn, np.cumsum(steps, dtype=np.int32), np.cumsum(jumps, dtype=np.int32))
    lookup = np.append(draw.astype(np.int32), np.int32(-1))  # drawn -1 (nothing) -> -1
    return np.asarray(lookup.take(drawn).reshape(h, w), dtype=np.int32)


def paint_order(dst: npt.ArrayLike, triangles: npt.ArrayLike, cull: bool) -> IntArray:
    """Indices of the triangles to draw, far to near by mean z (painter's order);
    with `cull`, triangles that face away (negative signed area) are left out."""
    d = np.asarray(dst, dtype=np.float64)
    tri = np.asarray(triangles)
    keep = np.arange(len(tri))
    if cull:
        keep = keep[_areas(d[:, 0].take(tri), d[:, 1].take(tri)) > 0]
    if d.shape[1] >= 3:
        depth = d[:, 2].take(tri.take(keep, axis=0)).mean(axis=1)
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
    low = (d[:, :2] - [x0 + offset, y0 + offset]) / step
    # The corners of every triangle, gathered once (culling, depth order, slivers and
    # the scanlines all read them).
    low_x, low_y = low[:, 0].take(tri), low[:, 1].take(tri)
    keep = paint_order(d, tri, cull)
    order = keep[~_sliver_flags(low_x.take(keep, axis=0), low_y.take(keep, axis=0))]
    hl_wl = (hl, wl)
    if hl <= 0 or wl <= 0 or len(order) == 0:
        ids = np.full((max(hl, 0), max(wl, 0)), -1, dtype=np.int32)
    elif len(order) >= FEW_TRIANGLES:
        corners_y, corners_x = low_y.take(order, axis=0), low_x.take(order, axis=0)
        ids = _scanlines_of(corners_y, corners_x, hl_wl, order)
    else:
        ids = rasterise_ids(low, tri, hl_wl, (0, 0), order)
    return TriangleMap(ids, box, step)


def _areas(xs: FloatArray, ys: FloatArray) -> FloatArray:
    """`signed_areas` from the triangles' corner coordinates (two (m, 3) arrays)."""
    abx, aby = xs[:, 1] - xs[:, 0], ys[:, 1] - ys[:, 0]
    acx, acy = xs[:, 2] - xs[:, 0], ys[:, 2] - ys[:, 0]
    return np.asarray(abx * acy - aby * acx, dtype=np.float64)


#: A triangle less than this many map pixels high (across its longest edge) is a sliver.
SLIVER_PX = 0.5


def _sliver_flags(xs: FloatArray, ys: FloatArray) -> npt.NDArray[np.bool_]:
    """Which triangles, given by their corners' coordinates (two (m, 3) arrays), are
    slivers (see SLIVER_PX): a squeezed-shut eye or lip strip, whose affine map is near
    singular, so a pixel it owned would sample some far part of the texture; its
    neighbours' edges cover the pixels instead."""
    ex = np.empty_like(xs)  # edges 0-1, 1-2, 2-0
    np.subtract(xs[:, 1:], xs[:, :2], out=ex[:, :2])
    np.subtract(xs[:, 0], xs[:, 2], out=ex[:, 2])
    ey = np.empty_like(ys)
    np.subtract(ys[:, 1:], ys[:, :2], out=ey[:, :2])
    np.subtract(ys[:, 0], ys[:, 2], out=ey[:, 2])
    longest = np.sqrt((ex * ex + ey * ey).max(axis=1))
    twice_area = np.abs(ex[:, 0] * ey[:, 1] - ey[:, 0] * ex[:, 1])
    return np.asarray(twice_area < SLIVER_PX * longest, dtype=bool)


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
    into: npt.NDArray[np.uint8] | None = None,
    coverage: bool = True,
) -> Warped:
    """Sample `texture` (whose mesh is `src`) through a triangle map of `dst`.

    Only the first `used` triangles count (the others are treated as uncovered), and
    uncovered pixels take `fallback` (a 2x3 dst -> src affine; by default one affine
    fit of the whole mesh: smooth next to the face, so enlarging half-resolution maps
    does not smear a sentinel into the border). One `cv2.remap` for the whole box,
    written straight into `into` when given (an array of the box's shape, e.g. a view
    of the output frame). Without `coverage`, the coverage mask is left empty (0 x 0)."""
    x0, y0, x1, y1 = tmap.box
    h, w = y1 - y0, x1 - x0
    channels = texture.shape[2:] if texture.ndim == 3 else ()
    if h <= 0 or w <= 0:
        empty = np.zeros((max(h, 0), max(w, 0), *channels), dtype=texture.dtype)
        return Warped(empty, np.zeros((max(h, 0), max(w, 0)), dtype=bool), (x0, y0))
    tri = np.asarray(triangles)
    n = len(tri) if used is None else int(used)
    step = tmap.step
    hl, wl = tmap.ids.shape
    offset = (step - 1) / 2.0
    # One table column per used triangle, then the fallback, which ids >= n and -1 pick.
    ids = np.minimum(tmap.ids, n)
    covered = ids.view(np.uint32) < n  # -1 wraps round to a huge value
    rest = _global_affine(src, dst) if fallback is None else np.asarray(fallback, np.float64)
    table = np.empty((6, n + 1), dtype=np.float32)  # rows ax, bx, cx, ay, by, cy
    table[:, :n] = _affine_rows(src, dst, tri[:n])
    table[:, n] = np.asarray(rest, dtype=np.float64).ravel()
    xs = (x0 + offset + step * np.arange(wl, dtype=np.float32))[None, :]
    ys = (y0 + offset + step * np.arange(hl, dtype=np.float32))[:, None]
    # Each pixel's six coefficients in one gather (a take along the table's rows).
    coef = table.take(ids, axis=1)
    planes = []
    for ax, bx, cx in (coef[:3], coef[3:]):
        plane = ax * xs
        term = bx * ys
        plane += term
        plane += cx
        planes.append(plane)
    map_xy = cv2.merge(planes)  # one two-channel map: one resize and one conversion
    if step > 1:
        size = (wl * step, hl * step)
        map_xy = np.asarray(cv2.resize(map_xy, size, interpolation=cv2.INTER_LINEAR))[:h, :w]
        _extend_edges(map_xy)
        if coverage:
            big = cv2.resize(covered.view(np.uint8), size, interpolation=cv2.INTER_NEAREST)
            covered = np.asarray(big, dtype=np.uint8)[:h, :w].view(bool)
    # Fixed-point maps (1/32 pixel) remap about twice as fast as float ones.
    fixed_xy, fixed_frac = cv2.convertMaps(map_xy, None, cv2.CV_16SC2)  # type: ignore[call-overload]
    image = cv2.remap(
        texture,
        fixed_xy,
        fixed_frac,
        cv2.INTER_LINEAR,
        dst=into,
        borderMode=cv2.BORDER_REPLICATE,
    )
    if into is not None and image is not into:  # OpenCV could not write there directly
        into[...] = image.reshape(into.shape)
        image = into
    if image.ndim == 2 and texture.ndim == 3:
        image = image[..., None]
    if not coverage:
        covered = np.zeros((0, 0), dtype=bool)
    return Warped(np.asarray(image, dtype=np.uint8), covered, (x0, y0))


def _extend_edges(values: npt.NDArray[np.float32]) -> None:
    """Redo the outermost rows and columns of an enlarged map (in place) by linear
    extrapolation from their two inner neighbours: `cv2.resize` clamps there, which
    would shift the box's edge pixels by a quarter of a low-resolution step."""
    h, w = values.shape[:2]
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
    design = np.ones((len(d), 3))
    design[:, :2] = d
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
    e = np.concatenate((p[1:], p[:1])) - p  # edges p -> next
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
