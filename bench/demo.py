"""`python -m bench.demo [--quick]`: the face analysis of a real photo and real video
frames (until the full dubbing job takes its place here)."""

from __future__ import annotations

import argparse
import sys

from facedubd.pipeline.face import (
    FaceModels,
    FaceTracker,
    detect_faces,
    load_face_models,
    roi_from_detection,
    run_mesh,
)
from facedubd.pipeline.face import landmarks as lm
from facedubd.pipeline.face.frames import iter_video_frames, load_rgb
from facedubd.pipeline.face.mesh import Mesh
from facedubd.samples import sample_path

PHOTO = "astronaut.png"
VIDEO = "WolfgangLanger_Pexels.mp4"


def describe(mesh: Mesh) -> str:
    pose = lm.head_pose(mesh.points)
    right, left = lm.eye_openness(mesh.points)
    return (
        f"{len(mesh.points)} mesh points, presence {mesh.presence:.2f}, "
        f"yaw {pose.yaw:+.1f} pitch {pose.pitch:+.1f} roll {pose.roll:+.1f} deg, "
        f"eyes {right:.2f}/{left:.2f}, mouth {lm.mouth_opening(mesh.points):.2f}, "
        f"inter-ocular {lm.inter_ocular_distance(mesh.points):.1f} px"
    )


def photo_report(models: FaceModels) -> list[str]:
    rgb = load_rgb(sample_path(PHOTO))
    faces = detect_faces(models, rgb)
    lines = [f"{PHOTO} ({rgb.shape[1]}x{rgb.shape[0]}): {len(faces)} face(s)"]
    for i, face in enumerate(faces):
        box = ", ".join(f"{v:.0f}" for v in face.box)
        mesh = run_mesh(models.mesh, rgb, roi_from_detection(face))
        lines.append(f"  face {i}: score {face.score:.2f}, box ({box}); {describe(mesh)}")
    return lines


def video_report(models: FaceModels, frames: int) -> list[str]:
    tracker = FaceTracker(models)
    lines = [f"{VIDEO}: first {frames} frames, tracked"]
    for index, frame in enumerate(iter_video_frames(sample_path(VIDEO), max_frames=frames)):
        mesh = tracker.update(frame)
        if index % max(1, frames // 6) == 0:
            lines.append(f"  frame {index:3d}: " + ("no face" if mesh is None else describe(mesh)))
    lines.append(f"  detector ran on {tracker.detector_runs} of {tracker.frames} frames")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.demo", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer video frames")
    args = parser.parse_args(argv)
    models = load_face_models()
    print(f"face models on {models.provider}")
    print("\n".join(photo_report(models)))
    print("\n".join(video_report(models, 12 if args.quick else 96)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
