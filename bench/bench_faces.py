"""Face models: median ms per call with 1 and 2 intra-op threads, and how much tracking
from the previous mesh saves over running the detector on every frame."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np

from facedubd.pipeline.face import (
    FaceModels,
    FaceTracker,
    detect_faces,
    load_face_models,
    roi_from_detection,
    run_mesh,
)
from facedubd.pipeline.face.anchors import FULL_RANGE, SHORT_RANGE
from facedubd.pipeline.face.detect import letterbox, run_detector
from facedubd.pipeline.face.frames import iter_video_frames, load_rgb
from facedubd.pipeline.face.mesh import crop
from facedubd.samples import sample_path

VIDEO = "WolfgangLanger_Pexels.mp4"


def median_ms(call: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def model_rows(models: FaceModels, photo: np.ndarray, repeats: int) -> dict[str, float]:
    """Median ms of the bare session call for each model, and of the whole step."""
    short_in, _ = letterbox(photo, SHORT_RANGE.input_size)
    full_in, _ = letterbox(photo, FULL_RANGE.input_size)
    detection = run_detector(models.short, SHORT_RANGE, photo)[0]
    roi = roi_from_detection(detection)
    mesh_in = crop(photo, roi)

    def bare(session: object, tensor: np.ndarray) -> Callable[[], object]:
        name = session.get_inputs()[0].name  # type: ignore[attr-defined]
        return lambda: session.run(None, {name: tensor})  # type: ignore[attr-defined]

    return {
        "short-range detector (model)": median_ms(bare(models.short, short_in), repeats),
        "full-range detector (model)": median_ms(bare(models.full, full_in), repeats),
        "mesh (model)": median_ms(bare(models.mesh, mesh_in), repeats),
        "detect_faces, short range (whole step)": median_ms(
            lambda: detect_faces(models, photo, small=False), repeats
        ),
        "detect_faces, full range (whole step)": median_ms(
            lambda: detect_faces(models, photo, small=True), repeats
        ),
        "run_mesh (crop + model + map back)": median_ms(
            lambda: run_mesh(models.mesh, photo, roi), repeats
        ),
    }


def detect_every_frame(models: FaceModels, frames: list[np.ndarray]) -> int:
    found = 0
    for frame in frames:
        faces = detect_faces(models, frame)
        if faces:
            run_mesh(models.mesh, frame, roi_from_detection(faces[0]))
            found += 1
    return found


def tracking_rows(models: FaceModels, frames: list[np.ndarray], chunk: int = 24) -> list[str]:
    """Time both ways on alternating chunks of frames, so that a change in the machine's
    load hits both alike; the tracker keeps its state from chunk to chunk."""
    tracker = FaceTracker(models)
    every = tracked = 0.0
    for start in range(0, len(frames), chunk):
        part = frames[start : start + chunk]
        began = time.perf_counter()
        detect_every_frame(models, part)
        every += time.perf_counter() - began
        began = time.perf_counter()
        for frame in part:
            tracker.update(frame)
        tracked += time.perf_counter() - began
    n = len(frames)
    return [
        f"frames: {n} of {VIDEO} (640x360), 1 thread",
        f"detect + mesh every frame: {every / n * 1000:.2f} ms/frame",
        f"tracking from the previous mesh: {tracked / n * 1000:.2f} ms/frame "
        f"(detector on {tracker.detector_runs} of {n} frames)",
        f"speed-up of tracking: {every / tracked:.2f}x",
    ]


def run(quick: bool) -> str:
    cv2.setNumThreads(1)
    repeats = 15 if quick else 200
    photo = load_rgb(sample_path("astronaut.png"))
    by_threads = {t: model_rows(load_face_models("cpu", threads=t), photo, repeats) for t in (1, 2)}
    one = load_face_models("cpu", threads=1)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [
        f"provider: {one.provider}; {os.cpu_count()} CPUs, load average {load}",
        f"median ms per call over {repeats} calls (astronaut.png)",
    ]
    lines.append(f"{'':<42}{'1 thread':>10}{'2 threads':>11}")
    for key in by_threads[1]:
        lines.append(f"{key:<42}{by_threads[1][key]:>10.2f}{by_threads[2][key]:>11.2f}")
    frames = list(iter_video_frames(sample_path(VIDEO), max_frames=48 if quick else 240))
    lines.extend(tracking_rows(one, frames))
    return "\n".join(lines)
