"""Procrustes, head axes, triangulation and the piecewise-affine warp, on numpy arrays."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from facedubd.pipeline import geometry


def _random_rotation(rng: np.random.Generator, dim: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


@pytest.mark.parametrize("dim", [2, 3])
def test_procrustes_recovers_a_similarity(dim: int) -> None:
    rng = np.random.default_rng(dim)
    src = rng.normal(size=(50, dim))
    rot = _random_rotation(rng, dim)
    dst = 2.5 * src @ rot.T + rng.normal(size=dim)
    fit = geometry.procrustes(src, dst)
    assert fit.scale == pytest.approx(2.5, rel=1e-9)
    np.testing.assert_allclose(fit.rotation, rot, atol=1e-9)
    np.testing.assert_allclose(fit.apply(src), dst, atol=1e-9)
    np.testing.assert_allclose(fit.invert(dst), src, atol=1e-9)


def test_rigid_procrustes_keeps_scale_one_and_never_reflects() -> None:
    rng = np.random.default_rng(7)
    src = rng.normal(size=(30, 3))
    mirrored = src * np.array([-1.0, 1.0, 1.0]) * 3.0
    fit = geometry.procrustes(src, mirrored, with_scale=False)
    assert fit.scale == 1.0
    assert np.linalg.det(fit.rotation) == pytest.approx(1.0)


def test_procrustes_residual_is_zero_for_similar_shapes_and_not_for_others() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(40, 2))
    b = 0.3 * a @ geometry.rotation_matrix(roll_deg=40)[:2, :2].T + 5
    assert geometry.procrustes_residual(a, b) < 1e-9
    assert geometry.procrustes_residual(a, a + rng.normal(scale=0.5, size=a.shape)) > 0.1


def test_head_axes_of_a_rotated_face_give_back_the_rotation() -> None:
    # Four points of a frontal "face": right eye, left eye, forehead, chin.
    face = np.array([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, -1.5, 0.2], [0.0, 1.5, 0.2]])
    rot = geometry.rotation_matrix(yaw_deg=25, pitch_deg=-10, roll_deg=15)
    moved = face @ rot.T + np.array([320.0, 180.0, 0.0])
    axes = geometry.head_axes(moved, right=0, left=1, top=2, bottom=3)
    frontal = geometry.head_axes(face, 0, 1, 2, 3)
    np.testing.assert_allclose(axes @ frontal.T, rot, atol=1e-9)


def test_delaunay_covers_the_hull_with_positive_triangles() -> None:
    rng = np.random.default_rng(11)
    pts = rng.uniform(0, 100, size=(200, 2))
    tri = geometry.delaunay(pts)
    hull_area = cv2.contourArea(cv2.convexHull(pts.astype(np.float32)))
    areas = geometry.signed_areas(pts, tri)
    assert (areas > 0).all()
    assert areas.sum() / 2 == pytest.approx(hull_area, rel=1e-4)
    # Euler: a triangulation of n points with h on the hull has 2n - h - 2 triangles.
    h = len(cv2.convexHull(pts.astype(np.float32)))
    assert len(tri) == 2 * len(pts) - h - 2


def _grid_mesh(n: int, size: float) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.linspace(0, size, n), np.linspace(0, size, n))
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
    return pts, geometry.delaunay(pts)


def test_piecewise_affine_with_an_affine_motion_equals_one_warp_affine() -> None:
    rng = np.random.default_rng(5)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (120, 120, 3), dtype=np.uint8), (7, 7), 2)
    src, tri = _grid_mesh(6, 100.0)
    src = src + 10
    affine = np.array([[0.9, 0.2, 30.0], [-0.15, 1.1, 20.0]])
    dst = src @ affine[:, :2].T + affine[:, 2]
    out = geometry.piecewise_affine(texture, src, dst, tri, (200, 200))
    expected = cv2.warpAffine(texture, affine, (200, 200), flags=cv2.INTER_LINEAR)
    x0, y0 = out.origin
    h, w = out.coverage.shape
    inner = cv2.erode(out.coverage.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    diff = np.abs(out.image.astype(int) - expected[y0 : y0 + h, x0 : x0 + w].astype(int))
    assert inner.sum() > 5000
    assert diff[inner].max() <= 2


def test_piecewise_affine_moves_a_feature_with_its_triangle() -> None:
    texture = np.zeros((100, 100, 3), np.uint8)
    cv2.circle(texture, (30, 30), 4, (255, 255, 255), -1)
    src, tri = _grid_mesh(5, 99.0)
    dst = src.copy()
    # Push only the vertex nearest the dot by (+8, +6): the dot follows part of the way.
    near = int(np.argmin(np.linalg.norm(src - [25, 25], axis=1)))
    dst[near] += [8.0, 6.0]
    out = geometry.piecewise_affine(texture, src, dst, tri, (100, 100))
    ys, xs = np.nonzero(out.image[..., 0] > 128)
    cx, cy = xs.mean() + out.origin[0], ys.mean() + out.origin[1]
    print(f"dot moved from (30, 30) to ({cx:.1f}, {cy:.1f})")
    assert 32.5 < cx < 38 and 32 < cy < 36  # moved right and down, less than the vertex
    assert out.image[out.coverage].any()


def test_back_faces_are_culled_and_near_triangles_drawn_on_top() -> None:
    pts = np.array([[0, 0, 5], [40, 0, 5], [0, 40, 5], [5, 5, -5], [45, 5, -5], [5, 45, -5]], float)
    tri = np.array([[0, 1, 2], [3, 4, 5]])
    tri = geometry.orient(pts, tri)
    order = geometry.paint_order(pts, tri, cull=True)
    assert order.tolist() == [0, 1]  # far (z = 5) first, near last
    flipped = pts.copy()
    flipped[:3, 0] *= -1
    flipped[:3, 0] += 40  # mirror the far triangle: it now faces away
    assert geometry.paint_order(flipped, tri, cull=True).tolist() == [1]
    ids = geometry.rasterise_ids(pts, tri, (50, 50), order=order)
    assert ids[10, 10] == 1 and ids[2, 2] == 0 and ids[49, 49] == -1


def test_piecewise_affine_speed_on_a_face_sized_mesh() -> None:
    """Print ms per warp for ~470 points / ~900 triangles on a 160 px face."""
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 160, size=(468, 2))
    tri = geometry.delaunay(src)
    texture = rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)
    dst = src * 1.05 + [240, 100] + rng.normal(scale=0.7, size=src.shape)
    geometry.piecewise_affine(texture, src, dst, tri, (360, 640))
    start = time.perf_counter()
    runs = 20
    for _ in range(runs):
        out = geometry.piecewise_affine(texture, src, dst, tri, (360, 640))
    ms = (time.perf_counter() - start) * 1000 / runs
    print(f"piecewise_affine: {len(tri)} triangles, {out.coverage.sum()} px, {ms:.2f} ms")
    assert out.coverage.mean() > 0.8


def test_half_resolution_maps_match_full_resolution_inside_the_face() -> None:
    rng = np.random.default_rng(8)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8), (9, 9), 3)
    src = rng.uniform(10, 190, size=(300, 2))
    tri = geometry.delaunay(src)
    dst = src * 1.3 + [40, 20] + rng.normal(scale=1.5, size=src.shape)
    full = geometry.piecewise_affine(texture, src, dst, tri, (320, 320), cull=False)
    half = geometry.piecewise_affine(texture, src, dst, tri, (320, 320), cull=False, map_step=2)
    assert half.origin == full.origin and half.image.shape == full.image.shape
    inner = cv2.erode(full.coverage.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    diff = np.abs(half.image.astype(int) - full.image.astype(int))[inner]
    print(
        f"half-resolution maps: mean |diff| {diff.mean():.2f}, 99th pct {np.percentile(diff, 99)}"
    )
    assert diff.mean() < 1.5 and np.percentile(diff, 99) <= 12
    assert (half.coverage == full.coverage)[inner].all()


def test_ray_hits_find_the_edge_of_a_convex_polygon() -> None:
    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    hits = geometry.ray_hits([5.0, 5.0], np.array([[7.0, 5.0], [5.0, 1.0], [8.0, 8.0]]), square)
    np.testing.assert_allclose(hits, [[10.0, 5.0], [5.0, 0.0], [10.0, 10.0]], atol=1e-9)


def test_grown_hull_scales_about_the_hull_centre() -> None:
    pts = np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 2.0], [0.0, 2.0], [2.0, 1.0]])
    grown = geometry.grown_hull(pts, 1.5)
    assert len(grown) == 4
    np.testing.assert_allclose(np.sort(grown[:, 0]), [-1.0, -1.0, 5.0, 5.0])
    np.testing.assert_allclose(np.sort(grown[:, 1]), [-0.5, -0.5, 2.5, 2.5])


def test_remap_mesh_with_an_identity_fallback_leaves_uncovered_pixels_exact() -> None:
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    src = np.array([[20.0, 20.0, 0], [50.0, 20.0, 0], [35.0, 45.0, 0]])
    dst = src + np.array([4.0, 2.0, 0.0])
    tri = np.array([[0, 1, 2]])
    for step in (1, 2):
        tmap = geometry.triangle_map(dst, tri, (0, 0, 80, 60), cull=False, map_step=step)
        out = geometry.remap_mesh(frame, src, dst, tri, tmap, fallback=geometry.IDENTITY_AFFINE)
        far = np.ones((60, 80), bool)
        far[10:56, 14:66] = False  # the triangle and a margin for the enlarged maps
        assert np.array_equal(out.image[far], frame[far])
        # Inside, the content moved by (4, 2): compare a pixel well inside.
        assert np.array_equal(out.image[33, 39], frame[31, 35])
    only_first = geometry.remap_mesh(
        frame, src, dst, np.array([[0, 1, 2], [0, 2, 1]]), tmap, used=0
    )
    assert not only_first.coverage.any()


def _distance_to_triangle(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Distance from each point of p (n, 2) to the closed triangle tri[i] (n, 3, 2)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]

    def cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]

    area = cross(b - a, c - a)
    sides = [cross(q - o, p - o) * np.sign(area) for o, q in ((a, b), (b, c), (c, a))]
    inside = (sides[0] >= 0) & (sides[1] >= 0) & (sides[2] >= 0) & (area != 0)

    def to_segment(o: np.ndarray, q: np.ndarray) -> np.ndarray:
        e = q - o
        t = np.clip(((p - o) * e).sum(1) / np.maximum((e * e).sum(1), 1e-12), 0, 1)
        return np.linalg.norm(p - (o + t[:, None] * e), axis=1)

    edge = np.minimum(np.minimum(to_segment(a, b), to_segment(b, c)), to_segment(c, a))
    return np.where(inside, 0.0, edge)


def _cv2_ids(pts: np.ndarray, tri: np.ndarray, shape: tuple[int, int], order: np.ndarray):
    ids = np.full(shape, -1, np.int32)
    fixed = np.round(pts[:, :2] * 16).astype(np.int32)
    for i in order.tolist():
        cv2.fillConvexPoly(ids, fixed[tri[i]], i, cv2.LINE_8, 4)
    return ids


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_scanline_ids_match_fill_convex_poly_except_along_edges(seed: int) -> None:
    """The vectorised rasteriser against one cv2.fillConvexPoly per triangle, drawn in
    the same order, on a face-sized jittered mesh with folds, slivers and depth order."""
    rng = np.random.default_rng(seed)
    flat = rng.uniform(5, 115, size=(400, 2))
    tri = geometry.delaunay(flat)
    pts = np.column_stack([flat + rng.normal(scale=1.2, size=flat.shape), rng.normal(size=400)])
    pts[:5, :2] = pts[5:10, :2] + 0.01  # a few degenerate and sliver triangles
    order = geometry.paint_order(pts, tri, cull=False)
    assert len(order) >= geometry.FEW_TRIANGLES
    shape = (120, 125)
    got = geometry.rasterise_ids(pts, tri, shape, order=order)
    want = _cv2_ids(pts, tri, shape, order)
    differ = np.argwhere(got != want)
    share = len(differ) / (want >= 0).sum()
    print(f"seed {seed}: {len(differ)} of {(want >= 0).sum()} px differ ({share:.1%})")
    assert share < 0.12  # pixels on shared edges: which neighbour wins is arbitrary
    # Every pixel where they differ lies within about a pixel of both triangles named.
    centres = differ[:, ::-1].astype(float)
    for ids in (got, want):
        named = ids[differ[:, 0], differ[:, 1]]
        has = named >= 0
        dist = _distance_to_triangle(centres[has], pts[tri[named[has]], :2])
        assert dist.max() <= 0.75
    # And both cover the same pixels, but for some along the outer edge.
    cover_diff = (got >= 0) != (want >= 0)
    assert cover_diff.sum() <= 0.01 * (want >= 0).sum()


def test_scanline_ids_cover_exactly_the_inside_of_a_big_triangle_and_respect_order() -> None:
    pts = np.array([[10.2, 5.3], [70.7, 20.1], [30.4, 66.8], [0, 0], [1, 0], [0, 1]], float)
    tri = np.array([[0, 1, 2]] + [[3, 4, 5]] * (geometry.FEW_TRIANGLES - 1) + [[0, 1, 2]])
    order = np.arange(len(tri))  # the big triangle drawn first and last: last wins
    ids = geometry.rasterise_ids(pts, tri, (80, 80), order=order)
    yy, xx = np.mgrid[0:80, 0:80]
    centres = np.column_stack([xx.ravel(), yy.ravel()]).astype(float)
    dist = _distance_to_triangle(centres, np.repeat(pts[None, :3], len(centres), 0))
    dist = dist.reshape(80, 80)
    assert (ids[dist == 0] == len(tri) - 1).all()  # every pixel centre inside
    assert (ids[dist > 0.75] != len(tri) - 1).all()  # nothing further out
    assert ids[0, 79] == -1


def test_triangle_map_leaves_slivers_to_their_neighbours() -> None:
    """A squeezed-shut strip (an eye closed to a tenth of a pixel) owns no pixel: its
    near-singular affine map would sample far away; the lids around it cover it."""
    upper = np.array([[10.0, 20.0], [50.0, 20.0], [30.0, 5.0]])
    lower = np.array([[10.0, 20.1], [50.0, 20.1], [30.0, 35.0]])
    pts = np.column_stack([np.concatenate([upper, lower]), np.zeros(6)])
    tri = geometry.orient(pts, np.array([[0, 1, 2], [3, 4, 5], [0, 1, 4], [0, 4, 3]]))
    tmap = geometry.triangle_map(pts, tri, (0, 0, 60, 40), cull=False)
    strip = [i for i, t in enumerate(tri) if set(t.tolist()) & {0, 1} and set(t.tolist()) & {3, 4}]
    assert len(strip) == 2 and not np.isin(tmap.ids, strip).any()
    assert (tmap.ids[20, 12:48] >= 0).all()  # the shut line itself is still covered


def test_remap_mesh_writes_into_a_view_of_the_frame() -> None:
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    src = np.array([[20.0, 20.0, 0], [50.0, 20.0, 0], [35.0, 45.0, 0]])
    dst = src + np.array([3.0, 1.0, 0.0])
    tri = np.array([[0, 1, 2]])
    tmap = geometry.triangle_map(dst, tri, (10, 10, 70, 55), cull=False)
    alone = geometry.remap_mesh(frame, src, dst, tri, tmap, fallback=geometry.IDENTITY_AFFINE)
    out = frame.copy()
    into = geometry.remap_mesh(
        frame, src, dst, tri, tmap, fallback=geometry.IDENTITY_AFFINE, into=out[10:55, 10:70]
    )
    assert np.shares_memory(into.image, out)
    assert np.array_equal(out[10:55, 10:70], alone.image)
    assert np.array_equal(out[:10], frame[:10]) and not np.array_equal(out, frame)


def test_remap_mesh_can_skip_the_coverage_mask() -> None:
    rng = np.random.default_rng(6)
    frame = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    src = np.array([[20.0, 20.0, 0], [50.0, 20.0, 0], [35.0, 45.0, 0]])
    tri = np.array([[0, 1, 2]])
    tmap = geometry.triangle_map(src + 2.0, tri, (0, 0, 80, 60), cull=False, map_step=2)
    full = geometry.remap_mesh(frame, src, src + 2.0, tri, tmap)
    bare = geometry.remap_mesh(frame, src, src + 2.0, tri, tmap, coverage=False)
    assert np.array_equal(full.image, bare.image) and full.coverage.any()
    assert bare.coverage.shape == (0, 0)
