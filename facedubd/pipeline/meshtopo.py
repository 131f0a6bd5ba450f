"""Topology of the 468-point face mesh: its triangles with the eye and mouth holes
filled, the hole outlines, and lid / lip pairs. Pure functions of a triangle list and
one frontal set of points."""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter

import numpy as np
import numpy.typing as npt

from facedubd.pipeline import geometry

IntArray = npt.NDArray[np.int32]


def boundary_loops(triangles: npt.ArrayLike) -> list[list[int]]:
    """The closed outlines of a triangle mesh (edges used by one triangle only),
    each as an ordered list of vertices, longest first."""
    tri = np.asarray(triangles)
    counts: Counter[tuple[int, int]] = Counter()
    for a, b, c in tri.tolist():
        for u, v in ((a, b), (b, c), (c, a)):
            counts[(min(u, v), max(u, v))] += 1
    nexts: dict[int, list[int]] = {}
    for (u, v), n in counts.items():
        if n == 1:
            nexts.setdefault(u, []).append(v)
            nexts.setdefault(v, []).append(u)
    loops: list[list[int]] = []
    seen: set[int] = set()
    for start in sorted(nexts):
        if start in seen:
            continue
        loop = [start]
        seen.add(start)
        prev, cur = start, nexts[start][0]
        while cur != start and cur not in seen:
            loop.append(cur)
            seen.add(cur)
            options = [n for n in nexts[cur] if n != prev]
            prev, cur = cur, (options[0] if options else start)
        loops.append(loop)
    return sorted(loops, key=len, reverse=True)


@dataclasses.dataclass(frozen=True)
class Hole:
    """An opening of the mesh (an eye or the mouth), split at its two x-extreme corners
    into an upper and a lower chain, both running from the image-left corner to the
    image-right one."""

    loop: tuple[int, ...]
    upper: tuple[int, ...]
    lower: tuple[int, ...]

    @functools.cached_property
    def loop_array(self) -> IntArray:
        """`loop` as an index array, computed once."""
        return np.asarray(self.loop, dtype=np.int32)

    @functools.cached_property
    def pair_array(self) -> IntArray:
        """`pairs()` as an (n, 2) array, computed once."""
        return np.asarray(self.pairs(), dtype=np.int32).reshape(-1, 2)

    def pairs(self) -> list[tuple[int, int]]:
        """(upper, lower) vertex pairs facing each other, corners excluded."""
        up = self.upper[1:-1]
        lo = self.lower[1:-1]
        n = min(len(up), len(lo))
        if n == 0:
            return []
        ui = np.round(np.linspace(0, len(up) - 1, n)).astype(int)
        li = np.round(np.linspace(0, len(lo) - 1, n)).astype(int)
        return [(up[i], lo[j]) for i, j in zip(ui.tolist(), li.tolist(), strict=True)]

    def triangles(self) -> list[tuple[int, int, int]]:
        """A zipper strip that closes the hole, from corner to corner."""
        up, lo = list(self.upper), list(self.lower)
        out: list[tuple[int, int, int]] = []
        i = j = 0
        while i < len(up) - 1 or j < len(lo) - 1:
            advance_up = j >= len(lo) - 1 or (
                i < len(up) - 1 and (i + 1) / len(up) <= (j + 1) / len(lo)
            )
            if advance_up:
                out.append((up[i], up[i + 1], lo[j]))
                i += 1
            else:
                out.append((up[i], lo[j + 1], lo[j]))
                j += 1
        return [t for t in out if len(set(t)) == 3]


def split_hole(loop: list[int], frontal: npt.ArrayLike) -> Hole:
    pts = np.asarray(frontal, dtype=np.float64)
    xs = pts[loop, 0]
    a = int(np.argmin(xs))
    b = int(np.argmax(xs))
    ring = loop[a:] + loop[:a]
    b = (b - a) % len(loop)
    first = ring[: b + 1]
    second = [ring[0], *ring[b:][::-1]]
    if pts[first[1:-1], 1].mean() > pts[second[1:-1], 1].mean():
        first, second = second, first
    return Hole(tuple(loop), tuple(first), tuple(second))


@dataclasses.dataclass(frozen=True)
class Topology:
    """Triangles (front faces have positive signed area, see geometry.signed_areas),
    the face outline, and the three holes: right eye, left eye (subject's), mouth."""

    triangles: IntArray
    outline: tuple[int, ...]
    right_eye: Hole
    left_eye: Hole
    mouth: Hole

    @functools.cached_property
    def mouth_triangles(self) -> IntArray:
        """The triangles closing the mouth, computed once."""
        return np.asarray(self.mouth.triangles(), dtype=np.int32)

    @functools.cached_property
    def outline_array(self) -> IntArray:
        """`outline` as an index array, computed once."""
        return np.asarray(self.outline, dtype=np.int32)


def build_topology(triangles: npt.ArrayLike, frontal: npt.ArrayLike) -> Topology:
    """Close the eye and mouth holes of a mesh triangulation and orient every triangle
    so that it faces the camera in `frontal` (points of a face seen from the front)."""
    pts = np.asarray(frontal, dtype=np.float64)
    tri = np.asarray(triangles, dtype=np.int32)
    loops = boundary_loops(tri)
    if len(loops) < 4:
        raise ValueError(f"expected the outline and three holes, found {len(loops)} loops")
    holes = [split_hole(loop, pts) for loop in loops[1:4]]
    holes.sort(key=lambda h: float(pts[list(h.loop), 1].mean()))
    eyes = sorted(holes[:2], key=lambda h: float(pts[list(h.loop), 0].mean()))
    mouth = holes[2]
    # The majority winding of the original triangles in the frontal view is "front".
    sign = 1.0 if (geometry.signed_areas(pts, tri) > 0).mean() >= 0.5 else -1.0
    fronts = tri if sign > 0 else tri[:, [0, 2, 1]]
    fill = np.asarray([t for h in (*eyes, mouth) for t in h.triangles()], dtype=np.int32)
    fill = geometry.orient(pts, fill)
    return Topology(
        np.ascontiguousarray(np.concatenate([fronts, fill]), dtype=np.int32),
        tuple(loops[0]),
        eyes[0],
        eyes[1],
        mouth,
    )
