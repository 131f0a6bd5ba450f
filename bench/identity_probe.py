"""How much of a face's shape the mesh model reads from the face itself.

The dub's shape check (tests/e2e/test_dub_quality.py) re-runs the face mesh on the
output and asks whether the geometry is closer to the character's photo than to the
reference person's. This probe measures the ceiling of any inner-face dub: the
character's own photo, unchanged (no expression, no recolouring), placed by a
similarity onto each sampled reference frame and pasted inside its own face outline,
or inside that outline grown upward (above the eyes: the hairline band) or downward
(below the nose tip). The same points, sampling and residual as the test. It
prints first how far apart the two people's shapes are and how far the reference's
own shape moves from frame to frame (pose and expression).

    python -m bench.identity_probe astronaut.png WolfgangLanger_Pexels.mp4 5
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from facedubd.pipeline import blend, dub, geometry
from facedubd.pipeline.face import FaceModels, FaceTracker, load_face_models, run_mesh
from facedubd.pipeline.face.frames import iter_video_frames, load_rgb
from facedubd.pipeline.face.mesh import roi_from_points
from facedubd.samples import sample_path

Points = npt.NDArray[np.float64]
Polygon = Callable[[Points], Points]
SAMPLE_EVERY = 4


def identity_points(character: dub.Character) -> npt.NDArray[np.int64]:
    """The test's point set: below the forehead limit, away from the lips and lids."""
    topo, free = character.topology, character.shape
    mouth = free[list(topo.mouth.loop)]
    width = float(np.ptp(mouth[:, 0]))
    near_mouth = np.linalg.norm(free[:, :2] - mouth.mean(axis=0)[:2], axis=1) < 0.75 * width
    lids = np.zeros(len(free), bool)
    lids[list(topo.right_eye.loop) + list(topo.left_eye.loop)] = True
    pasted = free[:, 1] > character.forehead_y + 0.05
    return np.nonzero(pasted & ~near_mouth & ~lids)[0]


def frame_rate(path: str) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=avg_frame_rate", "-of", "default=nw=1:nk=1", path],
        capture_output=True, check=True, text=True,
    ).stdout.strip()  # fmt: skip
    num, den = out.split("/")
    return float(num) / float(den)


def paste_photo(
    photo: np.ndarray, photo_points: Points, frame: np.ndarray, ref: Points,
    keep: npt.NDArray[np.int64], polygon_of: Polygon,
) -> tuple[np.ndarray, Points]:  # fmt: skip
    """The photo placed on the frame by the similarity of its identity points onto the
    reference's, pasted inside `polygon_of(placed points)`; also the placed points."""
    fit = geometry.procrustes(photo_points[keep], ref[keep])
    affine = np.hstack([fit.scale * fit.rotation[:2, :2], fit.translation[:2, None]])
    h, w = frame.shape[:2]
    placed = np.asarray(cv2.warpAffine(photo, affine, (w, h), flags=cv2.INTER_LINEAR), np.uint8)
    polygon = polygon_of(fit.apply(photo_points))
    alpha = blend.face_alpha((h, w), polygon, feather_px=4)
    return blend.alpha_blend(frame, placed, alpha), fit.apply(photo_points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo")
    parser.add_argument("video")
    parser.add_argument("seconds", type=float)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    models: FaceModels = load_face_models(device="cpu", threads=1)
    photo = load_rgb(sample_path(args.photo))
    video = sample_path(args.video)
    fps = frame_rate(str(video))
    frames = [f.copy() for f in iter_video_frames(video, max_frames=round(args.seconds * fps))]
    tracker = FaceTracker(models)
    meshes = [tracker.update(f) for f in frames]
    ref = [None if m is None else np.asarray(m.points, np.float64) for m in meshes]
    character = dub.build_character(models, photo)
    keep = identity_points(character)
    photo_points = dub.photo_points(character)
    free = character.shape
    outline = list(character.topology.outline)
    eye_y = float(free[[33, 263], 1].mean())
    nose_y = float(free[1, 1])

    def grown(select: npt.NDArray[np.bool_], factor: float) -> Polygon:
        def poly(placed: Points) -> Points:
            pts = placed[outline, :2].copy()
            centre = pts.mean(axis=0)
            pts[select] = centre + (pts[select] - centre) * factor
            return pts

        return poly

    upper = free[outline, 1] < eye_y
    lower = free[outline, 1] > nose_y
    variants = {
        "own outline": grown(np.zeros(len(outline), bool), 1.0),
        "upper band x1.2 (above the eyes)": grown(upper, 1.2),
        "lower band x1.2 (below the nose)": grown(lower, 1.2),
    }
    sampled = [i for i, m in enumerate(ref) if m is not None][::SAMPLE_EVERY]
    # How far apart the two people's shapes are, against how far the reference's own
    # shape moves between frames (pose and expression, which a dub's output shares).
    shapes = [m[keep] for m in (ref[i] for i in sampled) if m is not None]
    between = [geometry.procrustes_residual(photo_points[keep], m) for m in shapes]
    within = [geometry.procrustes_residual(shapes[0], m) for m in shapes[1:]]
    print(f"character vs reference, same frame: residual {np.min(between):.3f}-"
          f"{np.max(between):.3f} (median {np.median(between):.3f}); the reference vs its "
          f"first sampled frame: {np.min(within):.3f}-{np.max(within):.3f} "
          f"(median {np.median(within):.3f})")  # fmt: skip
    for name, poly in variants.items():
        wins, ratios = 0, []
        for i in sampled:
            r = ref[i]
            assert r is not None
            image, placed = paste_photo(photo, photo_points, frames[i], r, keep, poly)
            out = np.asarray(run_mesh(models.mesh, image, roi_from_points(placed)).points, float)
            to_char = geometry.procrustes_residual(out[keep], photo_points[keep])
            to_ref = geometry.procrustes_residual(out[keep], r[keep])
            wins += to_char < to_ref
            ratios.append(to_char / to_ref)
        print(f"photo pasted inside its {name}: closer to the character on "
              f"{wins / len(sampled):.0%} of {len(sampled)} frames, "
              f"median residual ratio char/ref {np.median(ratios):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
